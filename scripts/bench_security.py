"""Benchmark of the access-control limits (issue 7). Each figure comes with its baseline from the
same run.

Prints:
  1. calls served by one token (budget 1000) under 1, 10 and 100 concurrent clients;
  2. p50 of an unrelated read (GET /artifacts/dataset/{id}) idle vs during a 40-client flood of
     wrong passwords: with the default throttling, and with throttling turned off (so every
     wrong login costs a full Argon2 verification);
  3. server memory before/after an unauthenticated 200 MB JSON body, a 200 MB chunked JSON body
     and a 300 MB upload;
  4. 30 clients reading the lineage of a model whose upload carried 80 JSON files of 250 KB:
     requests/s and the server's memory growth.

Run: .venv/bin/python scripts/bench_security.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import random
import socket
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from benchutil import ADMIN, Server, percentile, seed  # noqa: E402


async def _drain(base: str, token: str, clients: int) -> int:
    served = 0
    # keep-alive shorter than the server's (5 s): never reuse a connection it closed
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=1.0
    )
    async with httpx.AsyncClient(
        base_url=base, headers={"X-Authorization": token}, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            nonlocal served
            refused = 0
            while refused < 3:
                r = await client.post("/artifacts", json=[{"name": "*"}])
                if r.status_code == 200:
                    served += 1
                    refused = 0
                else:
                    refused += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return served


def bench_token_budget(tmp: Path) -> None:
    print("\n1. Calls served by one token (budget 1000)")
    server = Server(tmp / "budget", TMR_TOKEN_MAX_CALLS="1000")
    try:
        for clients in (1, 10, 100):
            served = asyncio.run(_drain(server.base, server.token(), clients))
            print(f"   {clients:>3} concurrent clients: {served} calls served")
    finally:
        server.stop()


def _read_p50(base: str, token: str, ids: list[str], seconds: float) -> tuple[float, int]:
    latencies = []
    with httpx.Client(base_url=base, headers={"X-Authorization": token}, timeout=60) as c:
        deadline = time.time() + seconds
        while time.time() < deadline:
            started = time.perf_counter()
            r = c.get(f"/artifacts/dataset/{random.choice(ids)}")
            latencies.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
    return percentile(latencies, 0.5) * 1000, len(latencies)


def _flood(base: str, clients: int, seconds: float, out: Any) -> None:
    """40 clients sending wrong passwords for ``seconds`` (run in its own process, so the
    flood's client does not compete with the measuring client for one interpreter)."""
    counts: dict[int, int] = {}

    async def run() -> None:
        limits = httpx.Limits(max_connections=clients)
        deadline = time.time() + seconds
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

            async def worker(i: int) -> None:
                body = {
                    "user": {"name": ADMIN["user"]["name"], "is_admin": True},
                    "secret": {"password": f"wrong-{i}"},
                }
                while time.time() < deadline:
                    r = await client.put("/authenticate", json=body)
                    counts[r.status_code] = counts.get(r.status_code, 0) + 1

            await asyncio.gather(*(worker(i) for i in range(clients)))

    asyncio.run(run())
    out.put(counts)


def bench_login_flood(tmp: Path, seconds: float) -> None:
    print("\n2. p50 of GET /artifacts/dataset/{id} idle vs during 40 clients of wrong passwords")
    for label, env in (
        ("default throttling", {}),
        ("throttling off (every wrong login hashed)", {"TMR_LOGIN_FREE_FAILURES": "100000000"}),
    ):
        data = tmp / f"flood-{len(env)}"
        data.mkdir()
        ids = seed(f"sqlite:///{data / 'registry.db'}", 1000)
        server = Server(data, **env)
        try:
            token = server.token()
            idle, n_idle = _read_p50(server.base, token, ids, seconds)
            ctx = multiprocessing.get_context("spawn")
            out = ctx.Queue()
            flood = ctx.Process(target=_flood, args=(server.base, 40, seconds + 4, out))
            flood.start()
            time.sleep(3)
            busy, n_busy = _read_p50(server.base, token, ids, seconds)
            counts = out.get()
            flood.join()
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            print(
                f"   {label}: idle p50 {idle:.1f} ms ({n_idle} reads); during the flood "
                f"p50 {busy:.1f} ms ({n_busy} reads) = {busy / idle:.2f}x idle; "
                f"login answers {answers}"
            )
        finally:
            server.stop()


def _raw_request(port: int, head: str, body_bytes: int, chunked: bool) -> str:
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sent = 0
    try:
        sock.sendall(head.encode())
        piece = b"x" * (1 << 20)
        while sent < body_bytes:
            if chunked:
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                sock.sendall(piece)
            sent += len(piece)
    except OSError:
        pass  # the server answered and closed the connection
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    sock.close()
    status = data.split(b"\r\n", 1)[0].decode("latin-1") or "connection closed"
    return f"{status} after {sent / 2**20:.0f} MB sent"


def bench_bodies(tmp: Path) -> None:
    print("\n3. Server memory around unauthenticated large bodies (RSS MB: before -> after, peak)")
    server = Server(tmp / "bodies")
    try:
        cases = [
            (
                "200 MB JSON, Content-Length",
                "POST /artifacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {200 << 20}\r\n\r\n",
                200 << 20,
                False,
            ),
            (
                "200 MB JSON, chunked",
                "POST /artifacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
                200 << 20,
                True,
            ),
            (
                "300 MB upload, no token",
                "POST /artifact/model/upload HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {300 << 20}\r\n\r\n",
                300 << 20,
                False,
            ),
        ]
        for label, head, size, chunked in cases:
            before, _ = server.rss_mb()
            outcome = _raw_request(server.port, head, size, chunked)
            time.sleep(0.5)
            after, peak = server.rss_mb()
            print(f"   {label}: {outcome}; RSS {before:.0f} -> {after:.0f} MB (peak {peak:.0f})")
    finally:
        server.stop()


def _jsonful_zip(files: int, size: int) -> bytes:
    rng = random.Random(1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.md", "---\nlicense: mit\nbase_model: bert-base-uncased\n---\n# m\n")
        zf.writestr("config.json", json.dumps({"model_type": "bert"}))
        for i in range(files):
            values = [rng.randbytes(50).hex() for _ in range(size // 104)]
            zf.writestr(f"meta/extra-{i:03d}.json", json.dumps({"values": values}))
    return buf.getvalue()


async def _lineage_load(base: str, token: str, aid: str, clients: int, seconds: float) -> int:
    done = 0
    # keep-alive shorter than the server's (5 s): never reuse a connection it closed
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=1.0
    )
    async with httpx.AsyncClient(
        base_url=base, headers={"X-Authorization": token}, limits=limits, timeout=60
    ) as client:
        deadline = time.time() + seconds

        async def worker() -> None:
            nonlocal done
            while time.time() < deadline:
                r = await client.get(f"/artifact/model/{aid}/lineage")
                assert r.status_code == 200, r.text
                done += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return done


def bench_lineage(tmp: Path, seconds: float) -> None:
    print("\n4. 30 clients reading the lineage of a model uploaded with 80 JSON files of 250 KB")
    server = Server(tmp / "lineage", TMR_INGEST_GATE="off")
    try:
        token = server.token()
        body = _jsonful_zip(80, 250_000)
        r = httpx.post(
            f"{server.base}/artifact/model/upload",
            headers={"X-Authorization": token},
            data={"name": "jsonful"},
            files={"file": ("m.zip", body, "application/zip")},
            timeout=300,
        )
        assert r.status_code == 201, r.text
        heavy = r.json()["metadata"]["id"]
        r = httpx.post(
            f"{server.base}/artifact/model/upload",
            headers={"X-Authorization": token},
            data={"name": "plain"},
            files={"file": ("p.zip", _jsonful_zip(0, 0), "application/zip")},
            timeout=300,
        )
        assert r.status_code == 201, r.text
        plain = r.json()["metadata"]["id"]
        for label, aid in (("baseline, a model with no extra JSON", plain), ("80 × 250 KB", heavy)):
            before, _ = server.rss_mb()
            done = asyncio.run(_lineage_load(server.base, token, aid, 30, seconds))
            after, peak = server.rss_mb()
            print(
                f"   {label}: {done / seconds:.0f} req/s; RSS {before:.0f} -> {after:.0f} MB "
                f"(+{after - before:.0f} MB; peak {peak:.0f} MB)"
            )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter measurement windows")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else 15.0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bench_token_budget(tmp)
        bench_login_flood(tmp, seconds)
        bench_bodies(tmp)
        bench_lineage(tmp, seconds)


if __name__ == "__main__":
    main()
