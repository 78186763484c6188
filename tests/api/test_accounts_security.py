"""Accounts, the security log, the keyed audit chains, names, file modes and error-body leaks
(issue 7's findings, one regression test each)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import ADMIN, ADMIN_PASSWORD, login
from tests.support.zips import hf_zip, upload


def _user(client, auth, name: str, perms: list[str], password: str = "s3cret-pass") -> dict:  # type: ignore[no-untyped-def]
    r = client.post(
        "/users", headers=auth, json={"name": name, "password": password, "permissions": perms}
    )
    assert r.status_code == 201, r.text
    return {"X-Authorization": login(client, name, password, False)}


def _events(client, auth, action: str) -> list[dict]:  # type: ignore[no-untyped-def]
    r = client.get("/audit/security", headers=auth, params={"action": action, "limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json())


# --- ownership (finding: a search+download user repointed and deleted the admin's model) ---
def test_only_owner_or_admin_update_and_delete_and_the_trail_outlives_the_artifact(client, auth):
    bob = _user(client, auth, "bob", ["search", "download", "upload"])
    made = upload(client, auth, "model", name="admins-model")["metadata"]
    body = {
        "metadata": made,
        "data": {"url": "https://huggingface.co/someone/else"},
    }
    r = client.put(f"/artifacts/model/{made['id']}", headers=bob, json=body)
    assert r.status_code == 401 and "owner" in r.json()["message"]
    r = client.delete(f"/artifacts/model/{made['id']}", headers=bob)
    assert r.status_code == 401
    assert client.get(f"/artifact/model/{made['id']}/audit", headers=bob).status_code == 401
    denied = _events(client, auth, "DENIED")
    assert {e["actor"] for e in denied} == {"bob"} and len(denied) == 3
    # bob's own artifact is his to delete; the admin may delete anything
    mine = upload(client, bob, "model", name="bobs-model")["metadata"]
    assert client.delete(f"/artifacts/model/{mine['id']}", headers=bob).status_code == 200
    assert client.delete(f"/artifacts/model/{made['id']}", headers=auth).status_code == 200
    trail = client.get(f"/artifact/model/{made['id']}/audit", headers=auth)
    assert trail.status_code == 200
    assert [e["action"] for e in trail.json()][:1] == ["CREATE"]
    deletes = _events(client, auth, "ARTIFACT_DELETE")
    assert [(e["actor"], e["subject"]) for e in deletes] == [
        ("bob", f"model/{mine['id']}"),
        (ADMIN, f"model/{made['id']}"),
    ]


# --- accounts -----------------------------------------------------------------------------
def test_change_own_password_revokes_other_tokens_and_needs_the_old_one(client, auth):
    carol = _user(client, auth, "carol", ["search"])
    other = {"X-Authorization": login(client, "carol", "s3cret-pass", False)}
    r = client.put(
        "/account/password",
        headers=carol,
        json={"current_password": "wrong-one", "new_password": "n3w-secret"},
    )
    assert r.status_code == 401 and "current password" in r.json()["message"]
    r = client.put(
        "/account/password",
        headers=carol,
        json={"current_password": "s3cret-pass", "new_password": "n3w-secret"},
    )
    assert r.status_code == 200, r.text
    assert client.post("/artifacts", headers=carol, json=[{"name": "*"}]).status_code == 200
    assert client.post("/artifacts", headers=other, json=[{"name": "*"}]).status_code == 403
    bad = client.put(
        "/authenticate",
        json={"user": {"name": "carol", "is_admin": False}, "secret": {"password": "s3cret-pass"}},
    )
    assert bad.status_code == 401
    assert login(client, "carol", "n3w-secret", False)
    assert [e["subject"] for e in _events(client, auth, "PASSWORD_CHANGE")] == ["carol"]


def test_tokens_are_listed_without_secrets_and_revocable_and_logout_revokes(client, auth):
    dan = _user(client, auth, "dan", ["search"])
    second = login(client, "dan", "s3cret-pass", False)
    listed = client.get("/account/tokens", headers=dan).json()
    assert len(listed) == 2
    assert set(listed[0]) == {"id", "issued_at", "expires_at", "calls_left", "current"}
    assert [t["current"] for t in listed] == [True, False]  # the one this request carries
    secret_parts = {dan["X-Authorization"].split()[1], second.split()[1]}
    assert not any(s in str(listed) for s in secret_parts)
    # revoke the second token by id
    ids = [t["id"] for t in listed]
    revoked_id = ids[1]
    r = client.delete(f"/account/tokens/{revoked_id}", headers=dan)
    assert r.status_code == 200
    gone = client.post("/artifacts", headers={"X-Authorization": second}, json=[{"name": "*"}])
    assert gone.status_code == 403
    remaining = client.get("/account/tokens", headers=dan).json()
    assert [t["id"] for t in remaining] == [ids[0]]
    # someone else's token id is not yours to revoke
    eve = _user(client, auth, "eve", ["search"])
    theirs = client.delete(f"/account/tokens/{ids[0]}", headers=eve)
    assert theirs.status_code == 404
    assert theirs.json()["message"] == f"you have no token with id {ids[0]!r}"
    # logout revokes the token used
    assert client.post("/logout", headers=dan).status_code == 200
    assert client.post("/artifacts", headers=dan, json=[{"name": "*"}]).status_code == 403
    assert {e["action"] for e in client.get("/audit/security", headers=auth).json()} >= {
        "TOKEN_REVOKE",
        "LOGOUT",
    }


def test_revoked_second_token_is_refused(client, auth):
    fay = _user(client, auth, "fay", ["search"])
    second = {"X-Authorization": login(client, "fay", "s3cret-pass", False)}
    assert client.post("/artifacts", headers=second, json=[{"name": "*"}]).status_code == 200
    (current, other) = client.get("/account/tokens", headers=fay).json()
    client.delete(f"/account/tokens/{other['id']}", headers=fay)
    assert client.post("/artifacts", headers=second, json=[{"name": "*"}]).status_code == 403


def test_admin_disables_and_enables_users_and_resets_passwords(client, auth):
    gus = _user(client, auth, "gus", ["search"])
    assert client.post("/artifacts", headers=gus, json=[{"name": "*"}]).status_code == 200
    r = client.post("/users/gus/disable", headers=auth)
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert client.post("/artifacts", headers=gus, json=[{"name": "*"}]).status_code == 403
    refused = client.put(
        "/authenticate",
        json={"user": {"name": "gus", "is_admin": False}, "secret": {"password": "s3cret-pass"}},
    )
    assert refused.status_code == 401
    default_admin = client.post(f"/users/{ADMIN}/disable", headers=auth)
    assert default_admin.status_code == 400
    assert default_admin.json()["message"] == "the default administrator cannot be disabled"
    for unknown in (
        client.post("/users/nobody-here/disable", headers=auth),
        client.put("/users/nobody-here/password", headers=auth,
                   json={"new_password": "reset-pass-1"}),
    ):  # fmt: skip
        assert unknown.status_code == 404
        assert unknown.json()["message"] == "no user named 'nobody-here'"
    assert client.post("/users/gus/enable", headers=auth).json()["disabled"] is False
    again = {"X-Authorization": login(client, "gus", "s3cret-pass", False)}
    r = client.put("/users/gus/password", headers=auth, json={"new_password": "reset-pass-1"})
    assert r.status_code == 200
    assert client.post("/artifacts", headers=again, json=[{"name": "*"}]).status_code == 403
    assert login(client, "gus", "reset-pass-1", False)
    # users cannot do it to each other
    hal = _user(client, auth, "hal", ["search", "upload", "download"])
    assert client.post("/users/gus/disable", headers=hal).status_code == 401
    actions = [e["action"] for e in client.get("/audit/security", headers=auth).json()]
    for action in ("USER_CREATE", "USER_DISABLE", "USER_ENABLE", "PASSWORD_RESET", "DENIED"):
        assert action in actions


def test_logins_user_changes_and_resets_are_security_events_that_survive_reset(client, auth):
    client.put(
        "/authenticate",
        json={"user": {"name": "nobody", "is_admin": False}, "secret": {"password": "x"}},
    )
    _user(client, auth, "ida", [])
    assert client.delete("/users/ida", headers=auth).status_code == 200
    upload(client, auth, "model", name="before-reset")
    assert client.delete("/reset", headers=auth).status_code == 200
    events = client.get("/audit/security", headers=auth, params={"limit": 1000}).json()
    actions = [e["action"] for e in events]
    for action in ("LOGIN", "LOGIN_FAILED", "USER_CREATE", "USER_DELETE", "RESET"):
        assert action in actions, action
    failed = [e for e in events if e["action"] == "LOGIN_FAILED"]
    assert failed[0]["subject"] == "nobody" and failed[0]["client"]
    reset = [e for e in events if e["action"] == "RESET"][0]
    assert "1 audit entries" in reset["detail"] or "audit entries" in reset["detail"]
    registry = client.app.state.registry
    from tmr.storage.db.audit import AuditRepository, SecurityLogRepository

    with registry.db.read() as s:
        assert AuditRepository(s, registry.audit_key).verify().intact
        assert SecurityLogRepository(s, registry.audit_key).verify().intact


# --- default admin password file ----------------------------------------------------------
def test_admin_password_file_replaces_the_default_and_survives_a_reset(make_settings, tmp_path):
    from tmr.app import create_app

    secret = tmp_path / "admin.pw"
    secret.write_text("a-Deployment-Secret-9\n")
    with TestClient(create_app(make_settings(admin_password_file=secret))) as c:
        bad = c.put(
            "/authenticate",
            json={
                "user": {"name": ADMIN, "is_admin": True},
                "secret": {"password": ADMIN_PASSWORD},
            },
        )
        assert bad.status_code == 401
        auth = {"X-Authorization": login(c, ADMIN, "a-Deployment-Secret-9")}
        assert c.delete("/reset", headers=auth).status_code == 200
        assert login(c, ADMIN, "a-Deployment-Secret-9")
        assert (
            c.put(
                "/authenticate",
                json={
                    "user": {"name": ADMIN, "is_admin": True},
                    "secret": {"password": ADMIN_PASSWORD},
                },
            ).status_code
            == 401
        )


# --- names --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "position"),
    [
        ("ad\x00min", 2),
        ("bell\x07", 4),
        ("evil\u202etxt.exe", 4),
        ("admin\u200b", 5),
        ("\ufeffx", 0),
    ],
)
def test_invisible_characters_in_names_are_400_naming_the_position(client, auth, name, position):
    r = client.post("/users", headers=auth, json={"name": name, "password": "s3cret-pass"})
    assert r.status_code == 400, r.text
    assert f"position {position}" in r.json()["message"]
    r = client.post(
        "/artifact/model/upload",
        headers=auth,
        files={"file": ("m.zip", hf_zip(name="x"), "application/zip")},
        data={"name": name},
    )
    assert r.status_code == 400, r.text
    assert f"position {position}" in r.json()["message"]
    assert client.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []


# --- files 0600 ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite+file"], indirect=True)  # files of the SQLite database
def test_database_and_key_files_are_owner_only(settings, client):
    data = Path(settings.data_dir)
    for name in ("registry.db", "audit.key"):
        mode = stat.S_IMODE(os.stat(data / name).st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    assert not stat.S_IMODE(os.stat(data).st_mode) & 0o077


# --- error bodies -------------------------------------------------------------------------
def test_error_bodies_name_no_internal_paths_or_endpoints(client, auth, settings):
    made = upload(client, auth, "model", name="leaky")["metadata"]
    registry = client.app.state.registry
    # a missing blob (e.g. removed behind our back) once answered with the store's location
    for info in list(registry.blobs.list("artifacts/")):
        registry.blobs.delete(info.key)
    bodies = []
    for method, path in [
        ("GET", f"/download/{made['id']}/files/README.md"),
        ("GET", f"/download/{made['id']}"),
        ("GET", "/artifacts/model/999999"),
        ("POST", "/artifact/model"),
        ("GET", "/no/such/route"),
    ]:
        r = client.request(method, path, headers=auth, json={"url": "file:///etc/passwd"})
        bodies.append(r.text)
    data_dir = str(Path(settings.data_dir).resolve())
    for body in bodies:
        assert data_dir not in body and "file://" not in body and str(settings.data_dir) not in body
        assert "sqlite://" not in body


def test_redactor_hides_configured_locations(make_settings):
    from tmr.api.redact import Redactor

    s = make_settings(
        blob_url="s3://bucket/prefix",
        s3_endpoint_url="http://10.1.2.3:9000",
        hf_endpoint="http://127.0.0.1:5555",
    )
    r = Redactor(s)
    out = r.text(
        "blob 'x' not found in s3://bucket/prefix at http://10.1.2.3:9000/bucket; "
        f"hub http://127.0.0.1:5555/api/models/a; dir {s.data_dir.resolve()}/blobs"
    )
    assert "10.1.2.3" not in out and "bucket/prefix" not in out and "127.0.0.1" not in out
    assert str(s.data_dir.resolve()) not in out


# --- audit-verify is read-only and sees truncation ----------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("backend", ["sqlite+file"], indirect=True)  # reads the SQLite file
def test_audit_verify_writes_nothing_and_detects_removed_last_entries(settings, client, auth):
    upload(client, auth, "model", name="trail")
    registry = client.app.state.registry
    registry.db.dispose()
    from tmr.cli import main

    db_file = Path(settings.data_dir) / "registry.db"
    os.environ["TMR_DATA_DIR"] = str(settings.data_dir)
    try:
        with registry.db.engine.connect() as conn:  # fold the WAL into the file first
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        registry.db.dispose()
        before = (_digest(db_file), db_file.stat().st_mtime_ns)
        assert main(["audit-verify"]) == 0
        assert (_digest(db_file), db_file.stat().st_mtime_ns) == before
        # remove the newest entry of each chain: the checkpoints notice
        with registry.db.transaction() as s:
            s.execute(text("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)"))
        assert main(["audit-verify"]) == 1
        with registry.db.transaction() as s:
            s.execute(text("DELETE FROM audit_log"))
            s.execute(text("DELETE FROM security_log"))
        assert main(["audit-verify"]) == 1
    finally:
        del os.environ["TMR_DATA_DIR"]


# --- tmr user -----------------------------------------------------------------------------
def test_tmr_user_cli_manages_accounts_in_the_database(make_settings, storage, monkeypatch, capsys):
    import io

    from tests.conftest import backend_env
    from tmr.app import create_app
    from tmr.cli import main

    settings = make_settings()
    for var, value in backend_env(storage).items():  # the CLI finds the app's database
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("TMR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-pass-123\n"))
    assert main(["user", "add", "jo", "--permissions", "search", "--password-stdin"]) == 0
    assert main(["user", "disable", "jo"]) == 0
    assert main(["user", "list"]) == 0
    listing = capsys.readouterr().out
    assert "jo\tsearch\tdisabled" in listing and f"{ADMIN}\tadmin\tactive" in listing
    with TestClient(create_app(settings)) as c:
        refused = c.put(
            "/authenticate",
            json={
                "user": {"name": "jo", "is_admin": False},
                "secret": {"password": "cli-pass-123"},
            },
        )
        assert refused.status_code == 401
    assert main(["user", "enable", "jo"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-pass-456\n"))
    assert main(["user", "passwd", "jo", "--password-stdin"]) == 0
    with TestClient(create_app(settings)) as c:
        assert login(c, "jo", "cli-pass-456", False)
        admin = {"X-Authorization": login(c)}
        actors = {e["actor"] for e in _events(c, admin, "USER_CREATE")}
        assert any(a.startswith("cli:") for a in actors)
    assert main(["user", "delete", "jo"]) == 0
    assert main(["user", "delete", "jo"]) == 1
    assert "no user named 'jo'" in capsys.readouterr().err
