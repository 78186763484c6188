"""The download-performance workload behind the dashboard's button (REQUIREMENTS §1.7).

N concurrent clients each download one artifact's bundle from the running registry over HTTP;
the result is throughput and mean, median and p99 latency. One run at a time per process: the
dashboard starts a run and polls its progress.

The run itself is a ``WorkloadRunner``: ``runner(spec, base_url, token, progress)`` returns a
``WorkloadResult``. The default, ``http_download_workload``, downloads an artifact that is
already registered; a fuller workload (seeding a registry of 500 models first, as ``tmr bench``
does) plugs in by replacing ``WorkloadJobs.runner``.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import httpx

from tmr.errors import Conflict

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class WorkloadSpec:
    artifact_id: str
    clients: int = 100
    downloads_per_client: int = 1
    part: str = "all"


@dataclass
class WorkloadResult:
    downloads: int
    failures: int
    seconds: float
    bytes: int
    throughput_per_second: float
    mean_ms: float
    median_ms: float
    p99_ms: float
    first_error: str | None = None


class WorkloadRunner(Protocol):
    def __call__(
        self, spec: WorkloadSpec, base_url: str, token: str, progress: Progress
    ) -> WorkloadResult: ...


def http_download_workload(
    spec: WorkloadSpec, base_url: str, token: str, progress: Progress
) -> WorkloadResult:
    return asyncio.run(_run(spec, base_url, token, progress))


async def _run(spec: WorkloadSpec, base_url: str, token: str, progress: Progress) -> WorkloadResult:
    total = spec.clients * spec.downloads_per_client
    latencies: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    done = 0
    limits = httpx.Limits(max_connections=spec.clients, max_keepalive_connections=spec.clients)
    url = f"{base_url}/download/{spec.artifact_id}"
    async with httpx.AsyncClient(
        limits=limits, timeout=300, headers={"X-Authorization": token}
    ) as client:

        async def one_client() -> None:
            nonlocal done
            for _ in range(spec.downloads_per_client):
                started = time.perf_counter()
                size = 0
                try:
                    async with client.stream("GET", url, params={"part": spec.part}) as r:
                        async for chunk in r.aiter_bytes(1 << 20):
                            size += len(chunk)
                        if r.status_code != 200:
                            errors.append(f"HTTP {r.status_code}")
                        else:
                            latencies.append((time.perf_counter() - started) * 1000)
                            sizes.append(size)
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                done += 1
                progress(done, total)

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(spec.clients)))
        seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return WorkloadResult(
        downloads=len(latencies),
        failures=len(errors),
        seconds=round(seconds, 3),
        bytes=sum(sizes),
        throughput_per_second=round(len(latencies) / seconds, 2) if seconds else 0.0,
        mean_ms=round(statistics.fmean(ordered), 2) if ordered else 0.0,
        median_ms=round(statistics.median(ordered), 2) if ordered else 0.0,
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)
        if ordered
        else 0.0,
        first_error=errors[0] if errors else None,
    )


@dataclass
class WorkloadJob:
    spec: WorkloadSpec
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "running"  # running | finished | failed
    done: int = 0
    total: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: WorkloadResult | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "spec": asdict(self.spec),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": asdict(self.result) if self.result else None,
            "error": self.error,
        }


class WorkloadJobs:
    """At most one workload per process; the last finished one stays readable."""

    def __init__(self, runner: WorkloadRunner = http_download_workload) -> None:
        self.runner: WorkloadRunner = runner
        self._lock = threading.Lock()
        self.current: WorkloadJob | None = None

    def start(self, spec: WorkloadSpec, base_url: str, token: str) -> WorkloadJob:
        with self._lock:
            if self.current is not None and self.current.state == "running":
                raise Conflict("a workload is already running; wait for it to finish")
            job = WorkloadJob(spec, total=spec.clients * spec.downloads_per_client)
            self.current = job
        threading.Thread(
            target=self._run, args=(job, base_url, token), name="tmr-workload", daemon=True
        ).start()
        return job

    def _run(self, job: WorkloadJob, base_url: str, token: str) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            job.result = self.runner(job.spec, base_url, token, progress)
            job.state = "finished"
        except Exception as exc:  # reported to the dashboard, never raised into a request
            job.error = f"the workload failed: {type(exc).__name__}"
            job.state = "failed"
        finally:
            job.finished_at = time.time()
