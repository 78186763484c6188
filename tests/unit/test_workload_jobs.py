"""The dashboard's workload jobs: one run at a time, progress while it runs, the result or the
failure afterwards, and the cleanup callback always."""

from __future__ import annotations

import threading
import time

import pytest

from tmr.errors import Conflict
from tmr.services.workload import (
    Progress,
    WorkloadJob,
    WorkloadJobs,
    WorkloadResult,
    WorkloadSpec,
)

RESULT = WorkloadResult(flows=10, errors=0, seconds=1.0, bytes=1000, throughput_per_second=10.0,
                        mb_per_second=0.0, mean_ms=5.0, median_ms=4.0, p99_ms=9.0)  # fmt: skip


def _wait(job: WorkloadJob) -> None:
    deadline = time.time() + 10
    while job.state == "running" and time.time() < deadline:
        time.sleep(0.01)


def test_one_run_at_a_time_and_its_progress() -> None:
    release = threading.Event()
    seen: list[tuple[str, str, str]] = []

    def runner(spec: WorkloadSpec, base: str, token: str, progress: Progress) -> WorkloadResult:
        seen.append((base, token, str(spec.clients)))
        progress("seeding", 1, 2)
        progress("seeding", 2, 2)
        release.wait(10)
        return RESULT

    jobs = WorkloadJobs(runner)
    job = jobs.start(WorkloadSpec(models=2, clients=3, seconds=4), "http://r", "tok")
    deadline = time.time() + 10
    while job.done < 2 and time.time() < deadline:
        time.sleep(0.01)
    view = job.view()
    assert (view["state"], view["phase"], view["done"], view["total"]) == ("running", "seeding",
                                                                           2, 2)  # fmt: skip
    assert view["spec"] == {"models": 2, "clients": 3, "seconds": 4}
    assert view["result"] is None and view["finished_at"] is None
    with pytest.raises(Conflict, match=r"^a workload is already running; wait for it to finish$"):
        jobs.start(WorkloadSpec(), "http://r", "tok")
    release.set()
    _wait(job)
    view = job.view()
    assert view["state"] == "finished" and view["phase"] == "done"
    assert view["result"]["flows"] == 10 and view["error"] is None
    assert view["finished_at"] >= view["started_at"]
    assert seen == [("http://r", "tok", "3")]
    again = jobs.start(WorkloadSpec(), "http://r", "tok")  # the last one finished: allowed
    assert again.id != job.id and jobs.current is again
    _wait(again)


def test_downloading_progress_counts_the_seconds_of_the_timed_run() -> None:
    job = WorkloadJob(WorkloadSpec(seconds=10))
    job.progress("downloading", 0, 10)
    job.phase_started_at -= 3.5  # the timed run began 3.5 s ago
    view = job.view()
    assert (view["phase"], view["done"], view["total"]) == ("downloading", 3, 10)
    job.phase_started_at -= 60
    assert job.view()["done"] == 10  # never beyond the total
    started = job.phase_started_at
    job.progress("downloading", 0, 10)  # same phase: its start stays
    assert job.phase_started_at == started
    job.state = "finished"
    assert job.view()["done"] == 0  # once finished, the figures as recorded


def test_a_failing_run_is_reported_and_cleanup_still_runs() -> None:
    def runner(spec: WorkloadSpec, base: str, token: str, progress: Progress) -> WorkloadResult:
        raise RuntimeError("registering Tiny-LLM failed: 403 " + "x" * 300)

    cleaned: list[bool] = []

    def on_done() -> None:
        cleaned.append(True)
        raise OSError("cleanup trouble must not hide the result")

    job = WorkloadJobs(runner).start(WorkloadSpec(), "http://r", "tok", on_done=on_done)
    _wait(job)
    deadline = time.time() + 10
    while not cleaned and time.time() < deadline:
        time.sleep(0.01)
    assert job.state == "failed" and job.phase == "done" and job.result is None
    assert job.error is not None
    assert job.error.startswith(
        "the workload failed: RuntimeError: registering Tiny-LLM failed: 403 xxx"
    )
    assert len(job.error) == len("the workload failed: RuntimeError: ") + 200
    assert cleaned == [True]
