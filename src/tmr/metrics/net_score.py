"""net_score: the documented weighted combination of all metrics (the scoring policy).

The weight table is the one place the policy lives. Weights sum to 1. License carries the most
weight because it can make a model unusable outright; documentation, evidence of performance and
lineage follow; the rest share evenly. size_score enters as the mean over the four devices
(a model is not worse for not fitting a Raspberry Pi if it fits everywhere else).

Metrics that do not apply (``applicable=False``: reviewedness without a repository, tree_score
for a root model) are left out and the remaining weights are renormalised, so "not applicable"
neither rewards nor punishes. Inconclusive metrics count with their fallback score: missing
evidence is a trust problem in itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from tmr.domain.rating import MetricResult

WEIGHTS: dict[str, float] = {
    "license": 0.15,
    "ramp_up_time": 0.10,
    "performance_claims": 0.10,
    "tree_score": 0.10,
    "bus_factor": 0.08,
    "dataset_and_code_score": 0.08,
    "dataset_quality": 0.08,
    "code_quality": 0.08,
    "size_score": 0.08,
    "reproducibility": 0.08,
    "reviewedness": 0.07,
}


def scalar(result: MetricResult) -> float:
    """One number per metric: size_score is the mean over devices; clamped to [0, 1]."""
    score = result.score
    if isinstance(score, dict):  # no device at all counts as fitting none
        value = sum(score.values()) / len(score) if score else 0.0
    else:
        value = float(score)
    return min(1.0, max(0.0, value))


def net_score(results: Mapping[str, MetricResult], exclude: tuple[str, ...] = ()) -> float:
    """Weighted mean of the applicable metrics in ``results`` (weights renormalised)."""
    total = weight = 0.0
    for name, w in WEIGHTS.items():
        result = results.get(name)
        if result is None or not result.applicable or name in exclude:
            continue
        total += w * scalar(result)
        weight += w
    return round(total / weight, 4) if weight else 0.0
