"""A model's trust rating: one result per metric with its evidence and latency."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

SIZE_DEVICES = ("raspberry_pi", "jetson_nano", "desktop_pc", "aws_server")

# The ModelRating keys, in the order the contract lists them (size_score is a per-device map).
METRIC_NAMES = (
    "ramp_up_time",
    "bus_factor",
    "performance_claims",
    "license",
    "dataset_and_code_score",
    "dataset_quality",
    "code_quality",
    "reproducibility",
    "reviewedness",
    "tree_score",
    "size_score",
)


class MetricResult(BaseModel):
    """The outcome of one metric.

    ``score`` is a float in [0, 1] (reviewedness may be -1, "not applicable"); for size_score it
    is a dict device -> float. ``inconclusive`` marks a metric that could not be computed from
    the data at hand (the score then is the documented fallback; the reason is in ``summary``).
    """

    name: str
    score: float | dict[str, float]
    latency_seconds: float = 0.0
    summary: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    inconclusive: bool = False
    applicable: bool = True


class Rating(BaseModel):
    name: str
    category: str = "MODEL"
    net_score: float
    net_score_latency: float
    metrics: dict[str, MetricResult]

    def to_model_rating(
        self, metric_names: tuple[str, ...] = METRIC_NAMES, latency_ms: bool = False
    ) -> dict[str, Any]:
        """The contract's ModelRating body: exactly its fields, latencies in seconds.

        The earlier CLI's record (``tmr rate``) is the same shape over fewer metrics, with
        latencies in integer milliseconds.
        """

        def latency(seconds: float) -> float | int:
            return round(seconds * 1000) if latency_ms else round(seconds, 6)

        body: dict[str, Any] = {
            "name": self.name,
            "category": self.category,
            "net_score": round(self.net_score, 4),
            "net_score_latency": latency(self.net_score_latency),
        }
        for key in metric_names:
            result = self.metrics[key]
            score = result.score
            body[key] = (
                {d: round(float(score[d]), 4) for d in SIZE_DEVICES}
                if isinstance(score, dict)
                else round(float(score), 4)
            )
            body[f"{key}_latency"] = latency(result.latency_seconds)
        return body
