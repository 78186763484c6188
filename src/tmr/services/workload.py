"""The dashboard's download workload (REQUIREMENTS §1.7): one run at a time per process.

The dashboard starts a run and polls its progress. The run itself is a ``WorkloadRunner``
(``runner(spec, base_url, token, progress)`` returns a ``WorkloadResult``); the app plugs in the
reference experiment's code (``tmr.bench.downloads.run_on_registry`` through
``tmr.api.workload_runner``), so the button measures exactly what ``tmr bench downloads``
measures on the registry side: ``clients`` concurrent clients running the contract's download
flow (GET the artifact, then its signed ``download_url``) on Tiny-LLM for ``seconds``, after
seeding the registry to ``models`` models when it has fewer.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from tmr.errors import Conflict

# progress(phase, done, total): "seeding" with models uploaded of those missing, then
# "downloading" once when the timed run starts (its total is the run's seconds).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class WorkloadSpec:
    models: int = 500
    clients: int = 100
    seconds: float = 10.0


@dataclass
class WorkloadResult:
    flows: int  # completed downloads (each: the artifact's metadata, then its download_url)
    errors: int
    seconds: float
    bytes: int
    throughput_per_second: float  # downloads per second
    mb_per_second: float
    mean_ms: float
    median_ms: float
    p99_ms: float
    first_error: str | None = None


class WorkloadRunner(Protocol):
    def __call__(
        self, spec: WorkloadSpec, base_url: str, token: str, progress: Progress
    ) -> WorkloadResult: ...


@dataclass
class WorkloadJob:
    spec: WorkloadSpec
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "running"  # running | finished | failed
    phase: str = "starting"  # starting | seeding | downloading | done
    done: int = 0
    total: int = 0
    phase_started_at: float = field(default_factory=time.time)
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: WorkloadResult | None = None
    error: str | None = None

    def progress(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.phase_started_at = time.time()
        self.phase, self.done, self.total = phase, done, total

    def view(self) -> dict[str, Any]:
        done, total = self.done, self.total
        if self.state == "running" and self.phase == "downloading":
            total = max(1, int(round(self.spec.seconds)))
            done = min(total, int(time.time() - self.phase_started_at))
        return {
            "id": self.id,
            "state": self.state,
            "phase": self.phase,
            "done": done,
            "total": total,
            "spec": asdict(self.spec),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": asdict(self.result) if self.result else None,
            "error": self.error,
        }


class WorkloadJobs:
    """At most one workload per process; the last finished one stays readable."""

    def __init__(self, runner: WorkloadRunner) -> None:
        self.runner: WorkloadRunner = runner
        self._lock = threading.Lock()
        self.current: WorkloadJob | None = None

    def start(
        self,
        spec: WorkloadSpec,
        base_url: str,
        token: str,
        on_done: Callable[[], None] | None = None,
    ) -> WorkloadJob:
        with self._lock:
            if self.current is not None and self.current.state == "running":
                raise Conflict("a workload is already running; wait for it to finish")
            job = WorkloadJob(spec)
            self.current = job
        threading.Thread(
            target=self._run, args=(job, base_url, token, on_done), name="tmr-workload",
            daemon=True,
        ).start()  # fmt: skip
        return job

    def _run(
        self, job: WorkloadJob, base_url: str, token: str, on_done: Callable[[], None] | None
    ) -> None:
        try:
            job.result = self.runner(job.spec, base_url, token, job.progress)
            job.state = "finished"
        except Exception as exc:  # reported to the dashboard, never raised into a request
            job.error = f"the workload failed: {type(exc).__name__}: {str(exc)[:200]}"
            job.state = "failed"
        finally:
            job.phase = "done"
            job.finished_at = time.time()
            if on_done is not None:
                with contextlib.suppress(Exception):  # cleanup must not hide the result
                    on_done()
