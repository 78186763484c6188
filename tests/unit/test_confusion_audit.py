"""The package-confusion audit: each signal on its own, and precision/recall >= 0.9 on the
labelled corpus (scripts/confusion_audit_eval.py prints the same figures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.confusion_corpus import build, evaluate
from tmr.safety.confusion import (
    Activity,
    Download,
    Entry,
    Seen,
    bot_signals,
    fold,
    name_similarity,
    skeleton,
)

T = datetime(2026, 1, 1, tzinfo=UTC)


def e(name: str, owner: str | None = None, hub_owner: str | None = None) -> Entry:
    return Entry(name, name, "model", T, owner, hub_owner)


@pytest.mark.parametrize("seed", [461, 462, 463, 464, 465])
def test_precision_and_recall_on_the_labelled_corpus(seed):
    result = evaluate(build(seed))
    assert result["malicious"] >= 15 and result["artifacts"] - result["malicious"] >= 25
    assert result["precision"] >= 0.9, result
    assert result["recall"] >= 0.9, result


def test_confusable_skeletons_follow_uts39():
    assert skeleton("b\u0435rt") == skeleton("bert")  # Cyrillic ie
    assert skeleton("\u0440ay\u0440al") == skeleton("paypal")  # Cyrillic er
    assert skeleton("rnodel") == skeleton("model")
    assert skeleton("resnet-5O") == skeleton("resnet-50")
    assert skeleton("bert") != skeleton("bart")
    assert fold("Llama_2-7B") == fold("llama-2-7b")
    assert fold("whisper-t1ny") != fold("whisper-tiny")  # 1 folds to l, not i


@pytest.mark.parametrize(
    ("candidate", "original", "why"),
    [
        ("b\u0435rt-base-uncased", "bert-base-uncased", "skeleton"),
        ("BERT-BASE-UNCASED", "bert-base-uncased", "letter case"),
        ("bert_base_uncased", "bert-base-uncased", "separators"),
        ("gpt2-official", "gpt2", "'official'"),
        ("llama-2-7b-v2", "llama-2-7b", "'v2'"),
        ("bert-base-uncsaed", "bert-base-uncased", "one edit"),
    ],
)
def test_name_similarity_signals(candidate, original, why):
    found = name_similarity(e(candidate), e(original))
    assert found is not None and found[0] >= 0.8 and why in found[1]


def test_owner_name_folded_into_the_name():
    found = name_similarity(
        e("google-bert-bert-base-uncased"), e("bert-base-uncased", hub_owner="google-bert")
    )
    assert found is not None and "owner" in found[1]


def test_unrelated_and_identical_names_are_not_lookalikes():
    assert name_similarity(e("acme-ticket-classifier"), e("bert-base-uncased")) is None
    assert name_similarity(e("bert-base-uncased"), e("bert-base-uncased")) is None
    assert name_similarity(e("bert-base-uncased-finetuned-sst2"), e("bert-base-uncased")) is None


def test_bot_signals():
    regular = Activity(
        downloads=[Download("x", "bot", T + timedelta(seconds=60 * i)) for i in range(30)]
    )
    score, reasons = bot_signals(regular)
    assert score >= 0.9
    assert any("every 60 s" in r for r in reasons)
    assert any("never preceded" in r for r in reasons)
    organic = Activity(
        downloads=[Download("x", f"u{i}", T + timedelta(hours=7 * i + i * i)) for i in range(30)],
        seen=[Seen("x", f"u{i}", T + timedelta(hours=7 * i + i * i - 1)) for i in range(30)],
    )
    assert bot_signals(organic)[0] == 0.0
    assert bot_signals(Activity(downloads=regular.downloads[:3]))[0] == 0.0
