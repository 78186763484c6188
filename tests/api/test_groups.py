"""Atomic groups (REQUIREMENTS §1.7) on both backends: open, append validated commands, execute.

Every change of a group becomes visible together or none does: the failure modes (an upstream
404, an ingest-gate refusal, a bad zip, a blob-store failure in the middle of staging) leave no
row, no blob and no audit entry behind (tests/support/consistency.py checks the stores), and
readers polling during an execution see the registry before or after it, never between.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import login
from tests.support.consistency import problems
from tests.support.group_services import replay_settings
from tests.support.zips import hf_zip, upload
from tmr.storage.db.tables import AuditRow

BERT = "https://huggingface.co/google-bert/bert-base-uncased"
TINY = "https://huggingface.co/arnir0/Tiny-LLM"
SQUAD = "https://huggingface.co/datasets/rajpurkar/squad"
MISSING = "https://huggingface.co/nobody-here/no-such-model"


@pytest.fixture
def storage(backend: dict[str, object]) -> dict[str, object]:
    """Every test here runs on SQLite + files and on PostgreSQL + SeaweedFS S3."""
    return backend


@pytest.fixture
def app_for(make_settings, hf_replay, github_replay) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    made: list[TestClient] = []

    def build(**overrides: object) -> TestClient:
        from tmr.app import create_app

        values = replay_settings(hf_replay, github_replay)
        values.update(overrides)
        client = TestClient(create_app(make_settings(**values)), raise_server_exceptions=False)
        client.__enter__()
        made.append(client)
        return client

    yield build
    for client in made:
        client.__exit__(None, None, None)
        client.app.state.registry.db.dispose()  # type: ignore[attr-defined]


def registry_of(c: TestClient) -> Any:
    return c.app.state.registry  # type: ignore[attr-defined]


def names(c: TestClient, auth: dict[str, str]) -> set[str]:
    return {a["name"] for a in c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json()}


def open_group(c: TestClient, auth: dict[str, str]) -> str:
    r = c.post("/groups", headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "open" and r.json()["expires_at"]
    return str(r.json()["id"])


def add(c: TestClient, auth: dict[str, str], gid: str, **command: object) -> Any:
    return c.post(f"/groups/{gid}/commands", headers=auth, json=command)


def add_upload(
    c: TestClient, auth: dict[str, str], gid: str, name: str, body: bytes | None = None,
    type_: str = "dataset",
) -> Any:  # fmt: skip
    return c.post(
        f"/groups/{gid}/commands/upload",
        headers=auth,
        data={"type": type_, "name": name},
        files={"file": (f"{name}.zip", body or hf_zip(name=name), "application/zip")},
    )


def state(c: TestClient) -> tuple[set[str], set[str], int]:
    """Artifact ids, blob keys and audit entries: what a failed group must leave unchanged."""
    reg = registry_of(c)
    with reg.db.read() as s:
        audit = len(list(s.scalars(select(AuditRow.seq))))
        from tmr.storage.db.tables import ArtifactRow

        ids = set(s.scalars(select(ArtifactRow.id)))
    keys = {b.key for b in reg.blobs.list("") if not b.key.startswith("groups/")}
    return ids, keys, audit


# --- the happy path ---------------------------------------------------------------------------
def test_a_group_registers_uploads_updates_and_deletes_in_one_step(app_for):
    c = app_for()
    auth = {"X-Authorization": login(c)}
    kept = upload(c, auth, "dataset", name="kept")["metadata"]
    doomed = upload(c, auth, "dataset", name="doomed")["metadata"]
    gid = open_group(c, auth)
    assert add(c, auth, gid, op="register", type="model", url=BERT, name="bert").status_code == 201
    assert add_upload(c, auth, gid, "uploaded", type_="model").status_code == 201
    r = add(c, auth, gid, op="update", id=kept["id"], url=SQUAD, name="kept")
    assert r.status_code == 201, r.text
    r = add(c, auth, gid, op="delete", type="dataset", id=doomed["id"])
    assert r.status_code == 201 and r.json()["position"] == 4
    status = c.get(f"/groups/{gid}", headers=auth).json()
    assert [x["op"] for x in status["commands"]] == ["register", "upload", "update", "delete"]
    assert names(c, auth) == {"kept", "doomed"}  # nothing happens before execute

    r = c.post(f"/groups/{gid}/execute", headers=auth)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "committed"
    assert [x["artifact"]["name"] for x in done["results"]] == [
        "bert",
        "uploaded",
        "kept",
        "doomed",
    ]
    assert names(c, auth) == {"bert", "uploaded", "kept"}
    found = c.post("/artifact/byRegEx", headers=auth, json={"regex": "uploaded|doomed"}).json()
    assert [a["name"] for a in found] == ["uploaded"]  # the search index follows the commit
    updated = c.get(f"/artifacts/dataset/{kept['id']}", headers=auth).json()
    assert updated["data"]["url"] == SQUAD
    with registry_of(c).db.read() as s:
        details = {
            d for d in s.scalars(select(AuditRow.detail).where(AuditRow.detail.is_not(None)))
        }
    assert f"group {gid}" in details  # every change's audit entry names the group
    assert problems(registry_of(c)) == []
    assert list(registry_of(c).blobs.list(f"groups/{gid}/")) == []  # the kept zip went


# --- validation when appended ------------------------------------------------------------------
def test_bad_commands_are_refused_when_appended_with_a_clear_4xx(app_for):
    c = app_for(group_max_commands=2)
    auth = {"X-Authorization": login(c)}
    mine = upload(c, auth, "dataset", name="mine")["metadata"]
    gid = open_group(c, auth)
    cases = [
        ({"op": "frobnicate", "type": "model", "url": BERT}, 400, "op"),
        ({"op": "register", "type": "spaceship", "url": BERT}, 400, "type"),
        ({"op": "register", "type": "model", "url": "ftp://example.com/x"}, 400, "http"),
        ({"op": "register", "type": "model", "url": "not a url"}, 400, "not a url"),
        ({"op": "register", "type": "dataset", "url": BERT, "sensitive": True}, 400, "models"),
        ({"op": "update", "id": "4040404040404040", "url": BERT}, 404, "4040404040404040"),
        ({"op": "update", "id": mine["id"], "url": SQUAD, "name": "other"}, 400, "match"),
        ({"op": "delete", "type": "model", "id": mine["id"]}, 404, mine["id"]),
    ]
    for command, status, said in cases:
        r = add(c, auth, gid, **command)
        assert r.status_code == status, (command, r.text)
        assert said in r.json()["message"], (command, r.text)
    bad = add_upload(c, auth, gid, "broken", body=b"PK\x03\x04 this is not a zip")
    assert bad.status_code == 400 and "zip" in bad.json()["message"], bad.text
    assert c.get(f"/groups/{gid}", headers=auth).json()["commands"] == []
    assert list(registry_of(c).blobs.list(f"groups/{gid}/")) == []

    assert add(c, auth, gid, op="delete", type="dataset", id=mine["id"]).status_code == 201
    twice = add(c, auth, gid, op="update", id=mine["id"], url=SQUAD)
    assert twice.status_code == 409 and "one command per artifact" in twice.json()["message"]
    assert add(c, auth, gid, op="register", type="model", url=BERT).status_code == 201
    full = add(c, auth, gid, op="register", type="code", url=BERT)
    assert full.status_code == 413 and "2 commands" in full.json()["message"]
    assert add(c, auth, "nosuchgroup", op="register", type="model", url=BERT).status_code == 404
    empty = open_group(c, auth)
    r = c.post(f"/groups/{empty}/execute", headers=auth)
    assert r.status_code == 400 and "no commands" in r.json()["message"]


def test_executing_twice_is_refused_and_a_finished_group_takes_no_commands(app_for):
    c = app_for()
    auth = {"X-Authorization": login(c)}
    gid = open_group(c, auth)
    assert add_upload(c, auth, gid, "once").status_code == 201
    assert c.post(f"/groups/{gid}/execute", headers=auth).status_code == 200
    again = c.post(f"/groups/{gid}/execute", headers=auth)
    assert again.status_code == 409 and "executes once" in again.json()["message"]
    late = add_upload(c, auth, gid, "late")
    assert late.status_code == 409 and "committed" in late.json()["message"]
    assert names(c, auth) == {"once"}


def test_two_concurrent_executes_one_wins_the_other_is_409(app_for):
    c = app_for()
    auth = {"X-Authorization": login(c)}
    gid = open_group(c, auth)
    for i in range(3):
        assert add_upload(c, auth, gid, f"race-{i}").status_code == 201
    answers: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                c.post(f"/groups/{gid}/execute", headers=auth).status_code
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409]
    assert names(c, auth) == {"race-0", "race-1", "race-2"}
    assert problems(registry_of(c)) == []


def test_an_abandoned_group_expires_and_answers_410(app_for):
    c = app_for(group_ttl_seconds=0.5)
    auth = {"X-Authorization": login(c)}
    gid = open_group(c, auth)
    assert add_upload(c, auth, gid, "abandoned").status_code == 201
    assert list(registry_of(c).blobs.list(f"groups/{gid}/"))  # the zip waits in the store
    time.sleep(0.7)
    late = add_upload(c, auth, gid, "too-late")
    assert late.status_code == 410 and "expired" in late.json()["message"], late.text
    assert c.post(f"/groups/{gid}/execute", headers=auth).status_code == 410
    status = c.get(f"/groups/{gid}", headers=auth).json()
    assert status["status"] == "expired"
    assert list(registry_of(c).blobs.list(f"groups/{gid}/")) == []
    assert names(c, auth) == set()
    # the sweeper expires the ones nobody asks about again
    other = open_group(c, auth)
    assert add_upload(c, auth, other, "forgotten").status_code == 201
    time.sleep(0.7)
    c.app.state.services.sweeper.sweep()  # type: ignore[attr-defined]
    assert list(registry_of(c).blobs.list(f"groups/{other}/")) == []
    assert problems(registry_of(c), after_sweep=True) == []


def test_a_reset_clears_groups_and_their_kept_zips(app_for):
    c = app_for()
    auth = {"X-Authorization": login(c)}
    gid = open_group(c, auth)
    assert add_upload(c, auth, gid, "pending").status_code == 201
    assert list(registry_of(c).blobs.list(f"groups/{gid}/"))
    assert c.delete("/reset", headers=auth).status_code == 200
    auth = {"X-Authorization": login(c)}
    assert c.get(f"/groups/{gid}", headers=auth).status_code == 404
    assert c.post(f"/groups/{gid}/execute", headers=auth).status_code == 404
    assert list(registry_of(c).blobs.list("groups/")) == []
    assert problems(registry_of(c), after_sweep=True) == []
