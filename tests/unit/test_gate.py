"""The gate policy: one object, built from settings, deciding from the rating alone."""

from __future__ import annotations

import pytest

from tmr.config import load_settings
from tmr.domain.rating import METRIC_NAMES, SIZE_DEVICES, MetricResult, Rating
from tmr.metrics.gate import GatePolicy

MIT = {"declared": "mit", "normalized": "MIT"}


def _rating(**scores) -> Rating:
    metrics = {n: MetricResult(name=n, score=0.9) for n in METRIC_NAMES}
    metrics["size_score"] = MetricResult(name="size_score", score={d: 0.9 for d in SIZE_DEVICES})
    metrics["license"] = MetricResult(name="license", score=1.0, evidence=dict(MIT))
    for name, value in scores.items():
        applicable = not (name == "reviewedness" and value == -1.0)
        evidence = dict(MIT) if name == "license" else {}
        metrics[name] = MetricResult(
            name=name, score=value, applicable=applicable, evidence=evidence
        )
    return Rating(name="m", net_score=0.9, net_score_latency=0.0, metrics=metrics)


def failures(rating: Rating, policy: GatePolicy | None = None, source: str = "huggingface"):
    decision = (policy or GatePolicy()).evaluate(rating, source)
    return sorted((f.metric, f.score) for f in decision.failures)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({}, []),
        ({"license": 0.0, "bus_factor": 0.49}, [("bus_factor", 0.49), ("license", 0.0)]),
        ({"reviewedness": -1.0}, []),
        ({"reviewedness": 0.2}, [("reviewedness", 0.2)]),
        (
            {
                "size_score": {
                    "raspberry_pi": 0.0,
                    "jetson_nano": 0.1,
                    "desktop_pc": 0.6,
                    "aws_server": 1.0,
                }
            },
            [],
        ),
        ({"size_score": {d: 0.3 for d in SIZE_DEVICES}}, [("size_score", 0.3)]),
        ({"code_quality": 0.5}, []),
    ],
    ids=[
        "all-pass",
        "two-fail",
        "reviewedness-na",
        "reviewedness-low",
        "fits-some-device",
        "fits-no-device",
        "threshold-inclusive",
    ],
)
def test_gate_failures(scores, expected):
    assert failures(_rating(**scores)) == expected


def test_gate_skips_not_applicable_tree_score():
    rating = _rating()
    rating.metrics["tree_score"] = MetricResult(name="tree_score", score=0.1, applicable=False)
    assert failures(rating) == []


def test_inconclusive_treatment_comes_from_the_policy():
    rating = _rating()
    rating.metrics["dataset_quality"] = MetricResult(
        name="dataset_quality", score=0.0, inconclusive=True
    )
    assert failures(rating, GatePolicy(inconclusive="fail")) == [("dataset_quality", 0.0)]
    assert failures(rating, GatePolicy(inconclusive="ignore")) == []


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        ({"declared": None, "normalized": None}, "no license"),
        ({"declared": "my-own-terms", "normalized": None}, "cannot be identified"),
    ],
)
def test_missing_or_unidentifiable_license_fails_even_when_inconclusive(evidence, reason):
    rating = _rating()
    rating.metrics["license"] = MetricResult(
        name="license", score=0.3, inconclusive=True, evidence=evidence
    )
    decision = GatePolicy(inconclusive="ignore").evaluate(rating, "huggingface")
    assert not decision.accepted
    assert [f.metric for f in decision.failures] == ["license"]
    assert reason in decision.failures[0].reason


def test_every_source_is_gated_and_a_web_page_yields_no_evidence():
    policy = GatePolicy()
    assert not policy.evaluate(_rating(), "web").accepted
    assert "no evidence" in policy.evaluate(_rating(), "web").failures[0].reason
    assert policy.evaluate(_rating(bus_factor=0.1), "github").enabled
    assert not policy.evaluate(_rating(bus_factor=0.1), "github").accepted
    # uploads only when configured
    assert policy.evaluate(_rating(bus_factor=0.1), "upload").accepted
    assert not GatePolicy(gate_uploads=True).evaluate(_rating(bus_factor=0.1), "upload").accepted


def test_policy_is_built_from_settings(tmp_path):
    settings = load_settings(
        data_dir=tmp_path,
        TMR_GATE_THRESHOLD=0.7,
        TMR_GATE_INCONCLUSIVE="fail",
        TMR_GATE_UPLOADS=True,
        TMR_INGEST_GATE="off",
    )
    policy = GatePolicy.from_settings(settings)
    assert policy == GatePolicy(
        enabled=False, threshold=0.7, inconclusive="fail", gate_uploads=True
    )
    assert failures(_rating(code_quality=0.6), policy) == [("code_quality", 0.6)]
    assert policy.evaluate(_rating(code_quality=0.6), "huggingface").accepted  # gate off


