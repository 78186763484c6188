"""``tmr serve`` replicas in their own processes, for the scale-out tests and scripts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    """One ``tmr serve`` process on a free loopback port with the given environment."""

    def __init__(self, env: dict[str, str], data_dir: Path, workers: int = 1) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.netloc = f"127.0.0.1:{self.port}"
        full = {**os.environ, "TMR_DATA_DIR": str(data_dir), "HF_HOME": str(data_dir / "hf"),
                **env}
        cmd = [sys.executable, "-m", "tmr.cli", "serve", "--port", str(self.port)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=full, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tmr serve on {self.port} exited {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tmr serve on {self.port} did not answer in {timeout:.0f} s")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, in-flight requests are cut off."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_replicas(
    n: int, env: dict[str, str], root: Path, workers: int = 1
) -> list[Replica]:
    """Start ``n`` replicas at once (they migrate the shared database concurrently)."""
    replicas = [Replica(env, root / f"replica-{i}", workers) for i in range(n)]
    try:
        for r in replicas:
            r.wait_ready()
    except BaseException:
        for r in replicas:
            r.kill()
        raise
    return replicas
