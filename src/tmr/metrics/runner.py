"""Rate a model: run every metric over its snapshot in parallel, time each, combine, explain.

The runner owns what metrics must not: timing (each metric's latency is measured here), failure
isolation (an exception in one metric becomes an inconclusive, logged result, never a failed
rating), the root-model rule of tree_score, the net score and the ingest-gate policy.

Gate policy (``gate_failures``): every applicable metric must reach ``GATE_THRESHOLD``. Not
applicable metrics (reviewedness -1, tree_score of a root model) are excluded. size_score fails
only when the model fits no device at all (its best device is below the threshold): a model for
servers is not untrustworthy because it does not fit a Raspberry Pi. Inconclusive metrics count
with their fallback score by default: a model whose evidence is missing is not vetted
(``include_inconclusive=False`` is the lenient variant for deployments that want it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tmr.domain.rating import METRIC_NAMES, SIZE_DEVICES, MetricResult, Rating
from tmr.metrics import (
    bus_factor,
    code_quality,
    dataset_and_code_score,
    dataset_quality,
    license,
    performance_claims,
    ramp_up_time,
    reproducibility,
    reviewedness,
    size_score,
    tree_score,
)
from tmr.metrics.inputs import RatingInput
from tmr.metrics.net_score import net_score

__all__ = ["RatingInput", "rate_model", "gate_failures", "explain", "METRICS", "GATE_THRESHOLD"]

log = logging.getLogger(__name__)
GATE_THRESHOLD = 0.5
Metric = Callable[[RatingInput], MetricResult]
METRICS: dict[str, Metric] = {
    "ramp_up_time": ramp_up_time.compute,
    "bus_factor": bus_factor.compute,
    "performance_claims": performance_claims.compute,
    "license": license.compute,
    "dataset_and_code_score": dataset_and_code_score.compute,
    "dataset_quality": dataset_quality.compute,
    "code_quality": code_quality.compute,
    "reproducibility": reproducibility.compute,
    "reviewedness": reviewedness.compute,
    "tree_score": tree_score.compute,
    "size_score": size_score.compute,
}
_EXECUTOR = ThreadPoolExecutor(max_workers=len(METRICS), thread_name_prefix="tmr-metric")


def _fallback(name: str) -> float | dict[str, float]:
    return {d: 0.0 for d in SIZE_DEVICES} if name == "size_score" else 0.0


def _timed(name: str, metric: Metric, inp: RatingInput) -> MetricResult:
    start = time.perf_counter()
    try:
        result = metric(inp)
        result.name = name
    except Exception as exc:  # a metric bug must not fail the rating: record it, visibly
        log.exception("metric %s failed for %s", name, inp.name)
        result = MetricResult(
            name=name,
            score=_fallback(name),
            inconclusive=True,
            summary=f"The metric failed ({type(exc).__name__}: {exc}); scored as no evidence.",
            evidence={"error": f"{type(exc).__name__}: {exc}"},
        )
    result.latency_seconds = time.perf_counter() - start
    return result


def rate_model(inp: RatingInput, metrics: dict[str, Metric] | None = None) -> Rating:
    """Compute every metric in parallel and combine them into a Rating."""
    chosen = metrics if metrics is not None else METRICS
    start = time.perf_counter()
    futures = {n: _EXECUTOR.submit(_timed, n, m, inp) for n, m in chosen.items()}
    results = {n: f.result() for n, f in futures.items()}
    for name in METRIC_NAMES:
        if name not in results:
            results[name] = MetricResult(
                name=name, score=_fallback(name), inconclusive=True, summary="Metric not computed."
            )
    tree = results["tree_score"]
    if not tree.applicable:
        own = net_score(results, exclude=("tree_score",))
        tree.score = own
        tree.evidence["stands_in"] = "own net score without tree_score"
    net = net_score(results)
    return Rating(
        name=inp.name, net_score=net, net_score_latency=time.perf_counter() - start, metrics=results
    )


def gate_failures(
    rating: Rating, threshold: float = GATE_THRESHOLD, include_inconclusive: bool = True
) -> list[tuple[str, float]]:
    """(metric, score) of every applicable metric below the threshold; empty means accepted.

    ``include_inconclusive=False`` is the lenient variant: metrics that could not be computed
    (no dataset linked, no repository) are then left out instead of counting as failures.
    """
    failures: list[tuple[str, float]] = []
    for name in METRIC_NAMES:
        result = rating.metrics.get(name)
        if result is None or not result.applicable:
            continue
        if result.inconclusive and not include_inconclusive:
            continue
        score = result.score
        value = max(score.values()) if isinstance(score, dict) else float(score)
        if name == "reviewedness" and value < 0:
            continue
        if value < threshold:
            failures.append((name, round(value, 4)))
    return failures


def explain(rating: Rating, include_inconclusive: bool = True) -> dict[str, Any]:
    """Per metric: score, why (summary), evidence, flags and latency, plus the net score and
    the gate failures under the given policy."""
    failures = gate_failures(rating, include_inconclusive=include_inconclusive)
    return {
        "name": rating.name,
        "net_score": rating.net_score,
        "gate_failures": [{"metric": n, "score": s} for n, s in failures],
        "metrics": {
            name: {
                "score": r.score,
                "summary": r.summary,
                "evidence": r.evidence,
                "inconclusive": r.inconclusive,
                "applicable": r.applicable,
                "latency_seconds": round(r.latency_seconds, 6),
            }
            for name, r in rating.metrics.items()
        },
    }
