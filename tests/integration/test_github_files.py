"""Files of GitHub repositories: the contents API replay, download_file, and pull-through by API."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.replay.fixtures import UPSTREAM_DATA
from tests.replay.github_api import GitHubReplay
from tests.replay.hf_data import git_blob_id
from tmr.config import Settings
from tmr.domain.snapshot import GitHubRepo, Snapshot
from tmr.errors import NotFound, UpstreamNotFound, UpstreamUnavailable
from tmr.services import ingest
from tmr.sources import download_file, fetch_snapshot, retry
from tmr.sources.github_files import RAW_MEDIA_TYPE, download_github_file

BERT = UPSTREAM_DATA / "github" / "google-research" / "bert"
BERT_URL = "https://github.com/google-research/bert"
BERT_CONTENTS = "/repos/google-research/bert/contents"
RAW = {"Accept": RAW_MEDIA_TYPE}
PREFETCH_LIMIT = 20_000


def recorded(path: str) -> bytes:
    return (BERT / "files" / path).read_bytes()


@pytest.fixture(scope="module")
def bert_tree() -> dict[str, object]:
    return json.loads((BERT / "tree.json").read_text())


@pytest.fixture
def bert(upstream_env: Settings) -> Snapshot:
    return fetch_snapshot(BERT_URL, "code", upstream_env)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BASE_DELAY_SECONDS", 0.0)


# --- the replay's contents endpoint ---------------------------------------------------------


def test_replay_serves_raw_bytes_at_a_branch_or_the_head_sha(github_replay: str, bert_tree) -> None:  # type: ignore[no-untyped-def]
    url = f"{github_replay}/repos/google-research/bert/contents/LICENSE"
    for ref in (None, bert_tree["default_branch"], bert_tree["head_sha"]):
        params = {"ref": ref} if ref else None
        for accept in (
            RAW_MEDIA_TYPE,
            "application/vnd.github.raw",
            "application/vnd.github.v3.raw",
        ):
            r = httpx.get(url, params=params, headers={"Accept": accept})
            assert r.status_code == 200, (ref, accept)
            assert r.content == recorded("LICENSE")
            assert r.headers["ETag"] == f'"{git_blob_id(r.content)}"'


def test_replay_serves_the_contents_json_object_by_default(github_replay: str) -> None:
    r = httpx.get(f"{github_replay}/repos/google-research/bert/contents/README.md")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    data = recorded("README.md")
    assert body["type"] == "file" and body["encoding"] == "base64"
    assert (body["name"], body["path"], body["size"]) == ("README.md", "README.md", len(data))
    assert body["sha"] == git_blob_id(data)
    assert "\n" in body["content"] and base64.b64decode(body["content"]) == data
    assert body["url"].startswith(github_replay)  # URLs are rewritten to the replay


def test_replay_contents_agree_with_the_tree(github_replay: str, bert_tree) -> None:  # type: ignore[no-untyped-def]
    tree = httpx.get(
        f"{github_replay}/repos/google-research/bert/git/trees/{bert_tree['head_sha']}",
        params={"recursive": "1"},
    ).json()["tree"]
    for entry in (e for e in tree if e["type"] == "blob"):
        raw = httpx.get(
            f"{github_replay}/repos/google-research/bert/contents/{entry['path']}", headers=RAW
        ).content
        assert len(raw) == entry["size"], entry["path"]
        assert git_blob_id(raw) == entry["sha"], entry["path"]


def test_replay_contents_errors_and_directories(github_replay: str) -> None:
    base = f"{github_replay}/repos/google-research/big_vision/contents"
    missing = httpx.get(f"{base}/no/such/file.py", headers=RAW)
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    bad_ref = httpx.get(f"{base}/README.md", params={"ref": "no-such-branch"})
    assert bad_ref.status_code == 404 and "No commit found" in bad_ref.json()["message"]
    listing = httpx.get(f"{base}/big_vision", headers=RAW)  # directories ignore the raw type
    assert listing.status_code == 200 and isinstance(listing.json(), list)
    kinds = {e["name"]: e["type"] for e in listing.json()}
    assert kinds["configs"] == "dir" and all(
        e["path"].startswith("big_vision/") for e in listing.json()
    )
    root = httpx.get(base).json()
    assert {e["name"] for e in root} >= {"README.md", "big_vision"}
    obj = httpx.get(
        f"{base}/big_vision", headers={"Accept": "application/vnd.github.object"}
    ).json()
    assert obj["type"] == "dir" and obj["entries"] == listing.json()


def test_replay_leaves_out_the_content_of_files_above_one_megabyte(github_replay: str) -> None:
    tree = json.loads(
        (UPSTREAM_DATA / "github/zalandoresearch/fashion-mnist/tree.json").read_text()
    )
    big = next(e for e in tree["tree"] if e["type"] == "blob" and e["size"] > 1024 * 1024)
    url = f"{github_replay}/repos/zalandoresearch/fashion-mnist/contents/{big['path']}"
    body = httpx.get(url).json()
    assert (body["encoding"], body["content"], body["size"]) == ("none", "", big["size"])
    with httpx.stream("GET", url, headers=RAW) as r:
        assert r.status_code == 200 and int(r.headers["Content-Length"]) == big["size"]
        assert sum(len(chunk) for chunk in r.iter_bytes()) == big["size"]


# --- download_file ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["README.md", "LICENSE", "requirements.txt"])
def test_recorded_files_download_byte_for_byte(
    bert: Snapshot, upstream_env: Settings, tmp_path: Path, path: str
) -> None:
    dest = tmp_path / "out" / path
    digest = download_file(bert, path, dest, upstream_env)
    assert dest.read_bytes() == recorded(path)
    assert digest == hashlib.sha256(recorded(path)).hexdigest()
    assert sorted(p.name for p in dest.parent.iterdir()) == [path]  # no .part left behind


def test_generated_files_have_the_size_the_tree_reports(
    bert: Snapshot, upstream_env: Settings, tmp_path: Path, bert_tree
) -> None:  # type: ignore[no-untyped-def]
    assert bert.github is not None
    reported = {e["path"]: e["size"] for e in bert_tree["tree"] if e["type"] == "blob"}
    record = next(f for f in bert.github.files if f.path == "modeling.py")
    assert record.size == reported["modeling.py"] > 0
    first = download_file(bert, "modeling.py", tmp_path / "a", upstream_env)
    again = download_file(bert, "modeling.py", tmp_path / "b", upstream_env)
    assert (tmp_path / "a").stat().st_size == record.size
    assert first == again == hashlib.sha256((tmp_path / "b").read_bytes()).hexdigest()


def test_download_asks_the_contents_api_for_raw_bytes_at_the_head_commit(
    bert: Snapshot,
    upstream_env: Settings,
    tmp_path: Path,
    github_replay_server: GitHubReplay,
    bert_tree,
) -> None:  # type: ignore[no-untyped-def]
    assert bert.github is not None and bert.github.head_sha == bert_tree["head_sha"]
    before = len(github_replay_server.requests)
    download_file(bert, "LICENSE", tmp_path / "LICENSE", upstream_env)
    asked = [p for _, p in github_replay_server.requests[before:]]
    assert asked == [f"/repos/google-research/bert/contents/LICENSE?ref={bert_tree['head_sha']}"]


def test_without_a_head_sha_the_default_branch_is_asked(
    bert: Snapshot, upstream_env: Settings, tmp_path: Path
) -> None:
    assert bert.github is not None
    unpinned = bert.github.model_copy(update={"head_sha": None})
    download_github_file(unpinned, "README.md", tmp_path / "README.md", upstream_env)
    assert (tmp_path / "README.md").read_bytes() == recorded("README.md")


def test_token_and_media_type_are_sent(upstream_env: Settings, tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, content=b"hello", headers={"Content-Type": "application/vnd.github.raw"}
        )

    repo = GitHubRepo(owner="o", name="r", head_sha="abc123", files=[])
    with_token = upstream_env.model_copy(update={"github_token": "ghp_files"})
    transport = httpx.MockTransport(handler)
    download_github_file(repo, "a b/c.py", tmp_path / "c.py", with_token, transport=transport)
    download_github_file(repo, "a b/c.py", tmp_path / "d.py", upstream_env, transport=transport)
    assert seen[0].headers["Authorization"] == "Bearer ghp_files"
    assert "Authorization" not in seen[1].headers
    assert seen[0].headers["Accept"] == RAW_MEDIA_TYPE
    assert seen[0].url.raw_path == b"/repos/o/r/contents/a%20b/c.py?ref=abc123"
    assert seen[0].url.params["ref"] == "abc123"


def test_subdir_snapshots_download_by_repository_or_relative_path(
    upstream_env: Settings, tmp_path: Path
) -> None:
    url = "https://github.com/google-research/big_vision/tree/main/big_vision/configs"
    snap = fetch_snapshot(url, "code", upstream_env)
    assert snap.github is not None and snap.github.subdir == "big_vision/configs"
    record = snap.github.files[0]
    assert record.path.startswith("big_vision/configs/")  # the snapshot records repository paths
    full = download_file(snap, record.path, tmp_path / "full", upstream_env)
    relative = record.path.removeprefix("big_vision/configs/")
    rel = download_file(snap, relative, tmp_path / "rel", upstream_env)
    assert full == rel and (tmp_path / "full").stat().st_size == record.size


def test_a_missing_file_is_upstream_not_found(
    bert: Snapshot, upstream_env: Settings, tmp_path: Path
) -> None:
    with pytest.raises(UpstreamNotFound, match="no/such/file.py"):
        download_file(bert, "no/such/file.py", tmp_path / "x", upstream_env)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_is_not_a_file(upstream_env: Settings, tmp_path: Path) -> None:
    snap = fetch_snapshot("https://github.com/google-research/big_vision", "code", upstream_env)
    with pytest.raises(UpstreamNotFound, match="directory"):
        download_file(snap, "big_vision/configs", tmp_path / "x", upstream_env)
    assert list(tmp_path.iterdir()) == []


def test_a_dead_replay_is_upstream_unavailable(
    bert: Snapshot, upstream_env: Settings, tmp_path: Path, no_backoff: None
) -> None:
    dead = GitHubReplay(UPSTREAM_DATA).start()
    dead.stop()
    settings = upstream_env.model_copy(update={"github_api_url": dead.url})
    with pytest.raises(UpstreamUnavailable, match="GITHUB_API_URL"):
        download_file(bert, "README.md", tmp_path / "README.md", settings)
    assert list(tmp_path.iterdir()) == []


def test_server_errors_are_retried_then_unavailable(
    upstream_env: Settings, tmp_path: Path, no_backoff: None
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(502, json={"message": "Server Error"})
        return httpx.Response(200, content=b"third time")

    repo = GitHubRepo(owner="o", name="r", head_sha="abc")
    sha = download_github_file(
        repo, "x.txt", tmp_path / "x.txt", upstream_env, transport=httpx.MockTransport(handler)
    )
    assert len(calls) == 3 and sha == hashlib.sha256(b"third time").hexdigest()
    calls.clear()
    always = httpx.MockTransport(lambda request: (calls.append(1), httpx.Response(503))[1])
    with pytest.raises(UpstreamUnavailable, match="503"):
        download_github_file(repo, "x.txt", tmp_path / "y.txt", upstream_env, transport=always)
    assert len(calls) == retry.ATTEMPTS


def test_an_exhausted_rate_limit_is_not_retried(upstream_env: Settings, tmp_path: Path) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            403,
            json={"message": "API rate limit exceeded"},
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4102444800"},
        )

    repo = GitHubRepo(owner="o", name="r", head_sha="abc")
    with pytest.raises(UpstreamUnavailable, match="GITHUB_TOKEN"):
        download_github_file(
            repo, "x.txt", tmp_path / "x", upstream_env, transport=httpx.MockTransport(handler)
        )
    assert calls == [1]


def test_bytes_that_do_not_match_the_recorded_sha256_are_refused(
    bert: Snapshot, upstream_env: Settings, tmp_path: Path, no_backoff: None
) -> None:
    assert bert.github is not None
    for f in bert.github.files:
        if f.path == "LICENSE":
            f.sha256 = "0" * 64
    with pytest.raises(UpstreamUnavailable, match="integrity"):
        download_file(bert, "LICENSE", tmp_path / "LICENSE", upstream_env)
    assert list(tmp_path.iterdir()) == []
    for f in bert.github.files:
        if f.path == "LICENSE":
            f.sha256 = hashlib.sha256(recorded("LICENSE")).hexdigest()
    download_file(bert, "LICENSE", tmp_path / "LICENSE", upstream_env)  # the right one passes


def test_a_size_that_differs_from_the_pinned_tree_is_refused(
    bert: Snapshot, upstream_env: Settings, tmp_path: Path, no_backoff: None
) -> None:
    assert bert.github is not None
    for f in bert.github.files:
        if f.path == "README.md":
            f.size += 1
    with pytest.raises(UpstreamUnavailable, match="integrity"):
        download_file(bert, "README.md", tmp_path / "README.md", upstream_env)
    assert list(tmp_path.iterdir()) == []


def test_a_web_page_has_no_files(upstream_env: Settings, tmp_path: Path) -> None:
    snap = fetch_snapshot(
        "https://www.kaggle.com/datasets/hliang001/flickr2k", "dataset", upstream_env
    )
    with pytest.raises(NotFound, match="no files"):
        download_file(snap, "README.md", tmp_path / "x", upstream_env)


# --- through the API --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_client(tmp_path_factory, hf_replay, github_replay, github_replay_server):  # type: ignore[no-untyped-def]
    from tmr.app import create_app
    from tmr.config import load_settings

    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("github-files"),
        log_level=0,
        ingest_gate="off",
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
    )
    with TestClient(create_app(settings)) as c, pytest.MonkeyPatch.context() as patch:
        auth = {"X-Authorization": login(c)}
        assert c.delete("/reset", headers=auth).status_code == 200
        # Copy only files up to 20 kB at registration, so that modeling.py is pulled through;
        # README.md and LICENSE were read by the fetch itself and are stored from it.
        patch.setattr(ingest, "SMALL_FILE_BYTES", PREFETCH_LIMIT)
        start = len(github_replay_server.requests)
        r = c.post("/artifact/code", headers=auth, json={"url": BERT_URL, "name": "bert-code"})
        assert r.status_code == 201, r.text
        patch.undo()
        fetched = [p for _, p in github_replay_server.requests[start:]]
        for path in ("LICENSE", "README.md"):  # staged from the fetch, not downloaded again
            assert not any(p.startswith(f"{BERT_CONTENTS}/{path}?") for p in fetched), path
        yield c, auth, r.json()["metadata"]["id"], github_replay_server, start


def contents_requests(app_client, path: str) -> int:  # type: ignore[no-untyped-def]
    """How often the registry asked the replay for bert's ``path`` since registering it."""
    *_, server, start = app_client
    wanted = f"{BERT_CONTENTS}/{path}?"
    return sum(1 for _, p in server.requests[start:] if p.startswith(wanted))


