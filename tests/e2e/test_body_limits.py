"""Request bodies against a served registry (issue 7): an unauthenticated upload is refused
before its body is read, an oversized JSON body before a byte of it is, and a body without a
Content-Length is cut off at the limit (the server's memory does not grow with it)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.served_process import ServedRegistry


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedRegistry]:
    served = ServedRegistry(tmp_path / "served").start()
    yield served
    served.stop()


def _send_head(server: ServedRegistry, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    sock.sendall(head.encode())
    return sock


def _response_head(sock: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


def test_an_upload_without_a_token_is_refused_before_its_body_is_read(server):
    declared = 300 * 1024 * 1024
    sock = _send_head(
        server,
        "POST /artifact/model/upload HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: multipart/form-data; boundary=b0und\r\n"
        f"Content-Length: {declared}\r\n\r\n",
    )
    with contextlib.suppress(OSError):  # the server may answer before all of it is sent
        sock.sendall(
            b'--b0und\r\nContent-Disposition: form-data; name="file"; filename="m.zip"\r\n'
            b"\r\n" + b"\0" * (1024 * 1024)
        )
    # the answer comes while 299 MB are still unsent: the server is not waiting for the body
    head = _response_head(sock)
    sock.close()
    assert head.startswith("HTTP/1.1 403"), head
    work = server.data_dir / "work"
    assert not work.exists() or not any(work.iterdir())


def test_an_oversized_json_body_is_413_before_it_is_read(server):
    sock = _send_head(
        server,
        "POST /artifacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n\r\n",
    )
    head = _response_head(sock)
    sock.close()
    assert head.startswith("HTTP/1.1 413"), head


def test_a_chunked_body_is_cut_off_at_the_limit(server):
    before = server.rss_mb()
    sock = _send_head(
        server,
        "POST /artifacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-Authorization: {server.token()}\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"x" * 65536
    sent = 0
    started = time.time()
    try:
        while sent < 64 * 1024 * 1024 and time.time() - started < 60:
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
    except OSError:
        pass  # the server answered and closed the connection: exactly what we want
    head = _response_head(sock)
    sock.close()
    assert head.startswith("HTTP/1.1 413"), head
    assert sent < 64 * 1024 * 1024  # it stopped reading long before the end
    assert server.rss_mb() - before < 50
