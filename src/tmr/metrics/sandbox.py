"""A small sandbox for running model-card example code: separate process, no network, limits.

Used by the reproducibility metric by default when the needed Python is present (this
interpreter with ``huggingface_hub``, or ``TMR_SANDBOX_PYTHON``; ``TMR_SANDBOX=off`` falls back to
static judgement). The model's own files are staged as an offline Hugging Face cache
(:func:`stage_hf_cache`), so examples that download the model resolve locally while the network
stays blocked.

Isolation, in layers (none is a security boundary on its own; deploy the sandbox interpreter in a
container without network for untrusted production use):
* a fresh temporary working directory and ``HOME``; an environment with no proxies, no tokens and
  the Hugging Face libraries forced offline;
* a ``sitecustomize`` that makes every socket connection and name lookup raise;
* ``resource.setrlimit`` in the child before ``exec``: CPU seconds, address space, file size and
  open files; its own session so a timeout kills the whole process group. The ``preexec_fn``
  only calls ``resource.setrlimit`` (already imported, takes no lock), which keeps it safe
  although the runner calls us from a worker thread.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_SITECUSTOMIZE = """
import socket as _s

def _blocked(*args, **kwargs):
    raise OSError("network access is disabled in the TMR sandbox")

_s.socket.connect = _blocked
_s.socket.connect_ex = _blocked
_s.socket.sendto = _blocked
_s.create_connection = _blocked
_s.getaddrinfo = _blocked
_s.gethostbyname = _blocked
"""


@dataclass(frozen=True)
class SandboxConfig:
    python: str = sys.executable
    timeout_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_bytes: int = 4 * 1024**3
    max_file_bytes: int = 64 * 1024**2
    max_output_chars: int = 20_000


@dataclass(frozen=True)
class StagedRepo:
    """A model's own files, staged in the sandbox as an offline Hugging Face cache so that
    ``hf_hub_download``, ``snapshot_download`` and ``from_pretrained`` resolve locally under
    each of ``repo_ids`` (the hub id and the names a card may use for it)."""

    repo_ids: tuple[str, ...]
    files: dict[str, Path | bytes]
    revision: str


def stage_hf_cache(hub: Path, staged: StagedRepo) -> None:
    """Lay out ``hub`` like ``huggingface_hub``'s cache: ``models--ORG--NAME/refs/main`` naming
    the revision, and ``snapshots/REVISION/PATH`` holding each file."""
    for repo_id in dict.fromkeys(staged.repo_ids):
        folder = hub / f"models--{repo_id.replace('/', '--')}"
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text(staged.revision)
        snapshot = folder / "snapshots" / staged.revision
        for path, content in staged.files.items():
            dest = snapshot / path
            if not dest.resolve().is_relative_to(snapshot.resolve()):
                continue  # never outside the cache (paths come from the repository)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                dest.write_bytes(content)
            else:
                shutil.copyfile(content, dest)


@dataclass(frozen=True)
class SandboxResult:
    ok: bool
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float


def _limits(config: SandboxConfig) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (config.cpu_seconds, config.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (config.memory_bytes, config.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config.max_file_bytes, config.max_file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def run_python(
    code: str, config: SandboxConfig, staged: StagedRepo | None = None
) -> SandboxResult:
    """Run ``code`` with the configured interpreter under the sandbox, with the model's own files
    (``staged``) in an offline Hugging Face cache; never raises for the code's own failures
    (they are in the result)."""
    with tempfile.TemporaryDirectory(prefix="tmr-sandbox-") as tmp:
        work = Path(tmp)
        (work / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        (work / "main.py").write_text(code)
        if staged is not None:
            stage_hf_cache(work / "hf" / "hub", staged)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": tmp,
            "PYTHONPATH": tmp,
            "PYTHONDONTWRITEBYTECODE": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HOME": str(work / "hf"),
            "HF_HUB_CACHE": str(work / "hf" / "hub"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "NO_PROXY": "*",
            "MPLBACKEND": "Agg",
        }
        start = time.monotonic()
        proc = subprocess.Popen(  # noqa: S603 - the interpreter path comes from configuration
            [config.python, "-s", "main.py"],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: _limits(config),
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=config.timeout_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
        limit = config.max_output_chars
        return SandboxResult(
            ok=not timed_out and proc.returncode == 0,
            returncode=proc.returncode,
            stdout=out[-limit:],
            stderr=err[-limit:],
            timed_out=timed_out,
            seconds=time.monotonic() - start,
        )
