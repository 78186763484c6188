"""The ``tmr`` command in-process on both backends: ``tmr user …`` manages accounts in the
database directly (actor ``cli:<login>`` in the security log), ``tmr audit-verify`` checks the
keyed chains read-only, ``tmr ingest`` registers from a source URL, and each failure is an exit
status with a message on stderr."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from tests.conftest import backend_env
from tmr.cli import main
from tmr.composition import Registry, build_registry
from tmr.config import Settings, load_settings
from tmr.domain.security import SecurityAction
from tmr.services import auth as auth_module
from tmr.services.auth import DEFAULT_ADMIN


@pytest.fixture
def cli_env(backend, monkeypatch: pytest.MonkeyPatch) -> Settings:  # type: ignore[no-untyped-def]
    """The environment the CLI reads its settings from, on one backend; cheap Argon2."""
    monkeypatch.setattr(auth_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))
    for var, value in backend_env(backend).items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr("os.getlogin", lambda: "opsperson")
    return load_settings()


def _stdin(monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))


def _open(settings: Settings) -> Registry:
    return build_registry(settings)


def test_tmr_user_adds_lists_disables_enables_resets_and_deletes(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "cli-pass-123")
    assert main(["user", "add", "jo", "--permissions", "search,upload", "--password-stdin"]) == 0
    _stdin(monkeypatch, "cli-pass-123")
    assert main(["user", "add", "boss", "--admin", "--password-stdin"]) == 0
    assert main(["user", "disable", "jo"]) == 0
    assert main(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("added jo\nadded boss\njo disabled\n")
    listing = set(out.splitlines()[3:])
    assert listing == {f"{DEFAULT_ADMIN}\tadmin\tactive", "boss\tadmin\tactive",
                       "jo\tsearch,upload\tdisabled"}  # fmt: skip

    registry = _open(cli_env)
    try:
        with pytest.raises(auth_module.Unauthorized):  # disabled: its login is refused
            registry.auth.login("jo", False, "cli-pass-123")
        assert main(["user", "enable", "jo"]) == 0
        token = registry.auth.login("jo", False, "cli-pass-123")
        _stdin(monkeypatch, "cli-pass-456")
        assert main(["user", "passwd", "jo", "--password-stdin"]) == 0
        assert capsys.readouterr().out == (
            "jo enabled\npassword of jo set; their tokens are revoked\n")  # fmt: skip
        with pytest.raises(auth_module.Forbidden, match="the token is invalid or expired"):
            registry.auth.user_for_token(token)
        assert registry.auth.login("jo", False, "cli-pass-456")
        events = registry.security.page(0, 1000)
        by_cli = [(e.action, e.subject) for e in events if e.actor == "cli:opsperson"]
        assert by_cli == [
            (SecurityAction.USER_CREATE, "jo"),
            (SecurityAction.USER_CREATE, "boss"),
            (SecurityAction.USER_DISABLE, "jo"),
            (SecurityAction.USER_ENABLE, "jo"),
            (SecurityAction.PASSWORD_RESET, "jo"),
        ]
    finally:
        registry.db.dispose()

    assert main(["user", "delete", "jo"]) == 0
    assert capsys.readouterr().out == "deleted jo\n"
    assert main(["user", "delete", "jo"]) == 1
    assert capsys.readouterr().err == "tmr user: no user named 'jo'\n"
    assert main(["user", "disable", DEFAULT_ADMIN]) == 1
    assert "the default administrator cannot be disabled" in capsys.readouterr().err


def test_tmr_user_asks_for_the_password_twice(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["typed-pass-1", "typed-pass-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(SystemExit, match="tmr user: the passwords differ"):
        main(["user", "add", "kim"])
    answers = iter(["typed-pass-1", "typed-pass-1"])
    assert main(["user", "add", "kim"]) == 0
    assert capsys.readouterr().out == "added kim\n"
    registry = _open(cli_env)
    try:
        assert registry.auth.login("kim", False, "typed-pass-1").startswith("bearer ")
        (created,) = [e for e in registry.security.page(0, 100, SecurityAction.USER_CREATE)
                      if e.subject == "kim"]  # fmt: skip
        assert created.detail == "download,search"  # the default permissions
    finally:
        registry.db.dispose()


def test_the_cli_actor_falls_back_to_user_without_a_login_name(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_terminal() -> str:
        raise OSError("no controlling terminal")

    monkeypatch.setattr("os.getlogin", no_terminal)
    monkeypatch.setenv("USER", "cron-job")
    _stdin(monkeypatch, "cli-pass-123")
    assert main(["user", "add", "lee", "--permissions", "", "--password-stdin"]) == 0
    registry = _open(cli_env)
    try:
        (created,) = [e for e in registry.security.page(0, 100, SecurityAction.USER_CREATE)
                      if e.subject == "lee"]  # fmt: skip
        assert created.actor == "cli:cron-job" and created.detail == "none"
    finally:
        registry.db.dispose()


def test_audit_verify_reports_intact_chains_then_a_removed_entry(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "cli-pass-123")
    assert main(["user", "add", "mo", "--password-stdin"]) == 0
    capsys.readouterr()
    assert main(["audit-verify"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["artifacts", "security"]
    assert all(": intact, " in line for line in out)
    assert "security: intact, 1 entries" in out[1]

    registry = _open(cli_env)
    try:
        with registry.db.transaction() as s:  # the newest event removed: the checkpoint notices
            s.execute(text(
                "DELETE FROM security_log WHERE seq = (SELECT MAX(seq) FROM security_log)"))
    finally:
        registry.db.dispose()
    assert main(["audit-verify"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("artifacts: intact")
    assert captured.err.startswith("security: BROKEN: ")


def test_audit_verify_cannot_check_without_its_key_or_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TMR_DATA_DIR", str(tmp_path / "never-started"))
    assert main(["audit-verify"]) == 2
    assert capsys.readouterr().err.startswith("tmr audit-verify: cannot read the audit key: ")
    key = tmp_path / "audit.key"
    key.write_bytes(b"k" * 32)
    monkeypatch.setenv("TMR_AUDIT_KEY_FILE", str(key))
    assert main(["audit-verify"]) == 2
    assert capsys.readouterr().err == (
        f"tmr audit-verify: cannot read the audit key: the audit key file {key} does not hold a "
        "hex key\n")  # fmt: skip
    key.write_text("ab" * 32)
    assert main(["audit-verify"]) == 2  # read-only: it creates no database either
    err = capsys.readouterr().err
    assert err.startswith("tmr audit-verify: no database at ") and "registry.db" in err
    assert not (tmp_path / "never-started" / "registry.db").exists()


def test_tmr_ingest_registers_a_hub_model_and_names_a_failure(
    upstream_env: Settings, backend, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    for var, value in backend_env(backend).items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("TMR_INGEST_GATE", "off")
    monkeypatch.setenv("TMR_SANDBOX", "off")
    assert main(["ingest", "https://huggingface.co/microsoft/resnet-50", "--name", "r50"]) == 0
    artifact_id, type_, name = capsys.readouterr().out.strip().split("\t")
    assert (type_, name) == ("model", "r50") and artifact_id.isdigit()
    missing = "https://huggingface.co/nobody/no-such-model"
    assert main(["ingest", missing]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tmr ingest: ") and "no-such-model" in err
    assert main(["ingest", "https://github.com/google-research/bert", "--type", "code"]) == 0
    assert capsys.readouterr().out.strip().split("\t")[1:] == ["code", "bert"]

    registry = build_registry(load_settings())
    try:
        from tmr.composition import build_services

        catalog = build_services(registry).catalog
        (r50,) = catalog.by_name("r50")
        assert r50.id == artifact_id and r50.created_by == DEFAULT_ADMIN
    finally:
        registry.db.dispose()


def test_tmr_rate_group_and_bench_reach_their_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("TMR_DATA_DIR", str(tmp_path / "data"))
    absent = tmp_path / "absent.txt"
    assert main(["rate", str(absent)]) == 1
    assert "absent.txt" in capsys.readouterr().err
    assert main(["group", "open"]) == 0
    group_id = capsys.readouterr().out.strip()
    assert main(["group", "status", group_id]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["id"], status["status"], status["commands"]) == (group_id, "open", [])
    with pytest.raises(SystemExit) as done:
        main(["bench", "downloads", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tmr bench downloads") and "--clients" in out
    with pytest.raises(SystemExit) as refused:
        main(["bench", "uploads"])
    assert refused.value.code == 2
    assert "invalid choice: 'uploads'" in capsys.readouterr().err
