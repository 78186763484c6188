"""The net score: the weighted mean of the applicable metrics, straight from the weight table."""

from __future__ import annotations

import pytest

from tmr.domain.rating import SIZE_DEVICES, MetricResult
from tmr.metrics.net_score import WEIGHTS, net_score, scalar


def results(value: float = 1.0, **scores: float) -> dict[str, MetricResult]:
    out = {name: MetricResult(name=name, score=value) for name in WEIGHTS}
    for name, score in scores.items():
        out[name] = MetricResult(name=name, score=score)
    return out


def test_the_weights_are_the_documented_policy():
    assert WEIGHTS["license"] == 0.15 and max(WEIGHTS.values()) == WEIGHTS["license"]
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert len(WEIGHTS) == 11


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.25, 0.25),
        (1.5, 1.0),
        (-1.0, 0.0),
        ({"raspberry_pi": 0.0, "jetson_nano": 0.5, "desktop_pc": 1.0, "aws_server": 0.5}, 0.5),
        ({d: 2.0 for d in SIZE_DEVICES}, 1.0),
        ({}, 0.0),
    ],
)
def test_scalar_clamps_and_averages_devices(score, expected):
    assert scalar(MetricResult(name="m", score=score)) == expected


def test_each_metric_counts_with_its_own_weight():
    for name, weight in WEIGHTS.items():
        assert net_score(results(**{name: 0.0})) == pytest.approx(round(1.0 - weight, 4))


def test_not_applicable_and_excluded_metrics_leave_and_the_rest_renormalise():
    scores = results(0.5, license=1.0)
    expected = round((0.15 * 1.0 + 0.85 * 0.5), 4)
    assert net_score(scores) == expected
    scores["license"] = MetricResult(name="license", score=1.0, applicable=False)
    assert net_score(scores) == 0.5
    assert net_score(results(0.5, license=1.0), exclude=("license",)) == 0.5
    assert net_score(results(0.5, tree_score=0.0), exclude=("tree_score",)) == 0.5


def test_missing_metrics_are_left_out_and_nothing_gives_zero():
    only = {"bus_factor": MetricResult(name="bus_factor", score=0.3)}
    assert net_score(only) == 0.3
    assert net_score({}) == 0.0
    assert net_score({"unknown": MetricResult(name="unknown", score=1.0)}) == 0.0
    assert net_score(results(), exclude=tuple(WEIGHTS)) == 0.0


def test_inconclusive_metrics_count_with_their_fallback_score():
    scores = results()
    scores["dataset_quality"] = MetricResult(name="dataset_quality", score=0.0, inconclusive=True)
    assert net_score(scores) == pytest.approx(round(1.0 - WEIGHTS["dataset_quality"], 4))


def test_the_result_is_rounded_to_four_places():
    value = net_score(results(1 / 3))
    assert value == 0.3333 and value != 1 / 3
