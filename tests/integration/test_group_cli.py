"""``tmr group …`` (commands/groups.py) run in-process through ``tmr.cli.main``, against a data
folder of its own and the upstream replays: open, add each kind of command, status as JSON,
execute (one line per change), and the refusals (exit 1 with the reason on stderr)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.zips import hf_zip
from tmr.cli import main

RESNET = "https://huggingface.co/microsoft/resnet-50"
BERT = "https://huggingface.co/google-bert/bert-base-uncased"
SQUAD = "https://huggingface.co/datasets/rajpurkar/squad"


@pytest.fixture
def tmr(upstream_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):  # type: ignore[no-untyped-def]
    """``tmr(*argv)`` → (exit code, stdout, stderr)."""
    monkeypatch.setenv("TMR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TMR_INGEST_GATE", "off")

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_tmr_group_open_add_status_execute(tmr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = tmr("ingest", RESNET, "--name", "old")
    assert code == 0, err
    old_id = out.split("\t")[0]
    code, out, err = tmr("ingest", SQUAD, "--type", "dataset", "--name", "doomed")
    assert code == 0, err
    doomed_id = out.split("\t")[0]
    code, out, err = tmr("group", "open")
    assert code == 0, err
    gid = out.strip()
    assert len(gid) == 20 and int(gid, 16) >= 0
    bundle = tmp_path / "in-house.zip"
    bundle.write_bytes(hf_zip(name="in-house"))
    for command, printed in [
        (["register", SQUAD, "--type", "dataset", "--name", "squad"], "1\tregister\tdataset"),
        (["upload", str(bundle), "--type", "model", "--name", "in-house"], "2\tupload\tmodel"),
        (["update", old_id, BERT, "--name", "old"], "3\tupdate\tmodel"),
        (["delete", doomed_id, "--type", "dataset"], "4\tdelete\tdataset"),
    ]:
        code, out, err = tmr("group", "add", gid, *command)
        assert (code, out.strip()) == (0, printed), err

    code, out, err = tmr("group", "status", gid)
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["id"], shown["status"], shown["reason"], shown["results"]) == (
        gid, "open", None, [],
    )  # fmt: skip
    assert shown["created_by"] == "ece30861defaultadminuser" and shown["expires_at"]
    assert shown["commands"] == [
        {"position": 1, "op": "register", "type": "dataset", "id": None, "url": SQUAD,
         "name": "squad", "filename": None},
        {"position": 2, "op": "upload", "type": "model", "id": None, "url": None,
         "name": "in-house", "filename": "in-house.zip"},
        {"position": 3, "op": "update", "type": "model", "id": old_id, "url": BERT,
         "name": "old", "filename": None},
        {"position": 4, "op": "delete", "type": "dataset", "id": doomed_id, "url": None,
         "name": "doomed", "filename": None},
    ]  # fmt: skip

    code, out, err = tmr("group", "execute", gid)
    assert code == 0, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(p, op, type_, name) for p, op, _, type_, name in lines] == [
        ("1", "register", "dataset", "squad"),
        ("2", "upload", "model", "in-house"),
        ("3", "update", "model", "old"),
        ("4", "delete", "dataset", "doomed"),
    ]
    assert [line[2] for line in lines][2:] == [old_id, doomed_id]
    code, out, err = tmr("group", "status", gid)
    done = json.loads(out)
    assert done["status"] == "committed"
    assert [(r["position"], r["op"], r["id"], r["type"], r["name"]) for r in done["results"]] == [
        (int(p), op, id_, type_, name) for p, op, id_, type_, name in lines
    ]
    code, out, err = tmr("group", "execute", gid)
    assert (code, out) == (1, "")
    assert err == (
        f"tmr group: group {gid} is committed: a group executes once, and commands can be "
        "appended only while it is open\n"
    )
    assert tmr("audit-verify")[0] == 0


def test_tmr_group_refusals_exit_1_with_the_reason(tmr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gid = tmr("group", "open")[1].strip()
    missing = tmp_path / "nowhere.zip"
    assert tmr("group", "add", gid, "upload", str(missing)) == (
        1, "", f"tmr group: no zip file at {missing}\n",
    )  # fmt: skip
    code, out, err = tmr("group", "add", gid, "delete", "4040404040404040", "--type", "model")
    assert (code, out) == (1, "") and err.startswith("tmr group: ") and "4040404040404040" in err
    code, out, err = tmr("group", "add", gid, "register", "ftp://example.com/x")
    assert (code, out) == (1, "") and err.startswith("tmr group: ")
    assert tmr("group", "status", "nope") == (1, "", "tmr group: no group with id nope\n")
    assert tmr("group", "execute", gid) == (
        1, "", f"tmr group: group {gid} has no commands yet; append some, then execute\n",
    )  # fmt: skip
    assert json.loads(tmr("group", "status", gid)[1])["commands"] == []
    with pytest.raises(SystemExit):  # argparse: --type is required for a delete
        main(["group", "add", gid, "delete", "4040404040404040"])
