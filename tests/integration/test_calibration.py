"""Calibration through the product's own path, against the course's reference ratings.

The three lines of tests/data/course_reference_urls.txt are registered exactly as a user's
registration does it: each line's code and dataset, then the model, through the ingest service
and ``tmr.sources`` from the Hugging Face and GitHub replays (tests/replay); then the stored
rating is read back (``GET …/rate``'s service) and compared with
tests/data/course_reference_ratings.ndjson.

Compared: the net score and the seven scalar Phase-1 metrics of each model (24 values). Sizes are
not compared: the replay serves LFS files scaled down 1000x (every size it reports describes the
bytes it serves), so size_score through the replay says nothing about the real models.

Distance is measured on our value rounded to two decimals, the reference's precision: 20 of 24
within 0.15, 10 within 0.05. Measured on our unrounded values: 19 of 24 strictly within 0.15
(whisper-tiny ramp_up_time, 1.00 against 0.85, sits on the boundary) and 8 within 0.05 (README
"Calibration"). The four values beyond 0.15 at either precision, and why the reference is wrong
about them (metric reasoning, not tuning, decided each):

* audience_classifier_model net_score 0.12 (reference 0.35): our net score weighs the missing
  license most (0.15) and also counts reproducibility (no example: 0); the model has no license,
  no example, no evaluation, no linked code or data, and it is refused by the gate.
* whisper-tiny performance_claims 1.00 (0.80): structured model-index results (WER on
  LibriSpeech), an evaluation section and the paper are complete evidence by our definition.
* whisper-tiny dataset_and_code_score 0.75 (0.00) and code_quality 0.90 (0.00): the earlier CLI
  only read the URL file's explicit columns, empty for whisper-tiny; the card links
  github.com/openai/whisper (fetched: a tested repository with dependencies, CI and a license)
  and declares LibriSpeech (not on the replay: declared only, counted half).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tmr.composition import build_registry, build_services
from tmr.config import load_settings
from tmr.domain.artifact import ArtifactType, User
from tmr.domain.rating import Rating

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
# (model, attribute) -> our value (see the module docstring for why the reference is wrong).
DEVIATIONS = {
    ("audience_classifier_model", "net_score"): 0.12,
    ("whisper-tiny", "performance_claims"): 1.0,
    ("whisper-tiny", "dataset_and_code_score"): 0.75,
    ("whisper-tiny", "code_quality"): 0.9,
}
EXPECTED_WITHIN_015 = 20  # at two decimals
EXPECTED_WITHIN_005 = 10
EXPECTED_STRICT_015 = 19  # unrounded
EXPECTED_STRICT_005 = 8


def _references() -> dict[str, dict]:
    lines = (DATA / "course_reference_ratings.ndjson").read_text().splitlines()
    return {r["name"]: r for r in map(json.loads, filter(str.strip, lines))}


@pytest.fixture(scope="module")
def ratings(hf_replay: str, github_replay: str, tmp_path_factory) -> dict[str, Rating]:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("calibration"),
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
        log_level=0,
    )
    registry = build_registry(settings)
    services = build_services(registry)
    ingest, rating = services.ingest, services.rating
    user = User(name="calibration", is_admin=True)
    out: dict[str, Rating] = {}
    for line in (DATA / "course_reference_urls.txt").read_text().splitlines():
        if not line.strip():
            continue
        code_url, dataset_url, model_url = (p.strip() for p in line.split(","))
        if code_url:
            ingest.register_url(ArtifactType.code, code_url, None, user)
        if dataset_url:
            ingest.register_url(ArtifactType.dataset, dataset_url, None, user)
        model = ingest.register_url(ArtifactType.model, model_url, None, user)
        out[model.name] = rating.stored(model.id)[1]
    return out


def _ours(rating: Rating, attribute: str) -> float:
    return round(float(rating.to_model_rating()[attribute]), 2)


CASES = [
    (m, a)
    for m in ("bert-base-uncased", "audience_classifier_model", "whisper-tiny")
    for a in SCALARS
]


def _distance(ratings: dict[str, Rating], model: str, attribute: str) -> float:
    return round(abs(_ours(ratings[model], attribute) - _references()[model][attribute]), 2)


@pytest.mark.parametrize(("model", "attribute"), CASES, ids=[f"{m}-{a}" for m, a in CASES])
def test_attribute_is_near_reference_or_a_documented_deviation(ratings, model, attribute):
    ours = _ours(ratings[model], attribute)
    documented = DEVIATIONS.get((model, attribute))
    if documented is None:
        assert _distance(ratings, model, attribute) <= TOLERANCE, (
            f"ours {ours} vs reference {_references()[model][attribute]}"
        )
    else:
        assert _distance(ratings, model, attribute) > TOLERANCE
        assert ours == pytest.approx(documented, abs=0.03), "update the documented deviation"


def test_counts_recorded_in_the_readme(ratings):
    distances = [_distance(ratings, m, a) for m, a in CASES]
    print("\ncalibration through the product path (ours vs reference):")
    for (m, a), d in zip(CASES, distances, strict=True):
        print(f"  {m:27s} {a:24s} {_ours(ratings[m], a):.2f} {_references()[m][a]:.2f} {d:.2f}")
    within_015 = sum(d <= TOLERANCE for d in distances)
    within_005 = sum(d <= 0.05 for d in distances)
    raw = [abs(float(ratings[m].to_model_rating()[a]) - _references()[m][a]) for m, a in CASES]
    strict_015 = sum(d <= TOLERANCE for d in raw)
    strict_005 = sum(d <= 0.05 for d in raw)
    print(f"at two decimals: within 0.15: {within_015} of {len(CASES)}; within 0.05: {within_005}")
    print(f"unrounded: within 0.15: {strict_015} of {len(CASES)}; within 0.05: {strict_005}")
    assert (within_015, within_005) == (EXPECTED_WITHIN_015, EXPECTED_WITHIN_005)
    assert (strict_015, strict_005) == (EXPECTED_STRICT_015, EXPECTED_STRICT_005)


def test_reference_ordering_of_net_scores_is_kept(ratings):
    net = {name: r.net_score for name, r in ratings.items()}
    assert net["bert-base-uncased"] > net["whisper-tiny"] > net["audience_classifier_model"]
