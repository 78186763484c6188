"""Shared helpers for the benchmark scripts: seeding a registry, running a server, percentiles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN = {
    "user": {"name": "ece30861defaultadminuser", "is_admin": True},
    "secret": {"password": "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE artifacts;"},
}


def seed(database_url: str, count: int, start: int = 0) -> list[str]:
    """Insert ``count`` dataset artifacts straight into the metadata store (fast bulk path)."""
    from sqlalchemy import insert

    from tmr.domain.snapshot import Snapshot
    from tmr.storage.db.engine import make_engine
    from tmr.storage.db.migrate import upgrade
    from tmr.storage.db.tables import ArtifactRow

    engine = make_engine(database_url)
    upgrade(engine)
    snap = Snapshot(source="web", url="https://example.com/x").model_dump_json()
    now = datetime.now(UTC)
    ids = []
    batch = []
    with engine.begin() as conn:
        for i in range(start, start + count):
            aid = f"bench-{i:09d}"
            ids.append(aid)
            batch.append(
                {
                    "id": aid,
                    "name": f"artifact-{i}",
                    "type": "dataset",
                    "url": f"https://example.com/d/{i}",
                    "source": "web",
                    "hub_key": None,
                    "version": None,
                    "size_bytes": 1000 + i,
                    "snapshot": snap,
                    "search_text": f"artifact-{i}",
                    "created_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(ArtifactRow), batch)
                batch = []
        if batch:
            conn.execute(insert(ArtifactRow), batch)
    engine.dispose()
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``tmr serve`` in a subprocess on loopback."""

    def __init__(self, data_dir: Path, workers: int = 1, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "TMR_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "0",
            "TMR_TOKEN_MAX_CALLS": "100000000",
            **env,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tmr.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=full_env,
            cwd=ROOT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start")

    def token(self) -> str:
        return str(httpx.put(f"{self.base}/authenticate", json=ADMIN, timeout=30).json())

    def rss_mb(self) -> tuple[float, float]:  # single-worker servers only
        """(current RSS, peak RSS) of the server process in MB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]