def test_card_part_of_a_github_artifact_is_the_recorded_files(app_client) -> None:  # type: ignore[no-untyped-def]
    c, auth, aid, *_ = app_client
    assert len(recorded("LICENSE")) <= PREFETCH_LIMIT < len(recorded("README.md"))
    r = c.get(f"/download/{aid}", params={"part": "card"}, headers=auth)
    assert r.status_code == 200, r.text
    card = zipfile.ZipFile(io.BytesIO(r.content))
    for path in ("README.md", "LICENSE"):
        assert card.read(path) == recorded(path)
    again = zipfile.ZipFile(
        io.BytesIO(c.get(f"/download/{aid}", params={"part": "card"}, headers=auth).content)
    )
    assert again.read("README.md") == recorded("README.md")
    for path in ("README.md", "LICENSE"):  # both served from the store, never re-fetched
        assert contents_requests(app_client, path) == 0
    manifest = json.loads(again.read("tmr-manifest.json"))
    shas = {f["path"]: f["sha256"] for f in manifest["files"]}
    for path in ("README.md", "LICENSE"):
        assert shas[path] == hashlib.sha256(recorded(path)).hexdigest()


def test_single_github_file_with_a_range(app_client) -> None:  # type: ignore[no-untyped-def]
    c, auth, aid, *_ = app_client
    r = c.get(f"/download/{aid}/files/README.md", headers={**auth, "Range": "bytes=0-99"})
    assert r.status_code == 206, r.text
    assert r.content == recorded("README.md")[:100]
    whole = c.get(f"/download/{aid}/files/README.md", headers=auth)
    assert whole.status_code == 200 and whole.content == recorded("README.md")


def test_code_files_are_pulled_through_on_first_download(app_client, bert_tree) -> None:  # type: ignore[no-untyped-def]
    c, auth, aid, *_ = app_client
    r = c.get(f"/download/{aid}", params={"part": "code"}, headers=auth)
    assert r.status_code == 200, r.text
    code = zipfile.ZipFile(io.BytesIO(r.content))
    sizes = {e["path"]: e["size"] for e in bert_tree["tree"] if e["type"] == "blob"}
    assert "modeling.py" in code.namelist() and sizes["modeling.py"] > PREFETCH_LIMIT
    assert contents_requests(app_client, "modeling.py") == 1  # pulled through, once
    for name in code.namelist():
        if name != "tmr-manifest.json":
            assert len(code.read(name)) == sizes[name], name
