"""The app started by an external ASGI server, the way deployments run it: ``uvicorn
tmr.asgi:app`` (settings from the environment), and ``tmr serve --workers 2``, whose workers
import ``tmr.asgi:served``. Each answers real requests on loopback and keeps its data where
``TMR_DATA_DIR`` says."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN, ADMIN_PASSWORD, free_port

CREDENTIALS = {"user": {"name": ADMIN, "is_admin": True}, "secret": {"password": ADMIN_PASSWORD}}


@contextmanager
def _server(command: list[str], data_dir: Path) -> Iterator[str]:
    env = {**os.environ, "TMR_DATA_DIR": str(data_dir), "LOG_LEVEL": "0",
           "HF_HOME": str(data_dir / "hf")}  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{command[command.index('--port') + 1]}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"{command} exited {proc.returncode}"
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{command} did not answer within 90 s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()  # a clean exit: the coverage of the served process is written
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _log_in_and_enumerate(base: str) -> list[object]:
    token = httpx.put(f"{base}/authenticate", json=CREDENTIALS, timeout=60)
    assert token.status_code == 200, token.text
    r = httpx.post(f"{base}/artifacts", json=[{"name": "*"}], timeout=30,
                   headers={"X-Authorization": token.json()})  # fmt: skip
    assert r.status_code == 200, r.text
    return list(r.json())


def test_uvicorn_serves_tmr_asgi_app_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = str(free_port())
    command = [sys.executable, "-m", "uvicorn", "tmr.asgi:app", "--host", "127.0.0.1",
               "--port", port, "--log-level", "warning"]  # fmt: skip
    with _server(command, data) as base:
        health = httpx.get(f"{base}/health", timeout=10)
        assert health.status_code == 200
        assert _log_in_and_enumerate(base) == []  # a fresh registry, the default admin
    assert (data / "registry.db").exists() and (data / "audit.key").exists()


def test_tmr_serve_with_two_workers_runs_the_zero_copy_app(tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = [sys.executable, "-m", "tmr.cli", "serve", "--port", str(free_port()),
               "--workers", "2", "--server", "uvicorn"]  # fmt: skip
    with _server(command, data) as base:
        r = httpx.post(f"{base}/artifacts", json=[{"name": "*"}], timeout=30)
        assert r.status_code == 403 and "missing X-Authorization header" in r.text
        assert httpx.get(f"{base}/no-such-route", timeout=10).status_code == 404
    assert (data / "registry.db").exists()
