import json
import threading
import time

import pytest

from tests.unit.metrics.builders import model, rate_input
from tmr.domain.rating import METRIC_NAMES, SIZE_DEVICES, MetricResult
from tmr.metrics import net_score as net
from tmr.metrics.runner import METRICS, explain, rate_model


def fixed(name: str, score: float | dict[str, float], applicable: bool = True):
    def metric(_inp):
        return MetricResult(name=name, score=score, applicable=applicable, summary="fixed")

    return metric


def all_fixed(value: float) -> dict:
    metrics = {n: fixed(n, value) for n in METRIC_NAMES}
    metrics["size_score"] = fixed("size_score", {d: value for d in SIZE_DEVICES})
    return metrics


def test_weights_sum_to_one_and_cover_every_metric():
    assert sum(net.WEIGHTS.values()) == pytest.approx(1.0)
    assert set(net.WEIGHTS) == set(METRIC_NAMES) == set(METRICS)


def test_metrics_run_in_parallel():
    barrier = threading.Barrier(len(METRIC_NAMES), timeout=5)

    def waits(name):
        def metric(_inp):
            barrier.wait()  # only returns when every metric runs at the same time
            return MetricResult(name=name, score=0.5)

        return metric

    metrics = {n: waits(n) for n in METRIC_NAMES}
    rating = rate_model(rate_input(model()), metrics)
    assert not any(r.inconclusive for r in rating.metrics.values())


def test_runner_measures_latency_per_metric():
    def slow(_inp):
        time.sleep(0.05)
        return MetricResult(name="license", score=1.0)

    metrics = all_fixed(1.0) | {"license": slow}
    rating = rate_model(rate_input(model()), metrics)
    assert rating.metrics["license"].latency_seconds >= 0.05
    assert rating.metrics["ramp_up_time"].latency_seconds < 0.05
    assert rating.net_score_latency >= 0.05


def test_exception_becomes_inconclusive_result(caplog):
    def boom(_inp):
        raise RuntimeError("card parser exploded")

    metrics = all_fixed(1.0) | {"bus_factor": boom, "size_score": boom}
    rating = rate_model(rate_input(model()), metrics)
    bus = rating.metrics["bus_factor"]
    assert bus.inconclusive and bus.score == 0.0
    assert "card parser exploded" in bus.summary
    assert rating.metrics["size_score"].score == {d: 0.0 for d in SIZE_DEVICES}
    assert "metric bus_factor failed" in caplog.text


def test_net_score_is_the_weighted_mean():
    metrics = all_fixed(1.0) | {"license": fixed("license", 0.0)}
    rating = rate_model(rate_input(model(parents=["a/b"]), parent_scores=[1.0]), metrics)
    assert rating.net_score == pytest.approx(1.0 - net.WEIGHTS["license"])


def test_not_applicable_metrics_are_renormalised_away():
    metrics = all_fixed(0.6) | {"reviewedness": fixed("reviewedness", -1.0, applicable=False)}
    rating = rate_model(rate_input(model(parents=["a/b"]), parent_scores=[0.6]), metrics)
    assert rating.net_score == pytest.approx(0.6)


def test_root_model_tree_score_is_its_own_net_score():
    rating = rate_model(rate_input(model(card="# x")))
    tree = rating.metrics["tree_score"]
    assert not tree.applicable
    assert tree.score == pytest.approx(rating.net_score)


def test_real_metrics_rate_a_bare_model_without_errors():
    rating = rate_model(rate_input(model(files={"model.safetensors": 10**8})))
    assert set(rating.metrics) == set(METRIC_NAMES)
    assert not any("failed" in r.summary for r in rating.metrics.values())
    body = rating.to_model_rating()
    assert body["reviewedness"] == -1.0 and 0.0 <= body["net_score"] <= 1.0


def test_explain_gives_score_summary_and_evidence_per_metric():
    rating = rate_model(rate_input(model(card_data={"license": "mit"})))
    body = explain(rating)
    assert set(body["metrics"]) == set(METRIC_NAMES)
    lic = body["metrics"]["license"]
    assert lic["score"] == 1.0 and "MIT" in lic["summary"]
    assert lic["evidence"]["normalized"] == "MIT"


def test_every_recorded_model_rates_cleanly_and_serialises():
    from tests.support.fixture_snapshots import UPSTREAM, model_snapshot

    manifest = json.loads((UPSTREAM / "manifest.json").read_text())
    models = [r["id"] for r in manifest["repos"] if r["kind"] == "hf-model"]
    assert len(models) >= 20
    for repo_id in models:
        rating = rate_model(rate_input(model_snapshot(repo_id), name=repo_id))
        assert not any("error" in r.evidence for r in rating.metrics.values()), repo_id
        body = json.loads(json.dumps(explain(rating)))
        assert 0.0 <= body["net_score"] <= 1.0
        assert set(rating.to_model_rating()) >= {"net_score", "tree_score_latency"}
