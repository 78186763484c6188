"""``tmr group``: open, add register/upload/delete commands, execute, status, from the shell."""

from __future__ import annotations

import json

from tests.e2e.test_cli import _env, _run
from tests.support.zips import hf_zip


def test_tmr_group_open_add_execute_status(tmp_path, hf_replay, github_replay):
    env = {**_env(tmp_path, hf_replay, github_replay), "TMR_INGEST_GATE": "off"}
    made = _run(["ingest", "https://huggingface.co/microsoft/resnet-50", "--name", "old"], env)
    assert made.returncode == 0, made.stderr
    old_id = made.stdout.split("\t")[0]
    opened = _run(["group", "open"], env)
    assert opened.returncode == 0, opened.stderr
    gid = opened.stdout.strip()
    bundle = tmp_path / "in-house.zip"
    bundle.write_bytes(hf_zip(name="in-house"))
    for command in (
        ["register", "https://huggingface.co/datasets/rajpurkar/squad", "--type", "dataset"],
        ["upload", str(bundle), "--type", "model", "--name", "in-house"],
        ["delete", old_id, "--type", "model"],
    ):
        added = _run(["group", "add", gid, *command], env)
        assert added.returncode == 0, added.stderr
    bad = _run(["group", "add", gid, "delete", "4040404040404040", "--type", "model"], env)
    assert bad.returncode == 1 and "4040404040404040" in bad.stderr
    before = json.loads(_run(["group", "status", gid], env).stdout)
    assert before["status"] == "open" and len(before["commands"]) == 3

    done = _run(["group", "execute", gid], env)
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert [(op, type_, name) for _, op, _, type_, name in lines] == [
        ("register", "dataset", "squad"),
        ("upload", "model", "in-house"),
        ("delete", "model", "old"),
    ]
    after = json.loads(_run(["group", "status", gid], env).stdout)
    assert after["status"] == "committed" and len(after["results"]) == 3
    again = _run(["group", "execute", gid], env)
    assert again.returncode == 1 and "executes once" in again.stderr
    assert _run(["audit-verify"], env).returncode == 0
