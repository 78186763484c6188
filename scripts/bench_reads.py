"""Reads without a tail: ``GET /artifacts/{type}/{id}`` against MLflow's model registry server.

Both sides on a registry of 10 000 entries, pinned to the same core, with wrk (Debian's package)
on the other core, 100 connections, sides alternating in one run:

- the registry: ``tmr serve`` (one process), SQLite, ``GET /artifacts/dataset/{id}`` for random
  ids, with a token;
- MLflow: ``mlflow server`` (one worker), SQLite backend store, ``GET
  /api/2.0/mlflow/registered-models/get?name=…`` for random names of 10 000 registered models
  (written straight into MLflow's own schema after the server created it).

MLflow is not a dependency of the registry: it is installed into its own venv (``.venv-mlflow``,
created on first use with pip) so the runtime never carries it.

A first pass reads every entry once in order (cold caches, reported on its own); the measured
rounds then read random entries. Prints req/s, p50, p99, the p99/p50 ratio and the server's CPU
time per request for each side, and the ratios between them.
Run: .venv/bin/python scripts/bench_reads.py [--count 10000] [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from benchutil import ROOT, seed  # noqa: E402

from tmr.bench.downloads import (  # noqa: E402
    _free_port,
    _pinned,
    _stop,
    _wait_http,
    login,
    registry_server,
    tree_cpu_seconds,
)

WRK_SCRIPT = """
local keys = {}
for line in io.lines("%s") do keys[#keys + 1] = line end
request = function()
  return wrk.format("GET", "%s" .. keys[math.random(#keys)])
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%f %%f %%f %%d %%d\\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def settle(pids: list[int], quiet_cpu: float = 0.02, window: float = 0.5, limit: float = 30
           ) -> None:  # fmt: skip
    """Wait until the servers ``pids`` have finished what a previous run left queued (MLflow
    works through its backlog for seconds after wrk stops, on the core the next side is
    measured on): until their process trees use under ``quiet_cpu`` CPU-seconds in ``window``."""
    deadline = time.monotonic() + limit
    last = sum(tree_cpu_seconds(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = sum(tree_cpu_seconds(p) for p in pids)
        if now - last < quiet_cpu:
            return
        last = now


def wrk(base: str, prefix: str, keys: Path, seconds: int, headers: list[str], cpu: int,
        pid: int, in_order: int | None = None) -> dict:  # fmt: skip
    """wrk against ``base``, with the server's CPU seconds per request (``pid``'s process
    tree), the figure that stays meaningful on a busy machine. ``in_order``: the keys in order
    from that index instead of random ones (a first pass over the registry)."""
    script = keys.with_suffix(".lua")
    if in_order is None:
        script.write_text(WRK_SCRIPT % (keys, prefix))
    else:
        script.write_text(WRK_IN_ORDER.replace("START", str(in_order)) % (keys, prefix))
    command = ["wrk", "-t1", "-c100", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
    for h in headers:
        command += ["-H", h]
    before = tree_cpu_seconds(pid)
    out = subprocess.run(_pinned([*command, base], cpu), capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    cpu_s = tree_cpu_seconds(pid) - before
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    n, secs, p50, p99, status_errors, socket_errors = line.split()[1:]
    return {"requests": int(n), "rps": int(n) / float(secs), "p50": float(p50),
            "p99": float(p99), "errors": int(status_errors) + int(socket_errors),
            "cpu_us": 1e6 * cpu_s / max(1, int(n))}  # fmt: skip


# The keys in order from START (a first pass over the registry: caches cold).
WRK_IN_ORDER = """
local keys = {}
for line in io.lines("%s") do keys[#keys + 1] = line end
local n = START
request = function()
  n = n %% #keys + 1
  return wrk.format("GET", "%s" .. keys[n])
end
""" + WRK_SCRIPT[WRK_SCRIPT.index("done = function"):]


def first_pass(run: Any, count: int) -> dict:
    """Every entry read once, in order, in runs of 5 s (wrk cannot stop after N requests)."""
    done, runs = 0, []
    while done < count:
        got = run(5, done)
        runs.append(got)
        done += max(1, got["requests"])
    total = sum(x["requests"] for x in runs)
    return {"rps": total / (5 * len(runs)), "p50": sorted(x["p50"] for x in runs)[len(runs) // 2],
            "p99": max(x["p99"] for x in runs), "errors": sum(x["errors"] for x in runs),
            "cpu_us": sum(x["cpu_us"] * x["requests"] for x in runs) / max(1, total)}  # fmt: skip


def mlflow_binary() -> Path:
    venv = ROOT / ".venv-mlflow"
    binary = venv / "bin" / "mlflow"
    if not binary.exists():
        print("installing mlflow into .venv-mlflow (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "mlflow"], check=True)
    return binary


class MlflowServer:
    def __init__(self, tmp: Path, count: int, cpu: int | None) -> None:
        self.db = tmp / "mlflow.db"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [str(mlflow_binary()), "server", "--backend-store-uri", f"sqlite:///{self.db}",
                   "--default-artifact-root", str(tmp / "mlruns"), "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1"]  # fmt: skip
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = subprocess.Popen(_pinned(command, cpu), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            self._fill(count)
        except BaseException:
            self.stop()
            raise

    def _fill(self, count: int) -> None:
        _wait_http(f"{self.base}/health", self.proc, "mlflow server", timeout=600)
        r = httpx.post(f"{self.base}/api/2.0/mlflow/registered-models/create",
                       json={"name": "model-0"}, timeout=60)  # fmt: skip
        r.raise_for_status()
        now = int(time.time() * 1000)
        with sqlite3.connect(self.db) as conn:  # the same rows the REST call writes
            conn.executemany(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, "
                "description) VALUES (?, ?, ?, ?)",
                [(f"model-{i}", now, now, f"model {i}") for i in range(1, count)],
            )
        self.names = [f"model-{i}" for i in range(count)]
        got = httpx.get(f"{self.base}/api/2.0/mlflow/registered-models/get",
                        params={"name": f"model-{count - 1}"}, timeout=60)  # fmt: skip
        assert got.status_code == 200, got.text

    def stop(self) -> None:
        _stop(self.proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server", default="uvicorn")
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    cpu_server, cpu_client = (0, 1) if (os.cpu_count() or 1) > 1 else (None, None)
    with tempfile.TemporaryDirectory(prefix="tmr-reads-") as raw:
        tmp = Path(raw)
        data = tmp / "registry"
        data.mkdir()
        ids = seed(f"sqlite:///{data / 'registry.db'}", args.count)
        (tmp / "ids.txt").write_text("\n".join(ids))
        ml = None if args.no_mlflow else MlflowServer(tmp, args.count, cpu_server)
        if ml:
            (tmp / "names.txt").write_text("\n".join(ml.names))
        results: dict[str, list[dict]] = {"registry": [], "mlflow": []}
        try:
            with registry_server(data, cpu_server, args.server) as reg:
                auth = [f"X-Authorization: {login(reg.base)}"]

                servers = [reg.pid] + ([ml.proc.pid] if ml else [])

                def registry(seconds: int, in_order: int | None = None) -> dict:
                    settle(servers)
                    return wrk(reg.base, "/artifacts/dataset/", tmp / "ids.txt", seconds, auth,
                               cpu_client, reg.pid, in_order)  # fmt: skip

                def mlflow(seconds: int, in_order: int | None = None) -> dict:
                    assert ml is not None
                    settle(servers)
                    return wrk(ml.base, "/api/2.0/mlflow/registered-models/get?name=",
                               tmp / "names.txt", seconds, [], cpu_client, ml.proc.pid,
                               in_order)  # fmt: skip

                # A first pass over every entry in order (caches cold), reported on its own;
                # then the measured rounds read random entries of a warm registry.
                for side, run in (("registry", registry), ("mlflow", mlflow)):
                    if side == "mlflow" and not ml:
                        continue
                    got = first_pass(run, args.count)
                    print(f"  first pass {side}: {got['rps']:.0f} req/s, p50 {got['p50']:.1f} ms, "
                          f"p99 {got['p99']:.1f} ms, {got['cpu_us']:.0f} us CPU/request, "
                          f"{got['errors']} errors", flush=True)  # fmt: skip
                for r in range(args.rounds):
                    order = ["registry", "mlflow"] if r % 2 == 0 else ["mlflow", "registry"]
                    for side in order:
                        if side == "mlflow" and not ml:
                            continue
                        got = registry(args.seconds) if side == "registry" else mlflow(
                            args.seconds)
                        results[side].append(got)
                        print(f"  round {r + 1} {side}: {got['rps']:.0f} req/s, p50 "
                              f"{got['p50']:.1f} ms, p99 {got['p99']:.1f} ms, "
                              f"{got['cpu_us']:.0f} us CPU/request, "
                              f"{got['errors']} errors", flush=True)  # fmt: skip
        finally:
            if ml:
                ml.stop()
    summary = {}
    for side, runs in results.items():
        if not runs:
            continue
        rps = sum(x["requests"] for x in runs) / (args.seconds * len(runs))
        p50 = sorted(x["p50"] for x in runs)[len(runs) // 2]
        p99 = max(x["p99"] for x in runs)
        cpu_us = sum(x["cpu_us"] * x["requests"] for x in runs) / sum(x["requests"] for x in runs)
        summary[side] = (rps, p50, p99)
        print(f"{side:8s}: {rps:6.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
              f"p99/p50 {p99 / p50:4.1f}  server CPU {cpu_us:.0f} us/request  "
              f"({args.count} entries, 100 connections)")  # fmt: skip
    if "mlflow" in summary:
        (r_rps, _, r_p99), (m_rps, _, m_p99) = summary["registry"], summary["mlflow"]
        print(f"registry/mlflow: throughput {r_rps / m_rps:.2f}x, p99 {r_p99 / m_p99:.2f}x "
              "(target: >= 3000 req/s, p99 < 100 ms and <= 3x p50)")  # fmt: skip


if __name__ == "__main__":
    main()