def test_failure_reasons_and_listing_are_exact():
    rating = _rating(bus_factor=0.123456, size_score={d: 0.25 for d in SIZE_DEVICES})
    rating.metrics["dataset_quality"] = MetricResult(
        name="dataset_quality", score=0.2, inconclusive=True
    )
    decision = GatePolicy(threshold=0.6, inconclusive="fail").evaluate(rating, "huggingface")
    reasons = {f.metric: (f.score, f.reason) for f in decision.failures}
    assert reasons == {
        "bus_factor": (0.1235, "score below 0.6"),
        "dataset_quality": (0.2, "score below 0.6 (inconclusive: no data to judge)"),
        "size_score": (0.25, "best device below 0.6"),
    }
    assert decision.enabled and not decision.accepted
    assert decision.listing == (
        "bus_factor=0.12 (score below 0.6); "
        "dataset_quality=0.20 (score below 0.6 (inconclusive: no data to judge)); "
        "size_score=0.25 (best device below 0.6)"
    )
    assert GatePolicy().evaluate(_rating(), "huggingface").listing == ""


def test_a_license_decided_by_an_ancestor_names_it_and_keeps_its_score():
    rating = _rating()
    rating.metrics["license"] = MetricResult(
        name="license",
        score=0.3,
        evidence={**MIT, "decided_by": "base-model (cc-by-nc-4.0)"},
    )
    (failure,) = GatePolicy().evaluate(rating, "huggingface").failures
    assert failure.metric == "license" and failure.score == 0.3
    assert failure.reason == "the license of its ancestor base-model (cc-by-nc-4.0) decides it"
    # the same ancestor note with a score that passes is no failure
    rating.metrics["license"] = MetricResult(
        name="license", score=0.5, evidence={**MIT, "decided_by": "base-model"}
    )
    assert GatePolicy().evaluate(rating, "huggingface").failures == []
    # without an ancestor note a low license score is an ordinary failure
    rating.metrics["license"] = MetricResult(name="license", score=0.3, evidence=dict(MIT))
    assert [f.reason for f in GatePolicy().evaluate(rating, "huggingface").failures] == [
        "score below 0.5"
    ]


def test_license_reasons_name_what_was_declared():
    rating = _rating()
    rating.metrics["license"] = MetricResult(
        name="license", score=0.0, evidence={"declared": "", "normalized": None}
    )
    (failure,) = GatePolicy().evaluate(rating, "huggingface").failures
    assert failure.reason == "no license is declared: nothing is granted"
    rating.metrics["license"] = MetricResult(
        name="license", score=0.8, evidence={"declared": "my-terms", "normalized": None}
    )
    (failure,) = GatePolicy().evaluate(rating, "huggingface").failures
    assert (failure.score, failure.reason) == (
        0.8,
        "the license 'my-terms' cannot be identified by the registry",
    )


def test_a_web_source_failure_comes_first_and_alone_when_the_rating_passes():
    decision = GatePolicy().evaluate(_rating(bus_factor=0.1), "web")
    assert [(f.metric, f.score) for f in decision.failures] == [
        ("source", 0.0),
        ("bus_factor", 0.1),
    ]
    assert decision.failures[0].reason == (
        "the URL is not a Hugging Face or GitHub repository: the source yields no evidence to rate"
    )


def test_metrics_missing_from_the_rating_and_low_not_applicable_ones_pass():
    rating = _rating()
    del rating.metrics["code_quality"]
    rating.metrics["reviewedness"] = MetricResult(name="reviewedness", score=-1.0)
    rating.metrics["tree_score"] = MetricResult(name="tree_score", score=0.0, applicable=False)
    assert GatePolicy().evaluate(rating, "huggingface").failures == []


def test_a_disabled_gate_reports_failures_but_accepts():
    decision = GatePolicy(enabled=False).evaluate(_rating(bus_factor=0.1), "huggingface")
    assert not decision.enabled and decision.accepted
    assert [f.metric for f in decision.failures] == ["bus_factor"]
    assert GatePolicy(enabled=False).applies_to("huggingface") is False
    assert GatePolicy().applies_to("github") is True
    assert GatePolicy().applies_to("upload") is False
    assert GatePolicy(gate_uploads=True).applies_to("upload") is True


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [("fail", "fail"), ("FAIL", "fail"), ("ignore", "ignore"), ("x", "ignore")],
)
def test_inconclusive_setting_spellings(tmp_path, spelling, expected):
    settings = load_settings(data_dir=tmp_path, TMR_GATE_INCONCLUSIVE=spelling)
    policy = GatePolicy.from_settings(settings)
    assert policy.inconclusive == expected
    assert policy.describe() == {
        "enabled": settings.gate_enabled,
        "threshold": settings.gate_threshold,
        "inconclusive": expected,
        "gate_uploads": settings.gate_uploads,
    }
