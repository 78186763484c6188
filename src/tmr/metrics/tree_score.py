"""tree_score: the average net score of the model's parents in the lineage graph.

Motivation: a fine-tune inherits its base model's data, license and flaws; a model built on
poorly rated parents deserves less trust than its own card suggests.
Method: the caller resolves lineage in the registry and passes the parents' net scores
(``RatingInput.parent_scores``); the score is their mean. The registry recomputes it whenever a
rating is read (``tmr.metrics.runner.with_parents`` over the parents registered at that moment,
their own ratings brought up to date the same way), so it never goes stale when a parent or an
ancestor is registered, re-rated or deleted later.
Outcome: the mean in [0, 1]. A root model (no parent declared), or one whose declared parents are
not in the registry, has no lineage to judge: the metric is then not applicable
(``applicable=False``, so it cannot fail the ingest gate and carries no weight in the net score)
and the runner reports the model's own net score computed without it, so a root model is its own
lineage (documented choice; parents missing from the registry are also marked inconclusive).
"""

from __future__ import annotations

from tmr.domain.rating import MetricResult
from tmr.metrics.inputs import RatingInput

NAME = "tree_score"


def compute(inp: RatingInput) -> MetricResult:
    return from_parents([p.name for p in inp.snapshot.parents], inp.parent_scores)


def from_parents(declared: list[str], parent_scores: list[float]) -> MetricResult:
    """The metric from the declared parents and the net scores of those in the registry."""
    scores = [min(1.0, max(0.0, float(s))) for s in parent_scores]
    if scores:
        mean = round(sum(scores) / len(scores), 4)
        return MetricResult(
            name=NAME,
            score=mean,
            summary=f"Mean net score of {len(scores)} parent(s) in the registry is {mean:.2f}.",
            evidence={"parents": declared, "parent_scores": scores},
        )
    if declared:
        return MetricResult(
            name=NAME,
            score=0.0,
            applicable=False,
            inconclusive=True,
            summary=(
                f"Declared parent(s) {', '.join(declared[:3])} are not in the registry; "
                "the model's own net score stands in."
            ),
            evidence={"parents": declared, "parent_scores": [], "root": False},
        )
    return MetricResult(
        name=NAME,
        score=0.0,
        applicable=False,
        summary="Root model (no declared parent): its own net score stands in.",
        evidence={"parents": [], "parent_scores": [], "root": True},
    )
