"""fetch_snapshot over the Hub and GitHub replays: what a registration really records."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.replay.fixtures import UPSTREAM_DATA
from tests.replay.github_api import GitHubReplay
from tests.replay.hf_hub import HfHubReplay
from tmr.config import Settings
from tmr.domain.snapshot import ParentRef
from tmr.errors import InvalidSourceUrl, UpstreamGated, UpstreamNotFound, UpstreamUnavailable
from tmr.sources import download_file, fetch_snapshot, github

GH_DATA = UPSTREAM_DATA / "github"


def replay_sizes(hf_replay: str, repo_id: str, kind: str = "models") -> dict[str, int]:
    """File sizes as the replay reports them (generated files are scaled down)."""
    info = httpx.get(f"{hf_replay}/api/{kind}/{repo_id}", params={"blobs": "true"}).json()
    return {s["rfilename"]: s["size"] for s in info["siblings"]}


def test_bert_snapshot_has_its_metadata_links_and_linked_artifacts(
    upstream_env: Settings, hf_replay: str
) -> None:
    url = "https://huggingface.co/bert-base-uncased"
    snap = fetch_snapshot(url, "model", upstream_env)

    assert snap.source == "huggingface" and snap.url == url
    assert datetime.fromisoformat(snap.fetched_at or "").tzinfo is not None
    hf = snap.hf
    assert hf is not None
    assert hf.repo_id == "google-bert/bert-base-uncased"  # the legacy id resolved
    assert hf.sha == "86b5e0934494bd15c9632b12f734a8a67f723594"
    assert (hf.license, hf.pipeline_tag, hf.library_name) == (
        "apache-2.0",
        "fill-mask",
        "transformers",
    )
    assert hf.downloads == 60478923 and hf.likes == 2498
    assert hf.last_modified == "2024-02-19T11:06:12Z"
    assert hf.card_data["datasets"] == ["bookcorpus", "wikipedia"]
    assert hf.card_text.startswith("---\ndatasets:")
    assert hf.config is not None and hf.config["model_type"] == "bert"
    assert "dataset:bookcorpus" in hf.tags and hf.git_tags == []

    sizes = replay_sizes(hf_replay, "google-bert/bert-base-uncased")
    assert {f.path: f.size for f in hf.files} == sizes
    assert snap.total_bytes == sum(sizes.values())
    config = next(f for f in hf.files if f.path == "config.json")
    assert config.sha256 == "7160e1553ad2ca51d8c1cb066be533db31826e12d173824c1bb0cb1a4f187d20"
    weights = next(f for f in hf.files if f.path == "model.safetensors")
    assert weights.lfs and weights.sha256 is not None and len(weights.sha256) == 64

    assert snap.parents == []  # bert-base-uncased is a root model
    assert snap.linked_dataset_urls == [
        "https://huggingface.co/datasets/bookcorpus",
        "https://huggingface.co/datasets/wikipedia",
    ]
    assert snap.linked_code_urls == ["https://github.com/google-research/bert"]
    # wikipedia has no record upstream: skipped, without failing the primary fetch
    [dataset] = snap.linked_of("dataset")
    [code] = snap.linked_of("code")
    assert dataset.hf is not None and dataset.hf.repo_id == "bookcorpus/bookcorpus"
    assert dataset.hf.repo_type == "dataset"
    assert code.github is not None and code.github.full_name == "google-research/bert"


def test_fine_tuned_model_declares_its_parent(upstream_env: Settings) -> None:
    snap = fetch_snapshot("https://huggingface.co/crangana/trained-gender", "model", upstream_env)
    assert snap.parents == [ParentRef(name="microsoft/resnet-50", source="config_json")]
    assert snap.hf is not None and snap.hf.card_data["base_model"] == "microsoft/resnet-50"
    assert "preprocessor_config.json" in snap.hf.extra_json
    assert snap.linked_dataset_urls == []  # "imagefolder" is a builder, not a dataset


def test_onnx_export_declares_the_fine_tuned_model(upstream_env: Settings) -> None:
    snap = fetch_snapshot(
        "https://huggingface.co/onnx-community/trained-gender-ONNX/tree/main",
        "model",
        upstream_env,
    )
    assert [p.name for p in snap.parents] == ["crangana/trained-gender"]
    assert snap.hf is not None and snap.hf.revision == "main"


def test_unscaled_weights_keep_their_real_size(upstream_env: Settings) -> None:
    snap = fetch_snapshot("https://huggingface.co/arnir0/Tiny-LLM", "model", upstream_env)
    weights = next(f for f in snap.files if f.path == "model.safetensors")
    assert weights.size == 15023624
    assert snap.total_bytes > 15023624


def test_dataset_snapshot(upstream_env: Settings, hf_replay: str) -> None:
    url = "https://huggingface.co/datasets/rajpurkar/squad"
    snap = fetch_snapshot(url, "dataset", upstream_env)
    hf = snap.hf
    assert hf is not None and hf.repo_type == "dataset" and hf.repo_id == "rajpurkar/squad"
    recorded = json.loads((UPSTREAM_DATA / "hf/datasets/rajpurkar/squad/api.json").read_text())
    assert hf.downloads == recorded["downloads"]
    assert hf.card_data and hf.card_text
    assert {f.path: f.size for f in hf.files} == replay_sizes(
        hf_replay, "rajpurkar/squad", "datasets"
    )
    assert snap.linked == []  # only models fetch their linked artifacts


def test_github_snapshot_has_license_readme_tree_contributors_and_reviewed_pulls(
    upstream_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(github, "PER_PAGE", 7)  # force several pages through Link headers
    monkeypatch.setattr(github, "MAX_PULLS", 100)  # a sample large enough for every merged PR
    with_token = upstream_env.model_copy(update={"github_token": "ghp_replay"})
    snap = fetch_snapshot("https://github.com/google-research/bert.git", "code", with_token)
    gh = snap.github
    assert snap.source == "github" and gh is not None
    assert (gh.owner, gh.name, gh.default_branch) == ("google-research", "bert", "master")
    assert gh.head_sha == "649c83cff5a1b07574c03b8b2a2d4c9e2d269f7b"
    assert gh.license_spdx == "Apache-2.0" and "Apache License" in (gh.license_text or "")
    assert gh.readme_text == (GH_DATA / "google-research/bert/files/README.md").read_text()
    assert gh.archived and gh.stars == 39729
    assert gh.languages == {"Python": 214335, "Jupyter Notebook": 66488}

    recorded = json.loads((GH_DATA / "google-research/bert/contributors.json").read_text())
    assert len(gh.contributors) == len(recorded) == 30  # anonymous contributors included
    assert "Abhishek Rao" in {c.login for c in gh.contributors}
    tree = json.loads((GH_DATA / "google-research/bert/tree.json").read_text())["tree"]
    assert {(f.path, f.size) for f in gh.files} == {
        (e["path"], e["size"]) for e in tree if e["type"] == "blob"
    }

    pulls = json.loads((GH_DATA / "google-research/bert/pulls.json").read_text())
    reviews = json.loads((GH_DATA / "google-research/bert/pull_reviews.json").read_text())
    merged = {p["number"]: p for p in pulls if p.get("merged")}
    assert {p.number for p in gh.pulls} == set(merged) and not gh.pulls_truncated
    for pull in gh.pulls:
        assert pull.merged and pull.additions == merged[pull.number]["additions"]
        assert pull.review_count == len(reviews.get(str(pull.number), []))
        assert pull.approved == any(
            r["state"] == "APPROVED" for r in reviews.get(str(pull.number), [])
        )
        assert sum(f.additions for f in pull.files) == pull.additions
    assert any(p.review_count for p in gh.pulls) and any(not p.review_count for p in gh.pulls)


def test_pull_requests_are_bounded(upstream_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(github, "MAX_PULLS", 5)
    snap = fetch_snapshot("https://github.com/openai/whisper", "code", upstream_env)
    assert snap.github is not None
    assert len(snap.github.pulls) == 5 and snap.github.pulls_truncated


def test_github_subdirectory_url_narrows_files(upstream_env: Settings) -> None:
    snap = fetch_snapshot(
        "https://github.com/google-research/big_vision/tree/main/big_vision/configs",
        "code",
        upstream_env,
    )
    gh = snap.github
    assert gh is not None and gh.subdir == "big_vision/configs" and gh.files
    assert all(f.path.startswith("big_vision/configs/") for f in gh.files)


def test_a_model_may_come_from_github(upstream_env: Settings) -> None:
    snap = fetch_snapshot("https://github.com/openai/whisper", "model", upstream_env)
    assert snap.source == "github" and snap.hf is None
    assert snap.github is not None and snap.github.license_spdx == "MIT"


def test_web_dataset_pages_are_registered_without_fetching(upstream_env: Settings) -> None:
    url = "https://www.kaggle.com/datasets/hliang001/flickr2k"
    snap = fetch_snapshot(url, "dataset", upstream_env)
    assert snap.source == "web" and snap.page is not None
    assert (snap.page.host, snap.page.title, snap.page.url) == ("www.kaggle.com", "flickr2k", url)
    assert snap.files == [] and "flickr2k" in snap.readme


@pytest.mark.parametrize(
    "url",
    [
        "https://huggingface.co/nobody/does-not-exist",
        "https://huggingface.co/datasets/nobody/does-not-exist",
        "https://github.com/nobody/does-not-exist",
    ],
)
def test_unknown_repositories_are_upstream_not_found(upstream_env: Settings, url: str) -> None:
    with pytest.raises(UpstreamNotFound, match="does-not-exist"):
        fetch_snapshot(url, "model", upstream_env)


def test_gated_repository_is_upstream_gated(
    upstream_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HfHubReplay(UPSTREAM_DATA, gated={"google/gemma-3-270m"}) as server:
        settings = upstream_env.model_copy(update={"hf_endpoint": server.url})
        with pytest.raises(UpstreamGated, match="HF_TOKEN"):
            fetch_snapshot("https://huggingface.co/google/gemma-3-270m", "model", settings)


def test_a_dead_upstream_is_upstream_unavailable(upstream_env: Settings) -> None:
    hub, gh = HfHubReplay(UPSTREAM_DATA).start(), GitHubReplay(UPSTREAM_DATA).start()
    hub.stop()
    gh.stop()
    settings = upstream_env.model_copy(update={"hf_endpoint": hub.url, "github_api_url": gh.url})
    with pytest.raises(UpstreamUnavailable, match="bert"):
        fetch_snapshot("https://huggingface.co/google-bert/bert-base-uncased", "model", settings)
    with pytest.raises(UpstreamUnavailable):
        fetch_snapshot("https://github.com/google-research/bert", "code", settings)


def test_linked_fetch_failures_do_not_fail_the_primary(
    upstream_env: Settings, hf_replay: str
) -> None:
    dead = GitHubReplay(UPSTREAM_DATA).start()
    dead.stop()
    settings = upstream_env.model_copy(update={"github_api_url": dead.url})
    snap = fetch_snapshot("https://huggingface.co/google-bert/bert-base-uncased", "model", settings)
    assert snap.linked_code_urls and snap.linked_of("code") == []
    assert [s.hf.repo_id for s in snap.linked_of("dataset") if s.hf] == ["bookcorpus/bookcorpus"]


def test_private_address_urls_are_refused_before_any_request(
    upstream_env: Settings, hf_replay: str, hf_replay_server: HfHubReplay
) -> None:
    strict = upstream_env.model_copy(update={"allow_private_upstream": False})
    before = len(hf_replay_server.requests)
    for url in (
        f"{hf_replay}/google-bert/bert-base-uncased",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/datasets/x",
    ):
        with pytest.raises(InvalidSourceUrl):
            fetch_snapshot(url, "model", strict)
    assert len(hf_replay_server.requests) == before
    # the same URL is fine where private upstreams are allowed (tests, air-gapped mirrors)
    allowed = fetch_snapshot(f"{hf_replay}/google-bert/bert-base-uncased", "model", upstream_env)
    assert allowed.hf is not None and allowed.hf.repo_id == "google-bert/bert-base-uncased"


def test_download_file_streams_and_verifies_sha256(upstream_env: Settings, tmp_path: Path) -> None:
    snap = fetch_snapshot("https://huggingface.co/crangana/trained-gender", "dataset", upstream_env)
    record = next(f for f in snap.files if f.path == "model.safetensors")
    dest = tmp_path / "out" / "model.safetensors"
    digest = download_file(snap, "model.safetensors", dest, upstream_env)
    assert digest == record.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert dest.stat().st_size == record.size

    config = tmp_path / "config.json"
    download_file(snap, "config.json", config, upstream_env)  # a non-LFS file, no redirect
    assert json.loads(config.read_text())["_name_or_path"] == "microsoft/resnet-50"


def test_download_file_refuses_bytes_that_do_not_match(
    upstream_env: Settings, tmp_path: Path
) -> None:
    snap = fetch_snapshot("https://huggingface.co/crangana/trained-gender", "dataset", upstream_env)
    assert snap.hf is not None
    for f in snap.hf.files:
        if f.path == "model.safetensors":
            f.sha256 = base64.b16encode(b"\0" * 32).decode().lower()
    dest = tmp_path / "model.safetensors"
    with pytest.raises(UpstreamUnavailable, match="integrity"):
        download_file(snap, "model.safetensors", dest, upstream_env)
    assert not dest.exists() and not list(tmp_path.iterdir())


def test_download_file_of_a_missing_path_is_not_found(
    upstream_env: Settings, tmp_path: Path
) -> None:
    snap = fetch_snapshot("https://huggingface.co/arnir0/Tiny-LLM", "dataset", upstream_env)
    with pytest.raises(UpstreamNotFound):
        download_file(snap, "no/such/file.bin", tmp_path / "x", upstream_env)


def _github_client(
    settings: Settings, handler: Callable[[httpx.Request], httpx.Response]
) -> github.GitHubClient:
    return github.GitHubClient(settings, transport=httpx.MockTransport(handler))


def test_an_exhausted_github_rate_limit_fails_at_once_and_says_what_to_do(
    upstream_env: Settings,
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        reset = str(int(time.time()) + 3600)
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        return httpx.Response(403, headers=headers, json={"message": "API rate limit exceeded"})

    with (
        _github_client(upstream_env, handler) as gh,
        pytest.raises(UpstreamUnavailable, match="GITHUB_TOKEN"),
    ):
        gh.json("/repos/a/b")
    assert calls == ["/repos/a/b"]  # no pointless retries against an exhausted limit


def test_a_short_retry_after_is_waited_out(upstream_env: Settings) -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "1"}, json={"message": "slow down"}),
            httpx.Response(200, json={"full_name": "a/b"}),
        ]
    )
    started = time.monotonic()
    with _github_client(upstream_env, lambda request: next(answers)) as gh:
        assert gh.json("/repos/a/b") == {"full_name": "a/b"}
    assert time.monotonic() - started >= 1.0


def test_github_token_is_sent_as_a_bearer_token(upstream_env: Settings) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, json={})

    with_token = upstream_env.model_copy(update={"github_token": "ghp_test"})
    with _github_client(with_token, handler) as gh:
        gh.json("/repos/a/b")
    with _github_client(upstream_env, handler) as gh:
        gh.json("/repos/a/b")
    assert seen == ["Bearer ghp_test", None]


def test_github_server_errors_are_retried_then_unavailable(upstream_env: Settings) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502, json={"message": "Server Error"})

    with (
        _github_client(upstream_env, handler) as gh,
        pytest.raises(UpstreamUnavailable, match="502"),
    ):
        gh.json("/repos/a/b")
    assert len(calls) == 3
