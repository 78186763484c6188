"""A small, fast HTTP/1.1 load generator for the download flow (threads over raw sockets).

Each client keeps one keep-alive connection per host, and a flow is the contract's two steps:
``GET /artifacts/model/{id}`` (JSON, with the token), then ``GET`` of its ``download_url`` (the
signed link, no token), following one redirect (S3 presigned URLs). Bodies that are not kept
are discarded in the kernel (``recv`` with ``MSG_TRUNC``, which TCP sockets on Linux honour by
dropping the bytes without copying them to user space): with a plain ``recv_into`` the client
core spent 0.26-0.31 CPU-s per GB received, more than nginx spent sending (0.19-0.28); with the
discard 0.22-0.23 (the kernel's TCP receive work remains). ``FlowStats.client_cpu`` records the
client's CPU so a run where the client's core, not the server, was the limit shows. Latency is
per flow (both requests).
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

BUFFER = 1 << 20
# Linux: TCP discards the received bytes instead of copying them (tcp(7)); elsewhere a copy.
DISCARD = getattr(socket, "MSG_TRUNC", 0) if sys.platform == "linux" else 0


class HttpError(Exception):
    pass


class _Conn:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def close(self) -> None:
        self.sock.close()


class Client:
    """One simulated client: blocking requests on kept-alive connections."""

    def __init__(self) -> None:
        self._conns: dict[tuple[str, int], _Conn] = {}
        self._buf = bytearray(BUFFER)
        self._view = memoryview(self._buf)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def get(
        self, url: str, headers: dict[str, str] | None = None, keep: bool = False
    ) -> tuple[int, dict[str, str], bytes | None, int]:
        """(status, headers, body if ``keep`` else None, body length)."""
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once
            conn = self._conns.get((host, port))
            if conn is None:
                conn = self._conns[(host, port)] = _Conn(host, port)
            try:
                conn.sock.sendall(request)
                return self._response(conn, keep)
            except (ConnectionError, HttpError):
                conn.close()
                self._conns.pop((host, port), None)
                if attempt:
                    raise
        raise HttpError("unreachable")

    def _response(self, conn: _Conn, keep: bool) -> tuple[int, dict[str, str], bytes | None, int]:
        data = conn.pending
        while b"\r\n\r\n" not in data:
            chunk = conn.sock.recv(65536)
            if not chunk:
                raise HttpError("connection closed before the response headers")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" not in headers:
            raise HttpError(f"response without content-length (status {status})")
        length = int(headers["content-length"])
        if len(rest) >= length:
            conn.pending = rest[length:]
            return status, headers, bytes(rest[:length]) if keep else None, length
        conn.pending = b""
        got = len(rest)
        body = [rest] if keep else None
        flags = 0 if keep else DISCARD
        while got < length:
            n = conn.sock.recv_into(self._view, min(BUFFER, length - got), flags)
            if n == 0:
                raise HttpError("connection closed mid-body")
            if body is not None:
                body.append(bytes(self._view[:n]))
            got += n
        if headers.get("connection", "").lower() == "close":
            conn.close()
            self._conns = {k: c for k, c in self._conns.items() if c is not conn}
        return status, headers, b"".join(body) if body is not None else None, length


@dataclass
class FlowStats:
    """What one side delivered: per-flow latencies (seconds), bytes, failures, wall time."""

    label: str
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    errors: int = 0
    seconds: float = 0.0
    first_error: str = ""
    server_cpu: float = 0.0  # CPU seconds the server's processes used meanwhile, when measured
    client_cpu: float = 0.0  # CPU seconds this load generator used meanwhile

    def merge(self, other: FlowStats) -> None:
        self.latencies += other.latencies
        self.bytes += other.bytes
        self.errors += other.errors
        self.seconds += other.seconds
        self.server_cpu += other.server_cpu
        self.client_cpu += other.client_cpu
        self.first_error = self.first_error or other.first_error

    @property
    def flows(self) -> int:
        return len(self.latencies)

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def flows_per_s(self) -> float:
        return self.flows / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies) if self.latencies else 0.0

    def summary(self) -> dict[str, float | int | str]:
        return {
            "label": self.label,
            "flows": self.flows,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "mb_per_s": round(self.mb_per_s, 1),
            "flows_per_s": round(self.flows_per_s, 1),
            "mean_ms": round(self.mean * 1000, 1),
            "median_ms": round(self.pct(0.5) * 1000, 1),
            "p99_ms": round(self.pct(0.99) * 1000, 1),
            "server_cpu_s_per_gb": round(self.server_cpu / (self.bytes / 1e9), 3)
            if self.bytes and self.server_cpu
            else 0.0,
            # near 1.0: the load generator's core was saturated and the figure measures it
            "client_cores": round(self.client_cpu / self.seconds, 2) if self.seconds else 0.0,
        }


def one_flow(client: Client, metadata_url: str, headers: dict[str, str]) -> int:
    """The contract flow once; returns the bytes of the download."""
    status, _, body, _ = client.get(metadata_url, headers, keep=True)
    if status != 200 or body is None:
        raise HttpError(f"metadata GET returned {status}")
    url = json.loads(body)["data"]["download_url"]
    status, got, _, length = client.get(url)
    if status in (301, 302, 303, 307, 308):
        status, got, _, length = client.get(got["location"])
    if status != 200:
        raise HttpError(f"download GET returned {status}")
    return length


def run_flows(
    label: str,
    metadata_urls: Callable[[int], str],
    headers: dict[str, str],
    clients: int,
    seconds: float,
) -> FlowStats:
    """``clients`` threads run flows back to back for ``seconds``; ``metadata_urls(i)`` gives the
    metadata URL of flow ``i``."""
    stats = FlowStats(label)
    lock = threading.Lock()
    counter = iter(range(10**12))
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker() -> None:
        client = Client()
        mine = FlowStats(label)
        start.wait()
        try:
            while time.perf_counter() < deadline[0]:
                with lock:
                    i = next(counter)
                t = time.perf_counter()
                try:
                    mine.bytes += one_flow(client, metadata_urls(i), headers)
                    mine.latencies.append(time.perf_counter() - t)
                except (OSError, HttpError, ValueError, KeyError) as exc:
                    mine.errors += 1
                    mine.first_error = mine.first_error or f"{type(exc).__name__}: {exc}"
                    client.close()
        finally:
            client.close()
            with lock:
                stats.latencies += mine.latencies
                stats.bytes += mine.bytes
                stats.errors += mine.errors
                stats.first_error = stats.first_error or mine.first_error

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    cpu_before = time.process_time()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for t in threads:
        t.join()
    stats.seconds = time.perf_counter() - began
    stats.client_cpu = time.process_time() - cpu_before
    return stats
