"""Running a sensitive model's JavaScript monitor with Node.js, contained.

``node PROGRAM MODEL_NAME UPLOADER DOWNLOADER ZIP_PATH``: exit 0 allows the download, anything
else (a non-zero exit, a crash, a kill at the time limit) refuses it. Containment, in layers:

- a scratch directory (outside the registry's data directory) holding only the program and the
  zip, used as working directory and HOME; it is deleted afterwards;
- Node's permission model (``--permission``, ``--experimental-permission`` on Node 20) with reads
  allowed in the scratch directory only: no reads of the database, blobs or secrets, no writes,
  no child processes, workers or native add-ons;
- an environment with nothing but PATH, HOME and TMPDIR (no credentials, no database URL);
- limits: wall-clock time (the process group is killed), V8 heap (``--max-old-space-size``),
  address space, CPU seconds, open files, file size and no core dumps (``setrlimit``);
- stdout and stderr read with caps (the rest is drained and dropped);
- no network unless ``TMR_MONITOR_ALLOW_NETWORK=1``: the program runs in an empty network
  namespace (``unshare --net``) when the machine allows it.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger("tmr.monitor")

PROGRAM_NAME = "monitor.js"
ZIP_NAME = "download.zip"


@dataclass(frozen=True)
class MonitorLimits:
    node: str
    timeout_seconds: float = 10.0
    heap_mb: int = 128
    address_space_mb: int = 3072
    output_bytes: int = 64 * 1024
    allow_network: bool = False


@dataclass(frozen=True)
class MonitorOutcome:
    allowed: bool
    exit_code: int | None  # None when killed at the time limit
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False

    @property
    def first_line(self) -> str:
        for line in self.stdout.splitlines():
            if line.strip():
                return line.strip()[:500]
        return ""


# --- which Node -----------------------------------------------------------------------------
def project_node() -> Path | None:
    """The npm ``node@24`` package installed by the project's scripts (``.tools/node``)."""
    root = Path(__file__).resolve().parents[3]
    candidate = root / ".tools" / "node" / "node_modules" / "node" / "bin" / "node"
    return candidate if candidate.is_file() else None


def find_node(configured: str | None) -> str | None:
    """TMR_NODE_BINARY, else the project's node@24 from npm, else the machine's ``node``."""
    if configured:
        return configured
    local = project_node()
    if local is not None:
        return str(local)
    return shutil.which("node")


@functools.lru_cache(maxsize=8)
def node_version(node: str) -> str | None:
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, env=_base_env("/")
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _major(version: str | None) -> int:
    try:
        return int((version or "v0").lstrip("v").split(".", 1)[0])
    except ValueError:
        return 0


@functools.lru_cache(maxsize=1)
def network_isolation_available() -> bool:
    """Whether ``unshare --net`` works here (root, or unprivileged user namespaces)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    for cmd in ([unshare, "--net", "--", "true"], [unshare, "-rn", "--", "true"]):
        try:
            if subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0:
                return True
        except (OSError, subprocess.SubprocessError):
            continue
    return False


@functools.lru_cache(maxsize=1)
def _unshare_prefix() -> tuple[str, ...]:
    unshare = shutil.which("unshare") or "unshare"
    try:
        probe = subprocess.run([unshare, "--net", "--", "true"], capture_output=True, timeout=10)
        if probe.returncode == 0:
            return (unshare, "--net", "--")
    except (OSError, subprocess.SubprocessError):
        pass
    return (unshare, "-rn", "--")


# --- running ----------------------------------------------------------------------------------
def _base_env(home: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}


def _limits(limits: MonitorLimits) -> None:  # runs in the child between fork and exec
    import resource

    mb = 1024 * 1024
    cpu = int(limits.timeout_seconds) + 2
    for res, value in (
        (resource.RLIMIT_AS, limits.address_space_mb * mb),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, 1 * mb),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, 256),
    ):
        resource.setrlimit(res, (value, value))


def _reader(stream: IO[bytes], cap: int, sink: list[bytes], flags: list[bool]) -> None:
    kept = 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            return
        if kept < cap:
            take = chunk[: cap - kept]
            sink.append(take)
            kept += len(take)
            if len(take) < len(chunk):
                flags.append(True)
        else:
            flags.append(True)


def run_monitor(
    limits: MonitorLimits,
    scratch: Path,
    program: str,
    model_name: str,
    uploader: str,
    downloader: str,
) -> MonitorOutcome:
    """Run ``program`` on ``scratch/download.zip`` (already written by the caller)."""
    program_path = scratch / PROGRAM_NAME
    program_path.write_text(program, encoding="utf-8")
    zip_path = scratch / ZIP_NAME
    version = node_version(limits.node)
    permission = "--permission" if _major(version) >= 23 else "--experimental-permission"
    cmd = [
        limits.node,
        f"--max-old-space-size={limits.heap_mb}",
        permission,
        f"--allow-fs-read={scratch}",
        "--disable-warning=ExperimentalWarning" if _major(version) >= 21 else "--no-warnings",
        str(program_path),
        model_name,
        uploader,
        downloader,
        str(zip_path),
    ]
    if not limits.allow_network and network_isolation_available():
        cmd = [*_unshare_prefix(), *cmd]
    out: list[bytes] = []
    err: list[bytes] = []
    truncated: list[bool] = []
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        cmd,
        cwd=scratch,
        env=_base_env(str(scratch)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=functools.partial(_limits, limits),  # noqa: PLW1509
    )
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_reader, args=(proc.stdout, limits.output_bytes, out, truncated)),
        threading.Thread(target=_reader, args=(proc.stderr, limits.output_bytes, err, truncated)),
    ]
    for t in readers:
        t.daemon = True
        t.start()
    timed_out = False
    try:
        code: int | None = proc.wait(timeout=limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        code = None
        _kill_group(proc)
    for t in readers:
        t.join(timeout=5)
    if proc.poll() is None:  # pragma: no cover - a child holding the pipes open
        _kill_group(proc)

    def text(chunks: list[bytes]) -> str:
        raw = b"".join(chunks).decode("utf-8", errors="replace")
        return raw.replace(str(scratch), ".")  # never show the scratch path

    return MonitorOutcome(
        allowed=(code == 0 and not timed_out),
        exit_code=code,
        stdout=text(out),
        stderr=text(err),
        timed_out=timed_out,
        truncated=bool(truncated),
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover
        log.warning("monitor process %s did not die", proc.pid)
