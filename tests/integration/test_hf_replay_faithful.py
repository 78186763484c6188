"""The Hub replay answers ``huggingface_hub`` the way the real Hub does.

Driven with the real client, not with hand-written requests: if the replay drifted from the
protocol, the client itself would fail (size and etag checks, redirects, error classes).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.replay.fixtures import UPSTREAM_DATA
from tests.replay.hf_hub import HfHubReplay

BERT = "google-bert/bert-base-uncased"
BERT_SHA = "86b5e0934494bd15c9632b12f734a8a67f723594"


@pytest.fixture
def api(hf_replay: str) -> HfApi:
    return HfApi(endpoint=hf_replay, token=False)


def test_model_info_with_files_metadata_reports_sizes_and_lfs_hashes(api: HfApi) -> None:
    info = api.model_info(BERT, files_metadata=True)
    assert info.id == BERT and info.sha == BERT_SHA
    siblings = {s.rfilename: s for s in info.siblings or []}
    recorded = json.loads((UPSTREAM_DATA / "hf/models" / BERT / "files.json").read_text())
    assert set(siblings) == {e["path"] for e in recorded}
    config = siblings["config.json"]
    assert config.size == 570 and config.lfs is None  # recorded bytes, served as they are
    weights = siblings["model.safetensors"]
    assert weights.lfs is not None
    assert weights.lfs.size == weights.size == -(-440449768 // 1000)  # generated, scaled down
    assert len(weights.lfs.sha256) == 64 and weights.blob_id and len(weights.blob_id) == 40
    assert info.card_data is not None and info.card_data.license == "apache-2.0"


def test_plain_model_info_lists_file_names_only(api: HfApi) -> None:
    info = api.model_info(BERT)
    assert all(s.size is None and s.lfs is None for s in info.siblings or [])


def test_small_file_download_is_the_recorded_file(hf_replay: str, tmp_path: Path) -> None:
    path = hf_hub_download(BERT, "config.json", endpoint=hf_replay, cache_dir=tmp_path, token=False)
    data = Path(path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "7160e1553ad2ca51d8c1cb066be533db31826e12d173824c1bb0cb1a4f187d20"
    )
    assert json.loads(data)["model_type"] == "bert"
    assert f"/snapshots/{BERT_SHA}/" in path  # X-Repo-Commit was honoured


def test_lfs_download_follows_the_cdn_redirect_and_matches_its_sha256(
    api: HfApi, hf_replay: str, hf_replay_server: HfHubReplay, tmp_path: Path
) -> None:
    info = api.model_info("crangana/trained-gender", files_metadata=True)
    lfs = next(s for s in info.siblings or [] if s.rfilename == "model.safetensors").lfs
    assert lfs is not None
    path = hf_hub_download(
        "crangana/trained-gender",
        "model.safetensors",
        endpoint=hf_replay,
        cache_dir=tmp_path,
        token=False,
    )
    data = Path(path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == lfs.sha256 and len(data) == lfs.size
    # a valid safetensors file: little-endian header length, JSON header, data to the end
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    assert header["weight"]["data_offsets"][1] == len(data) - 8 - header_len
    assert any(path_.startswith(f"/cdn/{lfs.sha256}") for _, path_ in hf_replay_server.requests)


def test_unscaled_files_are_served_at_their_recorded_size(api: HfApi) -> None:
    info = api.model_info("arnir0/Tiny-LLM", files_metadata=True)
    weights = next(s for s in info.siblings or [] if s.rfilename == "model.safetensors")
    assert weights.size == 15023624


def test_lfs_resolve_answers_302_with_linked_etag_and_size(hf_replay: str) -> None:
    response = httpx.head(f"{hf_replay}/{BERT}/resolve/main/model.safetensors")
    assert response.status_code == 302
    assert response.headers["X-Repo-Commit"] == BERT_SHA
    assert int(response.headers["X-Linked-Size"]) == -(-440449768 // 1000)
    location = response.headers["Location"]
    assert location.startswith("http://localhost:")  # another origin: the client drops auth
    cdn = httpx.get(location)
    assert cdn.status_code == 200
    assert f'"{hashlib.sha256(cdn.content).hexdigest()}"' == response.headers["X-Linked-Etag"]


def test_ranges_are_served(hf_replay: str) -> None:
    response = httpx.get(
        f"{hf_replay}/{BERT}/resolve/main/config.json", headers={"Range": "bytes=0-9"}
    )
    assert response.status_code == 206 and response.content == b'{\n  "archi'


def test_unknown_repository_is_repository_not_found(api: HfApi, hf_replay: str) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/does-not-exist")
    anonymous = httpx.get(f"{hf_replay}/api/models/nobody/does-not-exist")
    assert anonymous.status_code == 401 and anonymous.headers["X-Error-Code"] == "RepoNotFound"
    with_token = httpx.get(
        f"{hf_replay}/api/models/nobody/does-not-exist", headers={"Authorization": "Bearer hf_x"}
    )
    assert with_token.status_code == 404


def test_missing_file_and_revision_raise_their_own_errors(
    api: HfApi, hf_replay: str, tmp_path: Path
) -> None:
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(BERT, "nope.bin", endpoint=hf_replay, cache_dir=tmp_path, token=False)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(BERT, revision="no-such-branch")


def test_legacy_alias_answers_the_api_and_redirects_resolve(
    api: HfApi, hf_replay: str, tmp_path: Path
) -> None:
    assert api.model_info("bert-base-uncased").id == BERT
    redirect = httpx.head(f"{hf_replay}/bert-base-uncased/resolve/main/config.json")
    assert redirect.status_code == 307
    assert redirect.headers["Location"] == f"/{BERT}/resolve/main/config.json"
    path = hf_hub_download(
        "bert-base-uncased", "config.json", endpoint=hf_replay, cache_dir=tmp_path, token=False
    )
    assert json.loads(Path(path).read_text())["model_type"] == "bert"


def test_datasets_resolve_under_their_own_prefix(
    api: HfApi, hf_replay: str, tmp_path: Path
) -> None:
    info = api.dataset_info("bookcorpus", files_metadata=True)  # a legacy dataset id
    assert info.id == "bookcorpus/bookcorpus"
    path = hf_hub_download(
        "bookcorpus/bookcorpus",
        "README.md",
        repo_type="dataset",
        endpoint=hf_replay,
        cache_dir=tmp_path,
        token=False,
    )
    assert "BookCorpus" in Path(path).read_text()


def test_tree_listing_is_paged_like_the_hub(api: HfApi, hf_replay: str) -> None:
    everything = list(api.list_repo_tree(BERT, recursive=True))
    paths = {e.path for e in everything}
    assert "coreml/fill-mask/float32_model.mlpackage/Manifest.json" in paths
    assert "coreml" in paths  # directories are listed too
    top = {e.path for e in api.list_repo_tree(BERT)}
    assert "coreml" in top and "coreml/fill-mask" not in top
    first = httpx.get(
        f"{hf_replay}/api/models/{BERT}/tree/main",
        params={"recursive": "true", "expand": "true", "limit": 5},
    )
    assert len(first.json()) == 5 and 'rel="next"' in first.headers["Link"]
    expanded = list(api.list_repo_tree(BERT, recursive=True, expand=True))
    assert len(expanded) == len(everything)


def test_refs_list_the_main_branch(api: HfApi) -> None:
    refs = api.list_repo_refs(BERT)
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", BERT_SHA)]


def test_gated_repositories_refuse_files_but_not_the_card(tmp_path: Path) -> None:
    with HfHubReplay(UPSTREAM_DATA, gated={"google/gemma-3-270m"}) as server:
        assert HfApi(endpoint=server.url, token=False).model_info("google/gemma-3-270m").gated
        readme = hf_hub_download(
            "google/gemma-3-270m", "README.md", endpoint=server.url, cache_dir=tmp_path, token=False
        )
        assert Path(readme).stat().st_size > 0
        with pytest.raises(GatedRepoError):
            hf_hub_download(
                "google/gemma-3-270m",
                "config.json",
                endpoint=server.url,
                cache_dir=tmp_path,
                token=False,
            )
