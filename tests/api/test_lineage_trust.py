"""Lineage for uploads, trust along the lineage (license chain), declared vs verified edges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.replay.hf_hub import HfHubReplay
from tests.support.fake_hub import add_model
from tests.support.zips import hf_zip


@pytest.fixture
def app(make_settings, hf_replay, github_replay):  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    settings = make_settings(
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
    )
    return TestClient(create_app(settings))


def _card(license_id: str, base: str | None) -> bytes:
    lines = ["---", f"license: {license_id}"] + ([f"base_model: {base}"] if base else [])
    return ("\n".join([*lines, "---", "# A model", ""])).encode()


def _upload(c: TestClient, auth: dict, name: str, license_id: str, base: str | None) -> str:
    config = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": 8}
    if base:
        config["_name_or_path"] = base
    body = hf_zip(
        name=name,
        extra={"README.md": _card(license_id, base), "config.json": json.dumps(config).encode()},
    )
    r = c.post(
        "/artifact/model/upload",
        headers=auth,
        data={"name": name},
        files={"file": (f"{name}.zip", body, "application/zip")},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["metadata"]["id"])


def _parents(graph: dict, child_id: str) -> list[dict]:
    node = next(n for n in graph["nodes"] if n["artifact_id"] == child_id)
    return list((node.get("metadata") or {}).get("parents") or [])


def test_an_upload_naming_an_uploaded_parent_links_to_it(app: TestClient):
    with app as c:
        auth = {"X-Authorization": login(c)}
        base = _upload(c, auth, "our-base", "mit", None)
        child = _upload(c, auth, "our-child", "mit", "our-base")
        graph = c.get(f"/artifact/model/{child}/lineage", headers=auth).json()
        assert {n["artifact_id"] for n in graph["nodes"]} == {base, child}
        assert graph["edges"] == [
            {
                "from_node_artifact_id": base,
                "to_node_artifact_id": child,
                "relationship": "base_model",
            }
        ]
        (edge,) = _parents(graph, child)
        assert edge["artifact_id"] == base and edge["edge"] == "verified"  # same config, weights


def test_a_permissive_fine_tune_of_a_non_commercial_base_is_not_commercially_usable(
    app: TestClient,
):
    with app as c:
        auth = {"X-Authorization": login(c)}
        _upload(c, auth, "nc-base", "cc-by-nc-4.0", None)
        child = _upload(c, auth, "mit-child", "mit", "nc-base")
        explained = c.get(f"/artifact/model/{child}/rate/explain", headers=auth).json()
        lic = explained["metrics"]["license"]
        assert lic["evidence"]["declared"] == "mit"
        assert lic["evidence"]["decided_by"] == "nc-base" and lic["score"] == 0.0
        assert "nc-base" in lic["summary"]
        assert c.get(f"/artifact/model/{child}/rate", headers=auth).json()["license"] == 0.0
        r = c.post(
            f"/artifact/model/{child}/license-check",
            headers=auth,
            json={"github_url": "https://github.com/openai/whisper"},
        )
        assert r.status_code == 200 and r.json() is False
        own = _upload(c, auth, "mit-alone", "mit", None)
        r = c.post(
            f"/artifact/model/{own}/license-check",
            headers=auth,
            json={"github_url": "https://github.com/openai/whisper"},
        )
        assert r.json() is True  # the same license without the base is fine


def test_resnet_family_edge_is_verified_and_a_mismatching_parent_is_only_declared(
    app: TestClient, hf_replay_server: HfHubReplay, tmp_path: Path
):
    fake_parent = add_model(
        hf_replay_server,
        tmp_path,
        "acme/fake-resnet-base",
        {
            "README.md": b"---\nlicense: mit\n---\n# fake\n",
            "config.json": json.dumps(
                {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 768}
            ).encode(),
            "model.safetensors": 9000,
        },
    )
    fake_child = add_model(
        hf_replay_server,
        tmp_path,
        "acme/fake-resnet-child",
        {
            "README.md": b"---\nlicense: mit\nbase_model: acme/fake-resnet-base\n---\n# child\n",
            "config.json": json.dumps(
                {
                    "_name_or_path": "acme/fake-resnet-base",
                    "model_type": "resnet",
                    "architectures": ["ResNetForImageClassification"],
                }
            ).encode(),
            "model.safetensors": 95000,
        },
    )
    with app as c:
        auth = {"X-Authorization": login(c)}

        def register(url: str) -> str:
            r = c.post("/artifact/model", headers=auth, json={"url": url})
            assert r.status_code == 201, r.text
            return str(r.json()["metadata"]["id"])

        parent = register("https://huggingface.co/microsoft/resnet-50")
        child = register("https://huggingface.co/crangana/trained-gender")
        graph = c.get(f"/artifact/model/{child}/lineage", headers=auth).json()
        (edge,) = _parents(graph, child)
        assert edge["artifact_id"] == parent and edge["edge"] == "verified", edge
        assert edge["evidence"]["weights"]["format"] == "safetensors"
        assert edge["evidence"]["problems"] == []

        fparent, fchild = register(fake_parent), register(fake_child)
        graph = c.get(f"/artifact/model/{fchild}/lineage", headers=auth).json()
        (edge,) = _parents(graph, fchild)
        assert edge["artifact_id"] == fparent and edge["edge"] == "declared"
        assert any("model_type" in p for p in edge["evidence"]["problems"])
        assert any("weights" in p for p in edge["evidence"]["problems"])
