"""The download benchmark's load generator counts every byte of a body it discards unread."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tmr.bench.loadgen import Client, one_flow

BODY = os.urandom(3_000_000)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        host = self.headers["Host"]
        if self.path == "/meta":
            body = json.dumps({"data": {"download_url": f"http://{host}/blob"}}).encode()
        else:
            body = BODY
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_discarded_bodies_are_counted_and_the_connection_stays_usable(base: str) -> None:
    client = Client()
    try:
        for _ in range(3):  # kept-alive connections: each response must be consumed exactly
            assert one_flow(client, f"{base}/meta", {}) == len(BODY)
        status, _, body, length = client.get(f"{base}/blob", keep=True)
        assert status == 200 and body == BODY and length == len(BODY)
    finally:
        client.close()
