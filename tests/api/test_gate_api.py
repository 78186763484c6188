"""The ingest gate through the API: one policy for ingest, update and explain; licenses; every
source gated; the verdict independent of credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.replay.hf_hub import HfHubReplay
from tests.support.fake_hub import add_model
from tmr.composition import build_registry, build_services
from tmr.config import load_settings
from tmr.sources import fetch_snapshot

BERT = "https://huggingface.co/google-bert/bert-base-uncased"
TINY = "https://huggingface.co/arnir0/Tiny-LLM"
GOOD_CARD = """---
license: {license}
---
# A careful model

A text classifier fine-tuned for sentiment. Intended use: research. Limitations: English only.

## Usage

```python
from transformers import pipeline
clf = pipeline("text-classification", model="acme/careful")
print(clf("great"))
```
"""


@pytest.fixture
def replay_app(make_settings, hf_replay, github_replay):  # type: ignore[no-untyped-def]
    def build(**overrides: object) -> TestClient:
        from tmr.app import create_app

        values: dict[str, object] = dict(
            hf_endpoint=hf_replay, github_api_url=github_replay, allow_private_upstream=True
        )
        values.update(overrides)
        return TestClient(create_app(make_settings(**values)))

    return build


@pytest.mark.parametrize(
    ("license_line", "reason"),
    [("", "no license"), ("license: my-own-terms-v9", "cannot be identified")],
    ids=["no-license", "unknown-license"],
)
def test_a_model_without_an_identifiable_license_is_refused_with_that_reason(
    replay_app, hf_replay_server: HfHubReplay, tmp_path: Path, license_line: str, reason: str
):
    card = GOOD_CARD.replace("license: {license}\n", license_line + "\n" if license_line else "")
    name = "acme/no-license" if not license_line else "acme/odd-license"
    url = add_model(hf_replay_server, tmp_path, name, {"README.md": card.encode()})
    with replay_app() as c:
        auth = {"X-Authorization": login(c)}
        r = c.post("/artifact/model", headers=auth, json={"url": url})
        assert r.status_code == 424, r.text
        body = r.json()
        assert "license" in body["details"]["failed_metrics"]
        assert reason in body["details"]["reasons"]["license"]
        assert reason in body["message"]


def test_a_model_from_a_url_that_is_not_a_repository_is_refused(replay_app):
    with replay_app() as c:
        auth = {"X-Authorization": login(c)}
        r = c.post(
            "/artifact/model",
            headers=auth,
            json={"url": "https://huggingface.co.evil.com/google-bert/bert-base-uncased"},
        )
        assert r.status_code == 424, r.text
        assert "no evidence" in r.json()["details"]["reasons"]["source"]
    with replay_app(ingest_gate="off") as c:  # the gate off accepts it, as documented
        auth = {"X-Authorization": login(c)}
        r = c.post("/artifact/model", headers=auth, json={"url": "https://example.org/some/model"})
        assert r.status_code == 201


def test_a_model_registered_from_github_is_gated_too(replay_app):
    with replay_app() as c:
        auth = {"X-Authorization": login(c)}
        r = c.post(
            "/artifact/model", headers=auth, json={"url": "https://github.com/openai/whisper"}
        )
        assert r.status_code == 424, r.text  # a repository is not a documented, rated model
        assert r.json()["details"]["failed_metrics"]


def test_explain_reports_exactly_the_refusal_ingest_gives(replay_app, make_settings, hf_replay):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        aid = c.post("/artifact/model", headers=auth, json={"url": TINY}).json()["metadata"]["id"]
    with replay_app() as c:  # same data dir, gate on
        auth = {"X-Authorization": login(c)}
        explained = c.get(f"/artifact/model/{aid}/rate/explain", headers=auth).json()
        refused = c.post("/artifact/model", headers=auth, json={"url": TINY, "name": "again"})
        assert refused.status_code == 424
        details = refused.json()["details"]
        assert explained["gate"]["applies"] and not explained["gate"]["accepted"]
        assert {f["metric"]: f["score"] for f in explained["gate_failures"]} == details[
            "failed_metrics"
        ]
        assert {f["metric"]: f["reason"] for f in explained["gate_failures"]} == details["reasons"]
        # an update through the same gate gives the same refusal
        meta = {"name": "Tiny-LLM", "id": aid, "type": "model"}
        upd = c.put(
            f"/artifacts/model/{aid}", headers=auth, json={"metadata": meta, "data": {"url": TINY}}
        )
        assert upd.status_code == 424
        assert upd.json()["details"]["failed_metrics"] == details["failed_metrics"]


def test_the_verdict_does_not_depend_on_github_token(
    hf_replay: str, github_replay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    decisions = []
    pulls = []
    for token in (None, "ghp_replay_token"):
        if token:
            monkeypatch.setenv("GITHUB_TOKEN", token)
        else:
            monkeypatch.delenv("GITHUB_TOKEN", raising=False)
        settings = load_settings(
            data_dir=tmp_path / f"d-{bool(token)}",
            hf_endpoint=hf_replay,
            github_api_url=github_replay,
            allow_private_upstream=True,
        )
        assert bool(settings.github_token) is bool(token)
        snap = fetch_snapshot(BERT, "model", settings)
        code = [s.github for s in snap.linked if s.github is not None]
        assert code, "bert links google-research/bert"
        pulls.append([p.number for p in code[0].pulls])
        ratings = build_services(build_registry(settings)).rating
        rating = ratings.rate(snap, "bert-base-uncased")
        decision = ratings.gate.evaluate(rating, snap.source)
        decisions.append(
            (rating.metrics["reviewedness"].score, [(f.metric, f.score) for f in decision.failures])
        )
    assert pulls[0] == pulls[1] and pulls[0]
    assert decisions[0] == decisions[1]


def test_the_same_type_url_and_name_again_is_409_with_the_existing_id(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        first = c.post("/artifact/model", headers=auth, json={"url": TINY})
        assert first.status_code == 201
        aid = first.json()["metadata"]["id"]
        again = c.post("/artifact/model", headers=auth, json={"url": TINY})
        assert again.status_code == 409
        body = again.json()
        assert body["details"]["existing_id"] == aid and "exists already" in body["message"]
        named = c.post("/artifact/model", headers=auth, json={"url": TINY, "name": "Tiny-LLM"})
        assert named.status_code == 409 and named.json()["details"]["existing_id"] == aid
        other = c.post("/artifact/model", headers=auth, json={"url": TINY, "name": "tiny-copy"})
        assert other.status_code == 201 and other.json()["metadata"]["id"] != aid
        as_code = c.post("/artifact/code", headers=auth, json={"url": TINY})
        assert as_code.status_code == 201  # another type is another artifact
