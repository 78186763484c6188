"""Declared versus verified lineage edges: what the child's and the parent's files must share."""

from __future__ import annotations

from typing import Any

from tests.unit.metrics.builders import model
from tmr.domain.snapshot import GitHubRepo, Snapshot
from tmr.metrics.lineage_edges import WEIGHT_RATIO, verify_edge

BERT = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": 768,
        "num_hidden_layers": 12}  # fmt: skip


def _model(config: dict[str, Any] | None, weights: int = 1000, **extra: Any) -> Snapshot:
    return model(config=config, files={"model.safetensors": weights, "README.md": 10}, **extra)


def test_a_fine_tune_with_the_same_config_and_similar_weights_is_verified() -> None:
    child = _model({**BERT, "architectures": ["BertForSequenceClassification", "BertForMaskedLM"]},
                   weights=1010)  # fmt: skip
    trust, evidence = verify_edge(child, _model(BERT, weights=1000))
    assert trust == "verified"
    assert evidence["problems"] == []
    assert evidence["config_keys_compared"] == [
        "model_type", "architectures", "hidden_size", "num_hidden_layers"]  # fmt: skip
    assert evidence["weights"] == {"format": "safetensors", "child": 1010, "parent": 1000,
                                   "ratio": 0.99}  # fmt: skip


def test_each_disagreement_is_named_and_keeps_the_edge_declared() -> None:
    child = _model({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
                    "hidden_size": 1024, "num_hidden_layers": 12}, weights=500)  # fmt: skip
    trust, evidence = verify_edge(child, _model(BERT, weights=1000))
    assert trust == "declared"
    assert evidence["problems"] == [
        "model_type 'gpt2' differs from the parent's 'bert'",
        "architectures ['GPT2LMHeadModel'] share none with ['BertForMaskedLM']",
        "hidden_size 1024 differs from the parent's 768",
        "safetensors weights are 500 bytes against the parent's 1000",
    ]
    assert evidence["weights"]["ratio"] == 0.5 < WEIGHT_RATIO


def test_a_missing_config_on_either_side_leaves_a_declared_edge() -> None:
    trust, evidence = verify_edge(_model(None), _model(BERT))
    assert (trust, evidence) == (
        "declared", {"config": "missing on the child", "problems": ["no config.json to compare"]})
    trust, evidence = verify_edge(_model(BERT), None)
    assert trust == "declared" and evidence["config"] == "missing on the parent"
    github = Snapshot(source="github", url="https://github.com/a/b", github=GitHubRepo(owner="a",
                                                                                      name="b"))
    assert verify_edge(_model(BERT), github)[1]["config"] == "missing on the parent"


def test_an_adapter_s_small_weights_are_not_compared() -> None:
    adapter = _model(BERT, weights=10, extra_json={"adapter_config.json": {"r": 8}})
    trust, evidence = verify_edge(adapter, _model(BERT, weights=1_000_000))
    assert trust == "verified" and "weights" not in evidence


def test_weights_in_different_formats_are_not_compared() -> None:
    child = model(config=BERT, files={"pytorch_model.bin": 10})
    trust, evidence = verify_edge(child, _model(BERT, weights=1_000_000))
    assert trust == "verified" and "weights" not in evidence
