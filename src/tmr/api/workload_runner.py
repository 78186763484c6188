"""The dashboard's workload runner: the reference experiment's own code
(``tmr.bench.downloads.run_on_registry``, the same ``run_workload`` and load generator that
``tmr bench downloads`` measures the registry with) against this server, its figures turned into
the dashboard's ``WorkloadResult``. ``create_app`` plugs it into ``app.state.workloads``."""

from __future__ import annotations

from tmr.bench.downloads import run_on_registry
from tmr.services.workload import Progress, WorkloadResult, WorkloadSpec


def reference_workload(
    spec: WorkloadSpec, base_url: str, token: str, progress: Progress
) -> WorkloadResult:
    stats = run_on_registry(base_url, token, spec.models, spec.clients, spec.seconds, progress)
    s = stats.summary()
    return WorkloadResult(
        flows=stats.flows,
        errors=stats.errors,
        seconds=round(stats.seconds, 3),
        bytes=stats.bytes,
        throughput_per_second=round(stats.flows_per_s, 2),
        mb_per_second=round(stats.mb_per_s, 1),
        mean_ms=float(s["mean_ms"]),
        median_ms=float(s["median_ms"]),
        p99_ms=float(s["p99_ms"]),
        first_error=stats.first_error or None,
    )
