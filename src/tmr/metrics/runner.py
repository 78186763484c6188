"""Rate a model: run every metric over its snapshot in parallel, time each, combine, explain.

The runner owns what metrics must not: timing (each metric's latency is measured here), failure
isolation (an exception in one metric becomes an inconclusive, logged result, never a failed
rating), the root-model rule of tree_score and the net score. The ingest gate's policy is
:mod:`tmr.metrics.gate`.
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

__all__ = ["RatingInput", "rate_model", "with_parents", "explain", "METRICS"]

log = logging.getLogger(__name__)
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
    _settle_tree(results)
    return Rating(
        name=inp.name,
        net_score=net_score(results),
        net_score_latency=time.perf_counter() - start,
        metrics=results,
    )


def _settle_tree(results: dict[str, MetricResult]) -> None:
    """The root-model rule: a model without rated parents is its own lineage."""
    tree = results["tree_score"]
    if not tree.applicable:
        tree.score = net_score(results, exclude=("tree_score",))
        tree.evidence["stands_in"] = "own net score without tree_score"


def with_parents(rating: Rating, parent_scores: list[float]) -> Rating:
    """``rating`` with tree_score and the net score recomputed from the parents' current net
    scores (everything else as stored); the stored rating is not changed."""
    results = {n: r.model_copy(deep=True) for n, r in rating.metrics.items()}
    old = results.get("tree_score")
    declared = [str(p) for p in (old.evidence.get("parents") or [])] if old else []
    tree = tree_score.from_parents(declared, parent_scores)
    tree.name = "tree_score"
    tree.latency_seconds = old.latency_seconds if old else 0.0
    results["tree_score"] = tree
    _settle_tree(results)
    return rating.model_copy(update={"metrics": results, "net_score": net_score(results)})


def explain(rating: Rating) -> dict[str, Any]:
    """Per metric: score, why (summary), evidence, flags and latency, plus the net score (the
    gate's verdict is added by whoever holds the gate policy: :mod:`tmr.metrics.gate`)."""
    return {
        "name": rating.name,
        "net_score": rating.net_score,
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
