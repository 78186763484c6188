"""The ingest gate: the one policy that decides whether a rated model may enter the registry.

Built once from settings (:meth:`GatePolicy.from_settings`) and used by every path that gates
(registration from a URL, update, upload when ``TMR_GATE_UPLOADS`` is on) and by
``/rate/explain``, so the explanation of a rating is always the decision the registry makes.

Rules, in order:

1. A model whose source yields no evidence (a web page, not a Hugging Face or GitHub
   repository) is refused: nothing can be rated, so nothing can be vetted.
2. License: no license, or one the registry cannot identify, is refused with that reason,
   whatever the score and the treatment of inconclusive metrics (a license is never "missing
   evidence": without one nothing is granted).
3. Every other applicable metric must reach ``threshold``. Exceptions: metrics that do not
   apply (reviewedness -1 without a repository, tree_score of a root model); size_score fails
   only when the model fits no device (its best device is below the threshold); inconclusive
   metrics (no data to judge) count with their score when ``inconclusive`` is ``"fail"`` and are
   left out when it is ``"ignore"``.

Pure: no I/O; a decision depends on the rating and the policy only (never on credentials).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tmr.domain.rating import METRIC_NAMES, Rating

Inconclusive = Literal["fail", "ignore"]
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class GateFailure:
    metric: str
    score: float
    reason: str


@dataclass(frozen=True)
class GateDecision:
    enabled: bool
    failures: list[GateFailure] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.enabled or not self.failures

    @property
    def listing(self) -> str:
        return "; ".join(f"{f.metric}={f.score:.2f} ({f.reason})" for f in self.failures)


@dataclass(frozen=True)
class GatePolicy:
    enabled: bool = True
    threshold: float = DEFAULT_THRESHOLD
    inconclusive: Inconclusive = "ignore"
    gate_uploads: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> GatePolicy:
        return cls(
            enabled=settings.gate_enabled,
            threshold=settings.gate_threshold,
            inconclusive="fail" if settings.gate_inconclusive.lower() == "fail" else "ignore",
            gate_uploads=settings.gate_uploads,
        )

    def applies_to(self, source: str) -> bool:
        """Whether models from ``source`` are gated (uploads only when configured)."""
        return self.enabled and (source != "upload" or self.gate_uploads)

    def evaluate(self, rating: Rating, source: str) -> GateDecision:
        """The decision for a rating of a model from ``source`` (what would happen if gated)."""
        failures: list[GateFailure] = []
        if source == "web":
            failures.append(
                GateFailure(
                    "source",
                    0.0,
                    "the URL is not a Hugging Face or GitHub repository: the source yields no "
                    "evidence to rate",
                )
            )
        for name in METRIC_NAMES:
            failure = self._judge(rating, name)
            if failure is not None:
                failures.append(failure)
        return GateDecision(enabled=self.applies_to(source), failures=failures)

    def _judge(self, rating: Rating, name: str) -> GateFailure | None:
        result = rating.metrics.get(name)
        if result is None:
            return None
        score = result.score
        value = max(score.values()) if isinstance(score, dict) else float(score)
        if name == "license":
            declared = result.evidence.get("declared")
            if not declared:
                return GateFailure(name, value, "no license is declared: nothing is granted")
            if result.evidence.get("normalized") is None:
                return GateFailure(
                    name, value, f"the license {declared!r} cannot be identified by the registry"
                )
            decider = result.evidence.get("decided_by")
            if decider and value < self.threshold:
                return GateFailure(
                    name, round(value, 4), f"the license of its ancestor {decider} decides it"
                )
        if not result.applicable or (name == "reviewedness" and value < 0):
            return None
        if result.inconclusive and self.inconclusive == "ignore":
            return None
        if value >= self.threshold:
            return None
        what = "best device" if name == "size_score" else "score"
        note = " (inconclusive: no data to judge)" if result.inconclusive else ""
        return GateFailure(name, round(value, 4), f"{what} below {self.threshold:g}{note}")

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "threshold": self.threshold,
            "inconclusive": self.inconclusive,
            "gate_uploads": self.gate_uploads,
        }
