"""Benchmark of the core registry (issue "The registry core").

Prints:
  1. requests/s, p50 and p99 of GET /artifacts/{type}/{id} with 100 concurrent clients on a
     registry of 10 000 artifacts (uvicorn, one process, SQLite);
  2. the enumerate page time (first page and a deep page) at 1 000 vs 100 000 artifacts;
  3. the server's memory growth while streaming a 1 GB bundle.

Run: .venv/bin/python scripts/bench_api.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from benchutil import Server, percentile, seed  # noqa: E402


async def _hammer(base: str, token: str, ids: list[str], clients: int, total: int) -> list[float]:
    latencies: list[float] = []
    per_client = total // clients
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-Authorization": token}, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            for _ in range(per_client):
                aid = random.choice(ids)
                started = time.perf_counter()
                r = await client.get(f"/artifacts/dataset/{aid}")
                latencies.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


WRK_SCRIPT = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
request = function()
  return wrk.format("GET", "/artifacts/dataset/" .. ids[math.random(#ids)])
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%f %%f %%f %%d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def bench_reads(tmp: Path, count: int, clients: int, total: int, workers: int = 1) -> None:
    """wrk (C, from Debian's package) drives the load when present, so the client does not eat
    the server's CPU; otherwise an asyncio httpx client does (slower, it competes for cores)."""
    import shutil
    import subprocess

    data = tmp / f"reads-{workers}"
    data.mkdir()
    ids = seed(f"sqlite:///{data / 'registry.db'}", count)
    server = Server(data, workers=workers)
    try:
        token = server.token()
        wrk = shutil.which("wrk")
        if wrk:
            (tmp / "ids.txt").write_text("\n".join(ids))
            script = tmp / "reads.lua"
            script.write_text(WRK_SCRIPT % (tmp / "ids.txt"))

            def run_wrk(seconds: int) -> str:
                command = [wrk, "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
                           "-s", str(script), "-H", f"X-Authorization: {token}", server.base]
                return subprocess.run(command, capture_output=True, text=True,
                                      check=True).stdout

            run_wrk(5)  # warm-up
            out = run_wrk(15)
            line = next(x for x in out.splitlines() if x.startswith("WRK "))
            n, seconds, p50, p99, errors = line.split()[1:]
            rps = int(n) / float(seconds)
            p50_ms, p99_ms, done, tool = float(p50), float(p99), int(n), "wrk"
            assert int(errors) == 0, out
        else:
            started = time.perf_counter()
            lat = asyncio.run(_hammer(server.base, token, ids, clients, total))
            elapsed = time.perf_counter() - started
            rps, done, tool = len(lat) / elapsed, len(lat), "httpx"
            p50_ms, p99_ms = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
    finally:
        server.stop()
    print(
        f"GET /artifacts/{{type}}/{{id}} ({tool}, {workers} worker(s)): {count} artifacts, "
        f"{clients} concurrent clients, {done} requests: {rps:.0f} req/s, "
        f"p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms"
    )


def bench_enumerate(tmp: Path, sizes: list[int]) -> None:
    results = {}
    for size in sizes:
        data = tmp / f"enum-{size}"
        data.mkdir()
        seed(f"sqlite:///{data / 'registry.db'}", size)
        server = Server(data)
        try:
            token = server.token()
            with httpx.Client(
                base_url=server.base, headers={"X-Authorization": token}, timeout=60
            ) as c:
                c.post("/artifacts", json=[{"name": "*"}])  # warm up
                first, deep = [], []
                offset = None
                for _ in range(20):
                    t = time.perf_counter()
                    r = c.post("/artifacts", json=[{"name": "*"}])
                    first.append(time.perf_counter() - t)
                    offset = r.headers.get("offset")
                # follow the offsets to the last full page, timing the deepest one
                while offset:
                    t = time.perf_counter()
                    r = c.post("/artifacts", json=[{"name": "*"}], params={"offset": offset})
                    elapsed = time.perf_counter() - t
                    offset = r.headers.get("offset")
                    if len(r.json()) == 1000:
                        deep.append(elapsed)
                results[size] = (statistics.median(first), statistics.median(deep[-5:] or [0]))
        finally:
            server.stop()
    for size, (first, deep) in results.items():
        deep_text = f"{deep * 1000:.1f} ms" if deep else "n/a (a single page)"
        print(f"enumerate at {size:>7} artifacts: first page (1000 items) {first * 1000:.1f} ms, "
              f"last full page {deep_text}")
    small, large = results[sizes[0]], results[sizes[-1]]
    ratio_first, ratio_last = large[0] / small[0], large[1] / small[0]
    print(f"enumerate at {sizes[-1]} vs {sizes[0]} artifacts: first page {ratio_first:.2f}x; "
          f"last page at {sizes[-1]} vs first page at {sizes[0]} {ratio_last:.2f}x")


def bench_download_memory(tmp: Path, size_mb: int) -> None:
    data = tmp / "download"
    data.mkdir()
    server = Server(data)
    try:
        token = server.token()
        headers = {"X-Authorization": token}
        bundle = tmp / "big.zip"
        import zipfile

        chunk = b"\x00" * (1 << 20)
        with (
            zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED, allowZip64=True) as zf,
            zf.open("model.safetensors", "w", force_zip64=True) as member,
        ):
            for _ in range(size_mb):
                member.write(chunk)
        with bundle.open("rb") as fh:
            r = httpx.post(
                f"{server.base}/artifact/model/upload",
                headers=headers,
                files={"file": ("big.zip", fh, "application/zip")},
                data={"name": "big"},
                timeout=600,
            )
        assert r.status_code == 201, r.text
        aid = r.json()["metadata"]["id"]
        before, _ = server.rss_mb()
        peaks = []
        for url in (f"/download/{aid}", f"/download/{aid}/files/model.safetensors"):
            received = 0
            started = time.perf_counter()
            with httpx.stream("GET", server.base + url, headers=headers, timeout=600) as resp:
                for block in resp.iter_bytes(1 << 20):
                    received += len(block)
                    peaks.append(server.rss_mb()[0])
            elapsed = time.perf_counter() - started
            print(
                f"download {url.split('/')[-1] if 'files' in url else 'bundle zip'}: "
                f"{received / 1e6:.0f} MB in {elapsed:.2f} s ({received / 1e6 / elapsed:.0f} MB/s)"
            )
        print(
            f"server RSS while streaming {size_mb} MB: before {before:.0f} MB, "
            f"max during {max(peaks):.0f} MB, growth {max(peaks) - before:.0f} MB"
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tmr-bench-") as raw:
        tmp = Path(raw)
        if args.quick:
            bench_reads(tmp, 1000, 20, 2000)
            bench_enumerate(tmp, [1000, 10_000])
            bench_download_memory(tmp, 64)
        else:
            bench_reads(tmp, 10_000, 100, 20_000)
            bench_reads(tmp, 10_000, 100, 20_000, workers=2)
            bench_enumerate(tmp, [1000, 100_000])
            bench_download_memory(tmp, 1024)


if __name__ == "__main__":
    main()
