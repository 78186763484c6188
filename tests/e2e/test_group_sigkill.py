"""A served registry SIGKILLed in the middle of executing an atomic group, at several points, on
both backends, then restarted: after the sweeper ran, the stores are consistent
(tests/support/consistency.py: every row's blobs exist, no blob without a row, no audit entry
of a group that did not commit, both audit chains verify), every group that died before its
commit is ``failed`` with none of its changes visible, and the one killed after its commit has
all of them.

The window is made findable by groups of several uploads with many files each (staging takes a
while) plus an update and a delete of existing artifacts; the test watches the database and
kills the server when the group reaches each point: preparing (``executing``, nothing staged),
staging (two generations listed in ``group_blobs``), and committed (deleting what it replaced).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import backend_env
from tests.support.consistency import problems
from tests.support.served_process import ServedRegistry
from tests.support.upload_bodies import many_files_zip
from tmr.storage.db.engine import Database
from tmr.storage.db.tables import GroupBlobRow, GroupRow

LEASE = 8  # seconds without a heartbeat after which the sweeper fails an executing group


def _status(s: Session, gid: str) -> str | None:
    return s.scalar(select(GroupRow.status).where(GroupRow.id == gid))


def _preparing(s: Session, gid: str) -> bool:
    return _status(s, gid) == "executing"


def _staging(s: Session, gid: str) -> bool:
    rows = s.scalar(
        select(func.count()).select_from(GroupBlobRow).where(GroupBlobRow.group_id == gid)
    )
    return _status(s, gid) == "executing" and (rows or 0) >= 2


def _committed(s: Session, gid: str) -> bool:
    return _status(s, gid) == "committed"


POINTS: list[tuple[str, Callable[[Session, str], bool]]] = [
    ("preparing", _preparing),
    ("staging", _staging),
    ("committed", _committed),
]


class Client:
    def __init__(self, server: ServedRegistry) -> None:
        self.base = server.base
        self.auth = {"X-Authorization": server.token()}

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", headers=self.auth, timeout=120, **kwargs)  # type: ignore[arg-type]

    def upload(self, name: str, body: bytes, gid: str | None = None) -> httpx.Response:
        path = f"/groups/{gid}/commands/upload" if gid else "/artifact/dataset/upload"
        data = {"name": name, "type": "dataset"} if gid else {"name": name}
        return self.post(path, data=data, files={"file": (f"{name}.zip", body, "application/zip")})

    def names(self) -> set[str]:
        r = self.post("/artifacts", json=[{"name": "*"}])
        return {a["name"] for a in r.json()}


def _round(
    data: Path, env: dict[str, str], db: Database, point: str, watch
) -> tuple[str, set[str], str, str]:  # type: ignore[no-untyped-def]
    """One served registry, one group, one SIGKILL at ``point``; returns the group id, the names
    it would add, and the ids of the artifacts it updates and deletes."""
    server = ServedRegistry(data, **env).start()
    try:
        c = Client(server)
        existing = [
            c.upload(f"{point}-{k}", many_files_zip(f"{point}-{k}", 150)) for k in ("upd", "del")
        ]
        assert all(r.status_code == 201 for r in existing), [r.text for r in existing]
        updated, deleted = (r.json()["metadata"]["id"] for r in existing)
        gid = c.post("/groups").json()["id"]
        added = {f"{point}-new-{i}" for i in range(4)}
        for name in sorted(added):
            assert c.upload(name, many_files_zip(name, 250), gid).status_code == 201
        upd = c.post(
            f"/groups/{gid}/commands",
            json={
                "op": "update",
                "id": updated,
                "url": "https://huggingface.co/datasets/rajpurkar/squad",
            },
        )
        assert upd.status_code == 201, upd.text
        dele = c.post(
            f"/groups/{gid}/commands", json={"op": "delete", "type": "dataset", "id": deleted}
        )
        assert dele.status_code == 201, dele.text
        threading.Thread(
            target=_quietly, args=(c.post, f"/groups/{gid}/execute"), daemon=True
        ).start()
        deadline = time.time() + 120
        while True:
            with db.read() as s:
                if watch(s, gid):
                    break
            assert time.time() < deadline, f"the group never reached {point}"
            time.sleep(0.002)
        server.stop(signal.SIGKILL)
        return gid, added, updated, deleted
    finally:
        server.stop(signal.SIGKILL)


def _quietly(fn, *args):  # type: ignore[no-untyped-def]
    with contextlib.suppress(httpx.HTTPError):
        fn(*args)


def test_sigkill_during_group_execute_leaves_a_consistent_registry(
    backend, tmp_path, hf_replay, github_replay
):  # type: ignore[no-untyped-def]
    from tmr.composition import build_registry
    from tmr.config import load_settings

    data = Path(str(backend["data_dir"]))
    env = {
        **backend_env(backend),
        "TMR_INGEST_GATE": "off",
        "TMR_GROUP_LEASE_SECONDS": str(LEASE),
        "HF_ENDPOINT": hf_replay,
        "GITHUB_API_URL": github_replay,
        "TMR_ALLOW_PRIVATE_UPSTREAM": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    # the stores and keys the servers will share; this process only reads through them
    registry = build_registry(load_settings(**backend, log_level=0))
    db = registry.db
    try:
        rounds = []
        for point, watch in POINTS:
            rounds.append((point, *_round(data, env, db, point, watch)))
            left = problems(registry, after_sweep=True)
            if point != "committed":  # the kill left traces: a group executing and (staging) blobs
                assert f"group {rounds[-1][1]} still executing" in left, left
            if point == "staging":
                assert any("blob without a row" in p for p in left), left
        # restart: the sweeper runs at start-up and every second; dead executions fail after LEASE
        server = ServedRegistry(data, **env, TMR_SWEEP_INTERVAL_SECONDS="1").start()
        try:
            deadline = time.time() + LEASE + 60
            while True:
                with db.read() as s:
                    executing = s.scalar(
                        select(func.count())
                        .select_from(GroupRow)
                        .where(GroupRow.status == "executing")
                    )
                    listed = s.scalar(select(func.count()).select_from(GroupBlobRow))
                if not executing and not listed:
                    break
                assert time.time() < deadline, f"{executing} executing, {listed} prefixes listed"
                time.sleep(0.5)
            c = Client(server)
            visible = c.names()
            for point, gid, added, updated, _deleted in rounds:
                with db.read() as s:
                    status = _status(s, gid)
                if point == "committed":
                    assert status == "committed"
                    assert added <= visible and f"{point}-del" not in visible
                else:
                    assert status == "failed", (point, status)
                    assert not added & visible, point
                    assert {f"{point}-upd", f"{point}-del"} <= visible, point
                    r = httpx.get(f"{c.base}/artifacts/dataset/{updated}", headers=c.auth)
                    assert r.json()["data"]["url"].startswith("upload://"), point  # as it was
        finally:
            server.stop()
        assert problems(registry, after_sweep=True) == []
    finally:
        db.dispose()
