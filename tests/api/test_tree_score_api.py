"""tree_score is never stale: computed from the parents registered when the rating is read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.replay.hf_hub import HfHubReplay
from tests.support.fake_hub import add_model

BASE_CARD = b"""---
license: mit
---
# Base model

A general text encoder. Limitations: English only. Evaluated on GLUE: accuracy 0.81.
"""
CHILD_CARD = b"""---
license: mit
base_model: acme/tree-base
---
# Child model
"""


@pytest.fixture
def replay_app(make_settings, hf_replay, github_replay):  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    return TestClient(
        create_app(
            make_settings(
                hf_endpoint=hf_replay,
                github_api_url=github_replay,
                allow_private_upstream=True,
                ingest_gate="off",
            )
        )
    )


def test_child_registered_before_its_parent_then_parent_deleted(
    replay_app: TestClient, hf_replay_server: HfHubReplay, tmp_path: Path
):
    base_url = add_model(hf_replay_server, tmp_path, "acme/tree-base", {"README.md": BASE_CARD})
    child_url = add_model(hf_replay_server, tmp_path, "acme/tree-child", {"README.md": CHILD_CARD})
    with replay_app as c:
        auth = {"X-Authorization": login(c)}
        child = c.post("/artifact/model", headers=auth, json={"url": child_url}).json()
        cid = child["metadata"]["id"]

        def rate(aid: str) -> dict:
            r = c.get(f"/artifact/model/{aid}/rate", headers=auth)
            assert r.status_code == 200, r.text
            return r.json()

        alone = rate(cid)  # no registered parent: its own net score stands in
        assert alone["tree_score"] == pytest.approx(alone["net_score"], abs=0.02)

        base = c.post("/artifact/model", headers=auth, json={"url": base_url}).json()
        bid = base["metadata"]["id"]
        parent_net = rate(bid)["net_score"]
        with_parent = rate(cid)
        assert with_parent["tree_score"] == pytest.approx(parent_net, abs=1e-4)
        assert with_parent["tree_score"] != pytest.approx(alone["tree_score"], abs=1e-3)
        explained = c.get(f"/artifact/model/{cid}/rate/explain", headers=auth).json()
        assert explained["metrics"]["tree_score"]["evidence"]["parent_scores"] == [
            pytest.approx(parent_net, abs=1e-4)
        ]

        with ThreadPoolExecutor(8) as pool:  # concurrent reads of one state are identical
            bodies = list(pool.map(lambda _: rate(cid), range(16)))
        strip = [{k: v for k, v in b.items() if not k.endswith("_latency")} for b in bodies]
        assert all(b == strip[0] for b in strip)

        assert c.delete(f"/artifacts/model/{bid}", headers=auth).status_code == 200
        after = rate(cid)
        assert after["tree_score"] == pytest.approx(alone["tree_score"], abs=1e-4)
        assert after["net_score"] == pytest.approx(alone["net_score"], abs=1e-4)
