"""The download benchmark's load generator counts every byte of a body it discards unread."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tmr.bench.loadgen import Client, HttpError, one_flow, run_flows

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


# -- a scripted HTTP/1.1 server: exact bytes per path, to drive every branch of the client ------

BLOB = bytes(range(256)) * 400  # 102,400 bytes


def _reply(status: str, body: bytes = b"", *extra: str, length: bool = True) -> bytes:
    head = [f"HTTP/1.1 {status}", *extra]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _script(path: str, host: str) -> tuple[bytes, bool]:
    """(bytes to send, close the connection afterwards) for a request of ``path``."""
    meta = {
        "/meta": f"http://{host}/redirect",
        "/meta-closing": f"http://{host}/closing-blob",
        "/meta-missing": f"http://{host}/missing",
    }
    if path in meta:
        return _reply("200 OK", json.dumps({"data": {"download_url": meta[path]}}).encode()), False
    if path == "/redirect":
        return _reply("302 Found", b"", f"Location: http://{host}/blob"), False
    if path == "/blob":
        return _reply("200 OK", BLOB), False
    if path == "/closing-blob":  # says so, then closes
        return _reply("200 OK", BLOB, "Connection: close"), True
    if path == "/silently-closing":  # a kept-alive connection the server drops without notice
        return _reply("200 OK", b"ok"), True
    if path == "/no-length":
        return _reply("200 OK", b"x", length=False), True
    if path == "/hang-up":
        return b"", True
    if path == "/short":
        return b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 10, True
    return _reply("404 Not Found", b'{"detail": "no"}'), False


@pytest.fixture
def scripted() -> Iterator[tuple[str, list[int]]]:
    """The server's base URL and the number of connections it accepted so far."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = [0]
    host = f"127.0.0.1:{listener.getsockname()[1]}"

    def serve(conn: socket.socket) -> None:
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                reply, close = _script(head.split(b" ")[1].decode(), host)
                conn.sendall(reply)
                if close:
                    return

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted[0] += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://{host}", accepted
    finally:
        listener.close()


def test_a_flow_follows_the_redirect_on_kept_alive_connections(scripted) -> None:  # type: ignore[no-untyped-def]
    base, accepted = scripted
    client = Client()
    try:
        assert one_flow(client, f"{base}/meta", {"X-Authorization": "t"}) == len(BLOB)
        assert one_flow(client, f"{base}/meta", {}) == len(BLOB)
        assert accepted[0] == 1  # one connection for all six requests
    finally:
        client.close()


def test_a_connection_the_server_closes_is_reopened(scripted) -> None:  # type: ignore[no-untyped-def]
    base, accepted = scripted
    client = Client()
    try:
        assert one_flow(client, f"{base}/meta-closing", {}) == len(BLOB)  # "Connection: close"
        status, _, body, _ = client.get(f"{base}/blob", keep=True)
        assert status == 200 and body == BLOB
        assert accepted[0] == 2
        assert client.get(f"{base}/silently-closing", keep=True)[2] == b"ok"
        # the next request finds the connection dead and retries once on a new one
        status, _, body, _ = client.get(f"{base}/blob", keep=True)
        assert status == 200 and body == BLOB
        assert accepted[0] == 3
    finally:
        client.close()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/no-length", "response without content-length (status 200)"),
        ("/hang-up", "connection closed before the response headers"),
        ("/short", "connection closed mid-body"),
    ],
)
def test_broken_responses_raise_after_one_retry(scripted, path: str, message: str) -> None:  # type: ignore[no-untyped-def]
    base, accepted = scripted
    client = Client()
    try:
        with pytest.raises(HttpError, match=f"^{re.escape(message)}$"):
            client.get(f"{base}{path}")
        assert accepted[0] == 2  # tried, then tried once more on a fresh connection
    finally:
        client.close()


def test_failed_steps_of_the_flow_name_the_status(scripted) -> None:  # type: ignore[no-untyped-def]
    base, _ = scripted
    client = Client()
    try:
        with pytest.raises(HttpError, match=r"^metadata GET returned 404$"):
            one_flow(client, f"{base}/nothing", {})
        with pytest.raises(HttpError, match=r"^download GET returned 404$"):
            one_flow(client, f"{base}/meta-missing", {})
    finally:
        client.close()


def test_run_flows_counts_flows_bytes_and_failures(scripted) -> None:  # type: ignore[no-untyped-def]
    base, _ = scripted
    urls: list[int] = []

    def metadata_url(i: int) -> str:
        urls.append(i)
        return f"{base}/meta" if i % 3 else f"{base}/meta-missing"

    stats = run_flows("scripted", metadata_url, {}, clients=2, seconds=0.3)
    assert stats.label == "scripted"
    assert stats.flows > 0 and stats.errors > 0
    assert stats.flows + stats.errors == len(urls)
    assert sorted(urls) == list(range(len(urls)))  # every flow got its own index
    assert stats.bytes == stats.flows * len(BLOB)
    assert stats.first_error == "HttpError: download GET returned 404"
    assert 0.3 <= stats.seconds < 10 and stats.client_cpu >= 0
