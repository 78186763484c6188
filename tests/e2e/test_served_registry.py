"""The registry as a new user starts it: ``tmr serve`` in its own process, over real HTTP.

A grading-style sequence (login, reset, register by URL with names, query, read by id and name,
regex, rate, cost, lineage, delete, audit) against the replayed upstreams.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD, backend_env
from tests.support.served import served_registry


@pytest.fixture
def served(tmp_path, hf_replay, github_replay, storage) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """``tmr serve`` on the test's backend (SQLite + files, or PostgreSQL + S3)."""
    data_dir = tmp_path / "served"
    env = backend_env(storage, data_dir=False)
    with served_registry(data_dir, hf_replay, github_replay, **env) as base:
        yield base
    log = (data_dir / "tmr.log").read_text()
    assert '"logger": "tmr.http"' in log and '"request_id"' in log


def test_grading_style_sequence_over_http(served):
    with httpx.Client(base_url=served, timeout=60) as c:
        assert c.get("/health").status_code == 200
        assert "Access control track" in c.get("/tracks").json()["plannedTracks"]
        token = c.put("/authenticate", json={"user": {"name": ADMIN, "is_admin": True},
                                              "secret": {"password": ADMIN_PASSWORD}}).json()
        auth = {"X-Authorization": token}
        assert c.delete("/reset", headers=auth).status_code == 200
        assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
        made = {}
        for type_, name, url in [
            ("model", "resnet-50", "https://huggingface.co/microsoft/resnet-50"),
            ("model", "trained-gender", "https://huggingface.co/crangana/trained-gender"),
            ("dataset", "squad", "https://huggingface.co/datasets/rajpurkar/squad"),
            ("code", "bert-code", "https://github.com/google-research/bert"),
        ]:
            r = c.post(f"/artifact/{type_}", headers=auth, json={"url": url, "name": name})
            assert r.status_code == 201, r.text
            made[name] = r.json()
            assert r.json()["data"]["download_url"].startswith(served + "/download/")
        models = c.post("/artifacts", headers=auth, json=[{"name": "*", "types": ["model"]}])
        assert {m["name"] for m in models.json()} == {"resnet-50", "trained-gender"}
        for name, art in made.items():
            meta = art["metadata"]
            assert c.get(f"/artifacts/{meta['type']}/{meta['id']}", headers=auth).json() == art
            assert meta in c.get(f"/artifact/byName/{name}", headers=auth).json()
        hits = c.post("/artifact/byRegEx", headers=auth, json={"regex": "gender"}).json()
        assert {h["name"] for h in hits} >= {"trained-gender"}
        child = made["trained-gender"]["metadata"]["id"]
        parent = made["resnet-50"]["metadata"]["id"]
        rating = c.get(f"/artifact/model/{child}/rate", headers=auth)
        assert rating.status_code == 200 and rating.json()["name"] == "trained-gender"
        graph = c.get(f"/artifact/model/{child}/lineage", headers=auth).json()
        assert graph["edges"] == [{"from_node_artifact_id": parent, "to_node_artifact_id": child,
                                   "relationship": "base_model"}]
        cost = c.get(f"/artifact/model/{child}/cost", params={"dependency": "true"},
                     headers=auth).json()
        assert set(cost) == {child, parent}
        assert c.delete(f"/artifacts/model/{child}", headers=auth).status_code == 200
        assert c.get(f"/artifacts/model/{child}", headers=auth).status_code == 404
        trail = c.get(f"/artifact/model/{parent}/audit", headers=auth).json()
        assert [e["action"] for e in trail] == ["CREATE", "AUDIT"]
        assert c.get(f"/artifact/model/{parent}/lineage", headers=auth).json()["edges"] == []
