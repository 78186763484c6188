"""``tmr serve`` in its own process on loopback, for tests that need a real served registry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ADMIN, ADMIN_PASSWORD, free_port


class ServedRegistry:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "TMR_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "1",
            "LOG_FILE": str(data_dir.parent / f"{data_dir.name}.log"),
            **env,
        }
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServedRegistry:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tmr.cli", "serve", "--port", str(self.port)], env=self.env
        )
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, "tmr serve exited"
            assert time.time() < deadline, "tmr serve did not answer within 60 s"
            time.sleep(0.2)

    def token(self) -> str:
        r = httpx.put(
            f"{self.base}/authenticate",
            json={
                "user": {"name": ADMIN, "is_admin": True},
                "secret": {"password": ADMIN_PASSWORD},
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return str(r.json())

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
