"""Component choices compared side by side on this machine, in one run.

1. metadata store: SQLite vs PostgreSQL (127.0.0.1:5432): read throughput of
   GET /artifacts/dataset/{id} (wrk, random ids of a seeded registry) and registration latency
   of small uploads;
2. bundle store: local files vs S3 (SeaweedFS): upload (registration) of a model zip with
   ``--blob-mb`` MB of weights, then downloads of the weights file and of the whole bundle
   (redirects followed, as a client does);
3. ASGI server: uvicorn vs granian (when ``tmr serve`` offers it), read throughput;
4. worker processes: 1 vs 2 (uvicorn), read throughput;
5. the Lambda handler: Mangum invoked in-process with API Gateway (REST, v1) events, against the
   same ASGI app called directly on the same event loop: the added cost per request, and a cold
   start (import, app build, migration, first request) in a fresh process.

Each server runs as ``tmr serve`` in its own process; SQLite + local files unless said. Read
sides alternate over ``--rounds`` rounds and the medians are printed. The machine is shared:
its load average is printed with the figures.

Run: .venv/bin/python scripts/bench_components.py [--artifacts 2000] [--clients 32]
     [--seconds 8] [--rounds 2] [--blob-mb 20] [--lambda-requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from benchstack import (  # noqa: E402
    Load,
    machine,
    pg_database,
    read_load,
    seaweedfs,
    token,
    warm_up,
)
from benchutil import ADMIN, seed  # noqa: E402

from tests.support.replicas import Replica  # noqa: E402


def _granian_offered() -> bool:
    from tmr.config import Settings

    try:
        import granian  # noqa: F401
    except ImportError:
        return False
    return "server" in Settings.model_fields


def _serve(root: Path, env: dict[str, str], workers: int = 1) -> Replica:
    replica = Replica({"LOG_LEVEL": "0", "TMR_TOKEN_MAX_CALLS": "100000000", **env}, root,
                      workers=workers)
    try:
        replica.wait_ready()
    except BaseException:
        replica.kill()
        raise
    return replica


# --- reads -------------------------------------------------------------------------------------

def bench_reads(tmp: Path, args: argparse.Namespace) -> dict[str, list[Load]]:
    sqlite_dir = tmp / "reads-sqlite"
    sqlite_dir.mkdir()
    ids = seed(f"sqlite:///{sqlite_dir / 'registry.db'}", args.artifacts)
    results: dict[str, list[Load]] = {}
    with pg_database() as pg_url:
        seed(pg_url, args.artifacts)
        sides = [
            ("sqlite, uvicorn, 1 worker", {"TMR_DATA_DIR": str(sqlite_dir)}, 1),
            ("postgresql, uvicorn, 1 worker",
             {"TMR_DATABASE_URL": pg_url, "TMR_DATA_DIR": str(tmp / "reads-pg")}, 1),
            ("sqlite, uvicorn, 2 workers", {"TMR_DATA_DIR": str(sqlite_dir)}, 2),
        ]
        if _granian_offered():
            sides.append(("sqlite, granian, 1 worker",
                          {"TMR_DATA_DIR": str(sqlite_dir), "TMR_SERVER": "granian"}, 1))
        else:
            print("granian: not offered by this `tmr serve` (no --server option): skipped")
        for rnd in range(args.rounds):
            for label, env, workers in sides:
                server = _serve(Path(env["TMR_DATA_DIR"]), env, workers)
                try:
                    auth = token(server.url)
                    # every cache filled (with 2 workers the kernel picks one per connection:
                    # 4 passes leave each worker ~6 % of the ids to read cold)
                    cold = warm_up([server.url] * (1 if workers == 1 else 4), auth, ids)
                    print(f"round {rnd + 1}  reads  {label:<32} first pass over every id "
                          f"(cold cache) {cold:.0f} req/s", flush=True)
                    load = read_load(server.url, auth, ids, args.clients,
                                     args.seconds, server_pids=[server.proc.pid])
                finally:
                    server.stop()
                results.setdefault(label, []).append(load)
                print(f"round {rnd + 1}  reads  {label:<32} {load}", flush=True)
    return results


# --- writes and blobs ---------------------------------------------------------------------------

def _model_zip(name: str, weights_mb: float) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("README.md", f"---\nlicense: mit\n---\n# {name}\n\nA benchmark model.\n")
        zf.writestr("config.json", json.dumps({"model_type": "bert"}))
        zf.writestr("model.safetensors", os.urandom(int(weights_mb * 1e6)))
    return buf.getvalue()


def _upload(client: httpx.Client, name: str, body: bytes) -> tuple[str, float]:
    started = time.perf_counter()
    r = client.post("/artifact/model/upload", data={"name": name},
                    files={"file": (f"{name}.zip", body, "application/zip")})
    elapsed = time.perf_counter() - started
    if r.status_code != 201:
        raise RuntimeError(f"upload failed {r.status_code}: {r.text[:300]}")
    return str(r.json()["metadata"]["id"]), elapsed


def bench_store(label: str, root: Path, env: dict[str, str], args: argparse.Namespace) -> None:
    server = _serve(root, {"TMR_DATA_DIR": str(root), **env})
    try:
        auth = {"X-Authorization": token(server.url)}
        with httpx.Client(base_url=server.url, headers=auth, timeout=600,
                          follow_redirects=True) as c:
            small = [_upload(c, f"small-{i}", _model_zip(f"small-{i}", 0.01))[1]
                     for i in range(args.small_uploads)]
            body = _model_zip("big", args.blob_mb)
            big_ids, big_times = zip(*(_upload(c, f"big-{i}", body) for i in range(3)),
                                     strict=True)
            file_times: list[float] = []
            bundle_times: list[float] = []
            for _ in range(args.downloads):
                for url, times in ((f"/download/{big_ids[0]}/files/model.safetensors",
                                    file_times), (f"/download/{big_ids[0]}", bundle_times)):
                    started = time.perf_counter()
                    with c.stream("GET", url) as r:
                        size = sum(len(b) for b in r.iter_bytes(1 << 20))
                        if r.status_code != 200:
                            raise RuntimeError(f"{url}: {r.status_code}")
                    times.append(time.perf_counter() - started)
                    if url.endswith("safetensors"):
                        file_size = size
                    else:
                        bundle_size = size
    finally:
        server.stop()
    mb = args.blob_mb
    print(f"{label:<34} small upload p50 {statistics.median(small) * 1000:6.0f} ms | "
          f"{mb:.0f} MB upload p50 {statistics.median(big_times) * 1000:6.0f} ms "
          f"({len(body) / 1e6 / statistics.median(big_times):5.0f} MB/s) | file download p50 "
          f"{statistics.median(file_times) * 1000:5.0f} ms "
          f"({file_size / 1e6 / statistics.median(file_times):5.0f} MB/s) | bundle download p50 "
          f"{statistics.median(bundle_times) * 1000:5.0f} ms "
          f"({bundle_size / 1e6 / statistics.median(bundle_times):5.0f} MB/s)", flush=True)


# --- Lambda --------------------------------------------------------------------------------------

def _api_gateway_event(method: str, path: str, headers: dict[str, str],
                       body: str | None = None) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", "host": "api.example.test", **headers},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path": path,
                           "stage": "prod", "requestId": "bench",
                           "identity": {"sourceIp": "203.0.113.9"}},
        "body": body,
        "isBase64Encoded": False,
    }


def _direct_call(app: Any, loop: asyncio.AbstractEventLoop, method: str, path: str,
                 headers: dict[str, str]) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "server": ("api.example.test", 443),
        "client": ("203.0.113.9", 0),
        "headers": [(k.lower().encode(), v.encode()) for k, v in
                    {"host": "api.example.test", **headers}.items()],
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    loop.run_until_complete(app(scope, receive, send))
    return status


def bench_lambda(tmp: Path, args: argparse.Namespace) -> None:
    from mangum import Mangum

    from tmr.app import create_app
    from tmr.config import load_settings

    data = tmp / "lambda"
    data.mkdir()
    ids = seed(f"sqlite:///{data / 'registry.db'}", 200)
    app = create_app(load_settings(data_dir=data, log_level=0))
    handler = Mangum(app, lifespan="off")
    login = handler(_api_gateway_event("PUT", "/authenticate", {}, json.dumps(ADMIN)), None)
    auth = {"x-authorization": json.loads(login["body"])}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # Mangum runs each invocation on the current loop
    rows = []
    for label, path, headers in (("GET /health", "/health", {}),
                                 ("GET /artifacts/dataset/{id}", f"/artifacts/dataset/{ids[0]}",
                                  auth)):
        event = _api_gateway_event("GET", path, headers)
        via_mangum, direct = [], []
        for i in range(args.lambda_requests):  # interleaved, so drift hits both sides alike
            started = time.perf_counter()
            response = handler(event, None)
            via_mangum.append(time.perf_counter() - started)
            started = time.perf_counter()
            status = _direct_call(app, loop, "GET", path, headers)
            direct.append(time.perf_counter() - started)
            if i == 0 and (response["statusCode"], status) != (200, 200):
                raise RuntimeError(f"{label}: {response['statusCode']} / {status}")
        m, d = statistics.median(via_mangum) * 1e6, statistics.median(direct) * 1e6
        rows.append((label, m, d))
    loop.close()
    for label, m, d in rows:
        print(f"lambda  {label:<30} Mangum p50 {m:7.0f} us, same app called directly "
              f"{d:7.0f} us: added {m - d:6.0f} us per request ({(m - d) / d * 100:4.0f}%)")
    cold_dir = tmp / "lambda-cold"
    code = (
        "import json, time, sys; t = time.perf_counter()\n"
        "import tmr.lambda_handler as h\n"
        f"r = h.handler({_api_gateway_event('GET', '/health', {})!r}, None)\n"
        "assert r['statusCode'] == 200, r\n"
        "print(time.perf_counter() - t)\n"
    )
    env = {**os.environ, "TMR_DATA_DIR": str(cold_dir), "LOG_LEVEL": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=300).stdout
    print(f"lambda  cold start (import, app build, SQLite migration, first GET /health): "
          f"{float(out.strip().splitlines()[-1]) * 1000:.0f} ms")


def cpu_median(loads: list[Load]) -> float:
    return statistics.median(x.cpu_ms_per_request or 0.0 for x in loads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--blob-mb", type=float, default=20)
    parser.add_argument("--downloads", type=int, default=5)
    parser.add_argument("--small-uploads", type=int, default=10)
    parser.add_argument("--lambda-requests", type=int, default=2000)
    parser.add_argument("--only", choices=["reads", "stores", "lambda"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["reads", "stores", "lambda"])
    print(f"component comparison, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
    with tempfile.TemporaryDirectory(prefix="tmr-components-") as tmp_name:
        tmp = Path(tmp_name)
        if "reads" in only:
            results = bench_reads(tmp, args)
            print(f"\nreads, medians over {args.rounds} round(s) ({args.artifacts} artifacts, "
                  f"{args.clients} connections):")
            for label, loads in results.items():
                print(f"  {label:<32} {statistics.median(x.rps for x in loads):7.0f} req/s  "
                      f"p50 {statistics.median(x.p50_ms for x in loads):7.1f} ms  "
                      f"p99 {statistics.median(x.p99_ms for x in loads):7.1f} ms  "
                      f"server CPU {cpu_median(loads):5.2f} ms/request")
            print("  (server CPU: the tmr serve process tree's own CPU time per request; "
                  "PostgreSQL's backend CPU is not included)")
        if "stores" in only:
            print()
            with pg_database() as pg_url:
                bench_store("sqlite + local files", tmp / "store-file", {}, args)
                bench_store("postgresql + local files", tmp / "store-pg",
                            {"TMR_DATABASE_URL": pg_url}, args)
            with seaweedfs() as s3_env:
                bench_store("sqlite + S3 (SeaweedFS)", tmp / "store-s3",
                            {**s3_env, "TMR_BLOB_URL": "s3://tmr-components/bundles"}, args)
        if "lambda" in only:
            print()
            bench_lambda(tmp, args)
    print(f"\nfinished, {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
