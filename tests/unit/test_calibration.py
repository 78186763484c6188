"""Calibration of the metrics against the reference ratings published for the earlier CLI.

Snapshots are built offline from the recorded upstream data (tests/data/upstream) for the three
lines of tests/data/course_reference_urls.txt: bert-base-uncased with the code
google-research/bert and the dataset bookcorpus/bookcorpus, parvk11/audience_classifier_model and
openai/whisper-tiny. Like the registry's sources, the loader also follows links found in the
model card (whisper-tiny's card links github.com/openai/whisper).

Of the 39 compared values (net score, 7 scalar metrics and 4 size devices for each model), all
but five are within 0.15 of the reference. The five deviations, and why:

* audience_classifier_model bus_factor: ours 0.00, reference 0.33. The card is the unfilled
  Hugging Face template and no repository is linked, so nobody can be identified; we report 0
  (inconclusive) instead of a guess.
* audience_classifier_model net_score: ours 0.10, reference 0.35. Follows from the above and
  from our net score also counting reproducibility (no example code: 0) and weighting license
  (missing: 0) most; size, where this model does well, carries 8%.
* whisper-tiny performance_claims: ours 1.00, reference 0.80. The card has structured
  model-index results (WER on LibriSpeech), an evaluation section and the paper; by our
  definition that is complete evidence.
* whisper-tiny dataset_and_code_score (ours 0.50, reference 0.00) and code_quality (ours 0.90,
  reference 0.00): the earlier CLI only looked at the URL file's explicit code and dataset
  columns, which are empty for whisper-tiny; our sources follow the card's link to
  github.com/openai/whisper, a tested repository with dependencies, CI and a license.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fixture_snapshots import model_snapshot
from tmr.domain.rating import SIZE_DEVICES, Rating
from tmr.metrics.runner import RatingInput, rate_model

DATA = Path(__file__).resolve().parents[1] / "data"
TOLERANCE = 0.15
SCALARS = (
    "net_score",
    "ramp_up_time",
    "bus_factor",
    "performance_claims",
    "license",
    "dataset_and_code_score",
    "dataset_quality",
    "code_quality",
)
# (model, attribute) -> our documented value (see the module docstring).
DEVIATIONS = {
    ("audience_classifier_model", "bus_factor"): 0.0,
    ("audience_classifier_model", "net_score"): 0.10,
    ("whisper-tiny", "performance_claims"): 1.0,
    ("whisper-tiny", "dataset_and_code_score"): 0.5,
    ("whisper-tiny", "code_quality"): 0.9,
}


def _references() -> dict[str, dict]:
    lines = (DATA / "course_reference_ratings.ndjson").read_text().splitlines()
    return {r["name"]: r for r in map(json.loads, filter(str.strip, lines))}


def _model_id(url: str) -> str:
    return url.split("huggingface.co/", 1)[1].split("/tree/", 1)[0].strip("/")


@pytest.fixture(scope="module")
def ratings() -> dict[str, Rating]:
    out = {}
    for line in (DATA / "course_reference_urls.txt").read_text().splitlines():
        if not line.strip():
            continue
        code_url, dataset_url, model_url = (p.strip() for p in line.split(","))
        repo_id = _model_id(model_url)
        snap = model_snapshot(
            repo_id, tuple(filter(None, [code_url])), tuple(filter(None, [dataset_url]))
        )
        name = repo_id.split("/")[-1]
        out[name] = rate_model(RatingInput(snapshot=snap, name=name))
    return out


def _ours(rating: Rating, attribute: str, device: str | None = None) -> float:
    if attribute == "net_score":
        return rating.net_score
    score = rating.metrics[attribute].score
    return float(score[device]) if isinstance(score, dict) and device else float(score)  # type: ignore[arg-type]


CASES = [
    (m, a, None)
    for m in ("bert-base-uncased", "audience_classifier_model", "whisper-tiny")
    for a in SCALARS
]
CASES += [
    (m, "size_score", d)
    for m in ("bert-base-uncased", "audience_classifier_model", "whisper-tiny")
    for d in SIZE_DEVICES
]


@pytest.mark.parametrize(
    ("model", "attribute", "device"),
    CASES,
    ids=[f"{m}-{a}{'-' + d if d else ''}" for m, a, d in CASES],
)
def test_attribute_is_near_reference_or_a_documented_deviation(ratings, model, attribute, device):
    reference = _references()[model]
    expected = reference[attribute][device] if device else reference[attribute]
    ours = _ours(ratings[model], attribute, device)
    documented = DEVIATIONS.get((model, attribute))
    if documented is None:
        assert abs(ours - expected) <= TOLERANCE + 1e-9, f"ours {ours:.3f} vs ref {expected}"
    else:
        assert abs(ours - expected) > TOLERANCE
        assert ours == pytest.approx(documented, abs=0.03), "update the documented deviation"


def test_most_attributes_are_within_tolerance(ratings):
    within = sum(
        abs(_ours(ratings[m], a, d) - (_references()[m][a][d] if d else _references()[m][a]))
        <= TOLERANCE + 1e-9
        for m, a, d in CASES
    )
    assert within >= len(CASES) - len(DEVIATIONS) and within / len(CASES) >= 0.85


def test_reference_ordering_of_net_scores_is_kept(ratings):
    net = {name: r.net_score for name, r in ratings.items()}
    assert net["bert-base-uncased"] > net["whisper-tiny"] > net["audience_classifier_model"]
