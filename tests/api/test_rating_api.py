"""Rating through the API: stored ratings, explanations, the ingest gate, updates, uploads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN, login
from tests.support.zips import upload

BERT = "https://huggingface.co/google-bert/bert-base-uncased"
TINY = "https://huggingface.co/arnir0/Tiny-LLM"


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


def test_rating_is_stored_and_served_identically_to_14_concurrent_calls(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        aid = c.post("/artifact/model", headers=auth, json={"url": BERT}).json()["metadata"]["id"]
        with ThreadPoolExecutor(14) as pool:
            responses = list(
                pool.map(lambda _: c.get(f"/artifact/model/{aid}/rate", headers=auth), range(14))
            )
        assert {r.status_code for r in responses} == {200}
        bodies = [r.json() for r in responses]
        assert all(b == bodies[0] for b in bodies)
        assert bodies[0]["name"] == "bert-base-uncased"
        assert bodies[0]["license"] == 1.0
        trail = [e["action"] for e in c.get(f"/artifact/model/{aid}/audit", headers=auth).json()]
        assert trail.count("RATE") == 14


def test_explanation_gives_evidence_and_a_sentence_per_metric(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        aid = c.post("/artifact/model", headers=auth, json={"url": BERT}).json()["metadata"]["id"]
        body = c.get(f"/artifact/model/{aid}/rate/explain", headers=auth).json()
        assert set(body["metrics"]) >= {"license", "bus_factor", "reviewedness", "size_score"}
        for metric in body["metrics"].values():
            assert metric["summary"] and isinstance(metric["evidence"], dict)


def test_rate_of_a_dataset_id_is_404(replay_app):
    with replay_app() as c:
        auth = {"X-Authorization": login(c)}
        made = upload(c, auth, "dataset", name="not-a-model")["metadata"]
        assert c.get(f"/artifact/model/{made['id']}/rate", headers=auth).status_code == 404


def test_gate_refuses_a_weak_model_with_424_naming_the_metrics(replay_app, make_settings):
    with replay_app(ingest_gate="on") as c:
        auth = {"X-Authorization": login(c)}
        r = c.post("/artifact/model", headers=auth, json={"url": TINY, "name": "tiny"})
        assert r.status_code == 424
        body = r.json()
        assert body["error"] == "ingest_rejected"
        assert body["details"]["failed_metrics"]
        for metric, value in body["details"]["failed_metrics"].items():
            assert metric in body["message"] and value < 0.5
        assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
        # the refusal is in the security log, visible to administrators through the API
        log = c.get("/audit/security", headers=auth, params={"action": "REJECT"}).json()
        assert len(log) == 1 and log[0]["subject"] == "model/tiny"
        assert TINY in log[0]["detail"] and log[0]["actor"] == ADMIN


def test_gate_off_accepts_the_same_model(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        assert c.post("/artifact/model", headers=auth, json={"url": TINY}).status_code == 201


def test_a_refused_update_keeps_the_old_version(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        made = c.post("/artifact/model", headers=auth, json={"url": BERT, "name": "m"}).json()[
            "metadata"
        ]
        before = c.get(f"/artifact/model/{made['id']}/rate", headers=auth).json()
    with replay_app(ingest_gate="on") as c:  # the operator turns the gate on and restarts
        auth = {"X-Authorization": login(c)}
        r = c.put(
            f"/artifacts/model/{made['id']}",
            headers=auth,
            json={"metadata": made, "data": {"url": TINY}},
        )
        assert r.status_code == 424
        assert c.get(f"/artifacts/model/{made['id']}", headers=auth).json()["data"]["url"] == BERT
        assert c.get(f"/artifact/model/{made['id']}/rate", headers=auth).json() == before


def test_update_rerates_the_model(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        made = c.post("/artifact/model", headers=auth, json={"url": BERT, "name": "m"}).json()[
            "metadata"
        ]
        before = c.get(f"/artifact/model/{made['id']}/rate", headers=auth).json()
        r = c.put(
            f"/artifacts/model/{made['id']}",
            headers=auth,
            json={"metadata": made, "data": {"url": TINY}},
        )
        assert r.status_code == 200
        after = c.get(f"/artifact/model/{made['id']}/rate", headers=auth).json()
        assert after["net_score"] != before["net_score"]
        trail = [
            e["action"] for e in c.get(f"/artifact/model/{made['id']}/audit", headers=auth).json()
        ]
        assert trail[:1] == ["CREATE"] and "UPDATE" in trail


def test_an_uploaded_model_is_rated_and_joins_its_base_models_lineage(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        base = c.post("/artifact/model", headers=auth, json={"url": BERT}).json()["metadata"]
        mine = upload(c, auth, "model", name="acme-ticket-classifier")["metadata"]
        rating = c.get(f"/artifact/model/{mine['id']}/rate", headers=auth).json()
        assert rating["name"] == "acme-ticket-classifier"
        assert rating["license"] == 1.0  # MIT in the card
        graph = c.get(f"/artifact/model/{mine['id']}/lineage", headers=auth).json()
        assert {n["artifact_id"] for n in graph["nodes"]} == {base["id"], mine["id"]}
        assert graph["edges"] == [
            {
                "from_node_artifact_id": base["id"],
                "to_node_artifact_id": mine["id"],
                "relationship": "base_model",
            }
        ]
        # the parent's own graph is the same family
        parent_graph = c.get(f"/artifact/model/{base['id']}/lineage", headers=auth).json()
        assert {n["artifact_id"] for n in parent_graph["nodes"]} == {base["id"], mine["id"]}


def test_malformed_config_makes_lineage_400(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        mine = upload(c, auth, "model", name="broken", extra={"config.json": b"{not json"})[
            "metadata"
        ]
        r = c.get(f"/artifact/model/{mine['id']}/lineage", headers=auth)
        assert r.status_code == 400
        assert "config.json" in r.json()["message"]


def test_unknown_upstream_repository_is_404_and_registers_nothing(replay_app):
    with replay_app(ingest_gate="off") as c:
        auth = {"X-Authorization": login(c)}
        r = c.post(
            "/artifact/model",
            headers=auth,
            json={"url": "https://huggingface.co/nobody/no-such-model"},
        )
        assert r.status_code == 404
        assert "no-such-model" in r.json()["message"]
        assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []


def test_internal_addresses_are_refused_as_sources(make_settings):
    from tmr.app import create_app

    with TestClient(create_app(make_settings())) as c:
        auth = {"X-Authorization": login(c)}
        for url in ("http://127.0.0.1:8080/admin", "http://169.254.169.254/latest/meta-data"):
            r = c.post("/artifact/dataset", headers=auth, json={"url": url})
            assert r.status_code == 400, url


def test_gated_upstream_is_424_and_an_outage_is_502(make_settings, github_replay):
    from tests.replay.fixtures import UPSTREAM_DATA
    from tests.replay.hf_hub import HfHubReplay
    from tmr.app import create_app

    with HfHubReplay(UPSTREAM_DATA, gated={"google/gemma-2-2b"}) as hub:
        app = create_app(make_settings(hf_endpoint=hub.url, github_api_url=github_replay,
                                       allow_private_upstream=True, ingest_gate="off",
                                       upstream_timeout_seconds=3))
        with TestClient(app) as c:
            auth = {"X-Authorization": login(c)}
            gated = c.post("/artifact/model", headers=auth,
                           json={"url": "https://huggingface.co/google/gemma-2-2b"})
            assert gated.status_code == 424
            assert "gemma-2-2b" in gated.json()["message"]
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    app = create_app(make_settings(hf_endpoint=dead, github_api_url=github_replay,
                                   allow_private_upstream=True, ingest_gate="off",
                                   upstream_timeout_seconds=3))
    with TestClient(app) as c:
        auth = {"X-Authorization": login(c)}
        down = c.post("/artifact/model", headers=auth, json={"url": BERT})
        assert down.status_code == 502
        assert "bert-base-uncased" in down.json()["message"]
        assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
