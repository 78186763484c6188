"""A tiny threaded HTTP server on 127.0.0.1 for replaying upstream APIs in tests.

Both replays (Hugging Face Hub, GitHub) build on :class:`ReplayServer`: it binds an ephemeral
loopback port, serves from a daemon thread, counts requests by path (tests use the log to pin down
what the client really asked for) and stops cleanly. :class:`ReplayHandler` gives handlers
HTTP/1.1 keep-alive, JSON and byte responses with single-range support, and HEAD without bodies.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class ReplayHandler(BaseHTTPRequestHandler):
    """Request handler with response helpers; subclasses implement :meth:`route`."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: with Nagle's algorithm the body would wait
    # for the client's delayed ACK of the headers (~40 ms a request on loopback keep-alive).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        return  # quiet: tests read ``requests`` instead

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.server.owner.record(method, self.path)
        delay = self.server.owner.delay_for(parts.path)
        if delay:
            time.sleep(delay)
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
        with contextlib.suppress(BrokenPipeError):  # the client went away mid-body
            self.route(method, parts.path)

    def route(self, method: str, path: str) -> None:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://{self.headers.get('Host') or self.server.owner.netloc}"

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(payload).encode()
        self.send(status, body, headers, "application/json; charset=utf-8")

    def send_bytes(self, data: bytes, headers: Mapping[str, str] | None = None) -> None:
        """200 with the bytes, or 206 with one ``Range`` of them, or 416."""
        headers = {"Accept-Ranges": "bytes", **(headers or {})}
        wanted = self.headers.get("Range")
        match = _RANGE.match(wanted.strip()) if wanted else None
        if match is None or (not match.group(1) and not match.group(2)):
            self.send(200, data, headers)
            return
        size = len(data)
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:
            start, end = max(0, size - int(match.group(2))), size - 1
        if start >= size or start > end:
            self.send(416, b"", {**headers, "Content-Range": f"bytes */{size}"})
            return
        self.send(
            206, data[start : end + 1], {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # load tests open many connections at once
    owner: ReplayServer


class ReplayServer:
    """Serve ``handler`` on 127.0.0.1 from a background thread; use as a context manager."""

    def __init__(
        self, handler: type[ReplayHandler], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._httpd = _Server((host, port), handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        # path prefix -> seconds to wait before answering (a slow upstream, for overlap tests)
        self.delays: dict[str, float] = {}

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.netloc}"

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def delay_for(self, path: str) -> float:
        return max((d for p, d in list(self.delays.items()) if path.startswith(p)), default=0.0)

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
