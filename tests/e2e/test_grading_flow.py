"""A grading-style session against the replayed upstreams, through the API.

The same order as the grading client (REQUIREMENTS §2): health, tracks, login, reset, empty
listing, 30 registrations with names (13 models, 7 datasets, 10 code), queries, regex over
README text, reads by name and id, concurrent rating, cost, license checks, lineage of a model
family, part downloads checked against the upstream sha256, deletes.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login

HF = "https://huggingface.co"
GH = "https://github.com"
UPSTREAM = Path(__file__).parents[1] / "data" / "upstream"

MODELS = {
    "bert-base-uncased": f"{HF}/google-bert/bert-base-uncased",
    "audience_classifier_model": f"{HF}/parvk11/audience_classifier_model",
    "whisper-tiny": f"{HF}/openai/whisper-tiny/tree/main",
    "resnet-50": f"{HF}/microsoft/resnet-50",
    "trained-gender": f"{HF}/crangana/trained-gender",
    "trained-gender-ONNX": f"{HF}/onnx-community/trained-gender-ONNX",
    "swin2SR-lightweight-x2-64": f"{HF}/caidas/swin2SR-lightweight-x2-64",
    "moondream2": f"{HF}/vikhyatk/moondream2",
    "git-base": f"{HF}/microsoft/git-base",
    "vit-tiny-patch16-224": f"{HF}/WinKawaks/vit-tiny-patch16-224",
    "fashion-clip": f"{HF}/patrickjohncyh/fashion-clip",
    "diffusion_pusht": f"{HF}/lerobot/diffusion_pusht",
    "Tiny-LLM": f"{HF}/arnir0/Tiny-LLM",
}
DATASETS = {
    "bookcorpus": f"{HF}/datasets/bookcorpus/bookcorpus",
    "squad": f"{HF}/datasets/rajpurkar/squad",
    "pusht": f"{HF}/datasets/lerobot/pusht",
    "imagenet-1k": f"{HF}/datasets/ILSVRC/imagenet-1k",
    "FairFace": f"{HF}/datasets/HuggingFaceM4/FairFace",
    "flickr2k": "https://www.kaggle.com/datasets/hliang001/flickr2k",
    "fashion-mnist": f"{GH}/zalandoresearch/fashion-mnist",
}
CODE = {
    "google-research-bert": f"{GH}/google-research/bert",
    "openai-whisper": f"{GH}/openai/whisper",
    "swin2sr": f"{GH}/mv-lab/swin2sr",
    "moondream": f"{GH}/vikhyat/moondream",
    "microsoft-git": f"{GH}/microsoft/git",
    "fashion-clip-code": f"{GH}/patrickjohncyh/fashion-clip",
    "lerobot": f"{GH}/huggingface/lerobot.git",
    "transformers": f"{GH}/huggingface/transformers",
    "ptm-recommendation": f"{GH}/Parth1811/ptm-recommendation-with-transformers",
    "deep-residual-networks": f"{GH}/KaimingHe/deep-residual-networks",
}


@pytest.fixture(scope="module")
def session(module_backend, hf_replay, github_replay):  # type: ignore[no-untyped-def]
    """One registry, driven like the grading client, shared by the checks below (once per
    backend: SQLite + files, PostgreSQL + S3)."""
    from tmr.app import create_app
    from tmr.config import load_settings

    settings = load_settings(
        **module_backend,
        log_level=0,
        ingest_gate="off",
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
    )
    with TestClient(create_app(settings)) as c:
        assert c.get("/health").status_code == 200
        assert "Access control track" in c.get("/tracks").json()["plannedTracks"]
        token = login(c)
        auth = {"X-Authorization": token}
        assert c.delete("/reset", headers=auth).status_code == 200
        assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
        ids: dict[str, tuple[str, str]] = {}
        for type_, table in (("model", MODELS), ("dataset", DATASETS), ("code", CODE)):
            for name, url in table.items():
                r = c.post(f"/artifact/{type_}", headers=auth, json={"url": url, "name": name})
                assert r.status_code == 201, f"{name}: {r.status_code} {r.text}"
                body = r.json()
                assert body["metadata"]["name"] == name and body["data"]["url"] == url
                ids[name] = (type_, body["metadata"]["id"])
        yield c, auth, ids


def test_all_thirty_are_listed_and_readable_by_id_and_name(session):
    c, auth, ids = session
    listing = c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json()
    assert len(listing) == 30
    assert {a["id"] for a in listing} == {aid for _, aid in ids.values()}
    models = c.post("/artifacts", headers=auth, json=[{"name": "*", "types": ["model"]}]).json()
    assert len(models) == 13
    for name, (type_, aid) in ids.items():
        got = c.get(f"/artifacts/{type_}/{aid}", headers=auth)
        assert got.status_code == 200
        assert f"/download/{aid}?" in got.json()["data"]["download_url"]
        assert {"name": name, "id": aid, "type": type_} in c.get(
            f"/artifact/byName/{name}", headers=auth
        ).json()


def test_regex_finds_names_and_readme_text(session):
    c, auth, ids = session
    hits = c.post("/artifact/byRegEx", headers=auth, json={"regex": ".*?(audience|bert).*"})
    names = {h["name"] for h in hits.json()}
    assert {"bert-base-uncased", "audience_classifier_model", "google-research-bert"} <= names
    # "Whisper is a pre-trained model for automatic speech recognition" is README text only
    readme = c.post(
        "/artifact/byRegEx", headers=auth, json={"regex": "(?i)automatic speech recognition"}
    ).json()
    assert "whisper-tiny" in {h["name"] for h in readme}


def test_concurrent_rating_of_every_model(session):
    c, auth, ids = session
    model_ids = [aid for t, aid in ids.values() if t == "model"]

    def rate(aid: str):  # type: ignore[no-untyped-def]
        return c.get(f"/artifact/model/{aid}/rate", headers=auth)

    with ThreadPoolExecutor(max_workers=14) as pool:
        first = list(pool.map(rate, model_ids + model_ids[:1]))
    assert all(r.status_code == 200 for r in first)
    again = {aid: rate(aid).json() for aid in model_ids}
    for r, aid in zip(first, model_ids, strict=False):
        body = r.json()
        assert body == again[aid], "a stored rating is served identically"
        assert body["category"] == "MODEL"
        for key, value in body.items():
            if key.endswith("_latency"):
                assert value >= 0
            elif key == "reviewedness":
                assert value == -1 or 0 <= value <= 1
            elif key == "size_score":
                assert set(value) == {"raspberry_pi", "jetson_nano", "desktop_pc", "aws_server"}
            elif isinstance(value, float | int):
                assert 0 <= value <= 1, key


def test_lineage_family_is_the_same_graph_for_every_member(session):
    c, auth, ids = session
    family = ["resnet-50", "trained-gender", "trained-gender-ONNX"]
    graphs = []
    for name in family:
        r = c.get(f"/artifact/model/{ids[name][1]}/lineage", headers=auth)
        assert r.status_code == 200
        graphs.append(r.json())
    node_sets = [{n["artifact_id"] for n in g["nodes"]} for g in graphs]
    assert node_sets[0] == node_sets[1] == node_sets[2] == {ids[n][1] for n in family}
    edges = {(e["from_node_artifact_id"], e["to_node_artifact_id"]) for e in graphs[0]["edges"]}
    assert edges == {
        (ids["resnet-50"][1], ids["trained-gender"][1]),
        (ids["trained-gender"][1], ids["trained-gender-ONNX"][1]),
    }
    assert all(e["relationship"] == "base_model" for e in graphs[0]["edges"])
    alone = c.get(f"/artifact/model/{ids['Tiny-LLM'][1]}/lineage", headers=auth).json()
    assert [n["artifact_id"] for n in alone["nodes"]] == [ids["Tiny-LLM"][1]]
    assert alone["edges"] == []


def test_cost_with_and_without_dependencies(session):
    c, auth, ids = session
    child = ids["trained-gender"][1]
    parent = ids["resnet-50"][1]
    alone = c.get(f"/artifact/model/{child}/cost", headers=auth).json()
    assert set(alone) == {child} and set(alone[child]) == {"total_cost"}
    assert alone[child]["total_cost"] > 0
    deps = c.get(
        f"/artifact/model/{child}/cost", params={"dependency": "true"}, headers=auth
    ).json()
    assert parent in deps
    assert deps[child]["standalone_cost"] == alone[child]["total_cost"]
    expected_total = sum(v["standalone_cost"] for v in deps.values())
    assert deps[child]["total_cost"] == pytest.approx(expected_total, abs=0.01)
    assert deps[parent]["standalone_cost"] == deps[parent]["total_cost"]
    bert = ids["bert-base-uncased"][1]
    with_links = c.get(
        f"/artifact/model/{bert}/cost", params={"dependency": "true"}, headers=auth
    ).json()
    assert ids["bookcorpus"][1] in with_links or ids["google-research-bert"][1] in with_links


def test_license_checks(session):
    c, auth, ids = session
    bert = ids["bert-base-uncased"][1]
    ok = c.post(
        f"/artifact/model/{bert}/license-check",
        headers=auth,
        json={"github_url": "https://github.com/google-research/bert"},
    )
    assert ok.status_code == 200 and ok.json() is True
    missing = c.post(
        "/artifact/model/invalidId/license-check",
        headers=auth,
        json={"github_url": "https://github.com/google-research/bert"},
    )
    assert missing.status_code == 404
    unknown_repo = c.post(
        f"/artifact/model/{bert}/license-check",
        headers=auth,
        json={"github_url": "https://github.com/nobody/nothing-here"},
    )
    assert unknown_repo.status_code == 404


def _recorded_sha(repo: str, path: str) -> str | None:
    for entry in json.loads((UPSTREAM / "hf" / "models" / repo / "files.json").read_text()):
        if entry["path"] == path:
            return entry.get("sha256")
    return None


def test_part_downloads_match_upstream_sha256(session, hf_replay):
    from huggingface_hub import HfApi

    c, auth, ids = session
    aid = ids["Tiny-LLM"][1]
    card = zipfile.ZipFile(
        io.BytesIO(c.get(f"/download/{aid}", params={"part": "card"}, headers=auth).content)
    )
    for path in ("README.md", "config.json"):
        assert hashlib.sha256(card.read(path)).hexdigest() == _recorded_sha("arnir0/Tiny-LLM", path)
    weights = zipfile.ZipFile(
        io.BytesIO(c.get(f"/download/{aid}", params={"part": "weights"}, headers=auth).content)
    )
    assert "README.md" not in weights.namelist()
    info = HfApi(endpoint=hf_replay).model_info("arnir0/Tiny-LLM", files_metadata=True)
    upstream = {s.rfilename: s.lfs.sha256 for s in info.siblings or [] if s.lfs}
    got = hashlib.sha256(weights.read("model.safetensors")).hexdigest()
    assert got == upstream["model.safetensors"]
    trail = [e["action"] for e in c.get(f"/artifact/model/{aid}/audit", headers=auth).json()]
    assert trail.count("DOWNLOAD") == 2


def test_update_replaces_contents_and_delete_removes(session):
    c, auth, ids = session
    type_, aid = ids["squad"]
    r = c.put(
        f"/artifacts/dataset/{aid}",
        headers=auth,
        json={
            "metadata": {"name": "squad", "id": aid, "type": "dataset"},
            "data": {"url": f"{HF}/datasets/lerobot/pusht"},
        },
    )
    assert r.status_code == 200, r.text
    assert c.get(f"/artifacts/dataset/{aid}", headers=auth).json()["data"]["url"].endswith("pusht")
    wrong = c.put(
        f"/artifacts/dataset/{aid}",
        headers=auth,
        json={
            "metadata": {"name": "not-squad", "id": aid, "type": "dataset"},
            "data": {"url": f"{HF}/datasets/lerobot/pusht"},
        },
    )
    assert wrong.status_code == 400
    assert c.delete(f"/artifacts/dataset/{aid}", headers=auth).status_code == 200
    assert c.get(f"/artifacts/dataset/{aid}", headers=auth).status_code == 404
    assert len(c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json()) == 29
