"""Crash leftovers are swept (issue 7): a served registry killed with SIGKILL during uploads,
three times, leaves work folders, staging files and blobs without a row; after a restart the
sweep removes them all, and every listed artifact still downloads."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import sqlite3
import threading
import time
import zipfile
from pathlib import Path

import httpx

from tests.support.served_process import ServedRegistry
from tests.support.zips import hf_zip


def _big_zip(files: int = 300, size: int = 20_000) -> bytes:
    rng = random.Random(files)
    rows = {f"data/part-{i:04d}.csv": rng.randbytes(size // 2).hex().encode() for i in range(files)}
    return hf_zip(extra=rows)


def _leftovers(data: Path) -> dict[str, list[str]]:
    work = data / "work"
    staging = data / "blobs" / ".staging"
    bundles = data / "blobs" / "artifacts"
    referenced: set[str] = set()
    if (data / "registry.db").exists():
        with sqlite3.connect(data / "registry.db") as db:
            referenced = {
                k for (k,) in db.execute("SELECT blob_key FROM artifact_files") if k is not None
            }
    orphans = []
    if bundles.exists():
        for path in bundles.rglob("*"):
            if path.is_file():
                key = path.relative_to(data / "blobs").as_posix()
                if key not in referenced:
                    orphans.append(key)
    return {
        "work": sorted(p.name for p in work.iterdir()) if work.exists() else [],
        "staging": sorted(p.name for p in staging.iterdir()) if staging.exists() else [],
        "blobs": sorted(orphans),
    }


def _upload(base: str, token: str, body: bytes, name: str) -> httpx.Response:
    return httpx.post(
        f"{base}/artifact/dataset/upload",
        headers={"X-Authorization": token},
        data={"name": name},
        files={"file": (f"{name}.zip", body, "application/zip")},
        timeout=120,
    )


def test_sigkill_during_uploads_three_times_then_the_sweep_leaves_nothing(tmp_path):
    data = tmp_path / "served"
    big = _big_zip()
    seen: dict[str, int] = {"work": 0, "staging": 0, "blobs": 0}
    for round_ in range(3):
        server = ServedRegistry(data).start()  # default grace (1 h): nothing young is swept
        token = server.token()
        ok = _upload(server.base, token, hf_zip(weights=os.urandom(5000)), f"kept-{round_}")
        assert ok.status_code == 201, ok.text
        threading.Thread(
            target=_quietly, args=(_upload, server.base, token, big, f"lost-{round_}"), daemon=True
        ).start()
        wanted = ("work", "blobs", "staging")[round_]
        deadline = time.time() + 60
        while time.time() < deadline and not _leftovers(data)[wanted]:
            time.sleep(0.005)
        server.stop(signal.SIGKILL)
        for kind, items in _leftovers(data).items():
            seen[kind] += len(items)
    assert seen["work"] and seen["blobs"], seen  # the kills did leave leftovers behind

    server = ServedRegistry(
        data, TMR_SWEEP_GRACE_SECONDS="1", TMR_SWEEP_INTERVAL_SECONDS="1"
    ).start()
    try:
        deadline = time.time() + 60
        while any(_leftovers(data).values()) and time.time() < deadline:
            time.sleep(0.5)
        assert _leftovers(data) == {"work": [], "staging": [], "blobs": []}
        token = server.token()
        auth = {"X-Authorization": token}
        listed = httpx.post(f"{server.base}/artifacts", headers=auth, json=[{"name": "*"}]).json()
        assert {a["name"] for a in listed} >= {"kept-0", "kept-1", "kept-2"}
        for artifact in listed:
            r = httpx.get(f"{server.base}/download/{artifact['id']}", headers=auth, timeout=60)
            assert r.status_code == 200, r.text
            with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
                assert zf.testzip() is None
    finally:
        server.stop()


def _quietly(fn, *args):  # type: ignore[no-untyped-def]
    with contextlib.suppress(httpx.HTTPError):
        fn(*args)
