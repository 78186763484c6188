"""What a registration says when the Hugging Face Hub answers with an error.

A small local server stands in for a misbehaving Hub: each test scripts the status and the Hub's
``X-Error-Code``/``X-Error-Message`` headers it answers with, and the source's translation into
the registry's error tree (and the message a client reads) is asserted. The recorded Hub replay
serves the repositories whose happy paths matter here (a subfolder URL, a repository without a
card, a file listed but not downloadable).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.replay.hf_hub import HfHubReplay
from tests.support.fake_hub import add_model
from tmr.config import Settings, load_settings
from tmr.domain.snapshot import HfRepo, Snapshot
from tmr.errors import TmrError, UpstreamGated, UpstreamNotFound, UpstreamUnavailable
from tmr.sources import download_file, fetch_snapshot, retry
from tmr.sources.huggingface import download_file as download_hf_file
from tmr.sources.urls import parse_source_url


class ScriptedHub(ThreadingHTTPServer):
    """Answers every request with ``status`` and ``headers``; records the paths asked."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = 500
        self.headers: dict[str, str] = {}
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedHub

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.server.paths.append(self.path)
        body = b'{"error": "scripted"}'
        self.send_response(self.server.status)
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedHub]:
    monkeypatch.setattr(retry, "BASE_DELAY_SECONDS", 0.01)  # retries, without the waiting
    server = ScriptedHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def settings_for(endpoint: str, tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        hf_endpoint=endpoint,
        allow_private_upstream=True,
        upstream_timeout_seconds=5,
        log_level=0,
    )


MODEL = "https://huggingface.co/acme/widget"
WHAT = "Hugging Face model 'acme/widget'"


@pytest.mark.parametrize(
    ("status", "headers", "error", "message"),
    [
        (500, {}, UpstreamUnavailable, f"The Hub answered 500 for {WHAT}; retry later."),
        (403, {}, UpstreamUnavailable, f"The Hub answered 403 for {WHAT}; check HF_TOKEN."),
        (
            404,
            {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id: nope"},
            UpstreamNotFound,
            f"{WHAT}: the revision does not exist; check the URL's branch.",
        ),
        (
            404,
            {"X-Error-Code": "EntryNotFound", "X-Error-Message": "not here"},
            UpstreamNotFound,
            f"{WHAT} does not exist in the repository.",
        ),
        (
            403,
            {"X-Error-Message": "Access to this resource is disabled."},
            UpstreamNotFound,
            f"{WHAT} has been disabled on the Hub; it can no longer be registered.",
        ),
    ],
    ids=["5xx", "forbidden", "revision", "entry", "disabled"],
)
def test_hub_errors_become_the_registrys_errors(
    hub: ScriptedHub,
    tmp_path: Path,
    status: int,
    headers: dict[str, str],
    error: type[TmrError],
    message: str,
) -> None:
    hub.status, hub.headers = status, headers
    with pytest.raises(error) as caught:
        fetch_snapshot(MODEL, "model", settings_for(hub.url, tmp_path))
    assert caught.value.message == message
    asked = len(hub.paths)
    assert asked == (3 if error is UpstreamUnavailable else 1)  # only "unavailable" is retried


@pytest.mark.parametrize(
    ("status", "headers", "error", "message"),
    [
        (
            403,
            {"X-Error-Code": "GatedRepo"},
            UpstreamGated,
            "'model.safetensors' of Hugging Face model 'acme/widget' is gated: set HF_TOKEN to "
            "a token that has access.",
        ),
        (
            502,
            {},
            UpstreamUnavailable,
            "The Hub answered 502 for 'model.safetensors' of Hugging Face model 'acme/widget'; "
            "retry later.",
        ),
    ],
)
def test_download_errors_become_the_registrys_errors(
    hub: ScriptedHub,
    tmp_path: Path,
    status: int,
    headers: dict[str, str],
    error: type[TmrError],
    message: str,
) -> None:
    hub.status, hub.headers = status, headers
    snapshot = Snapshot(source="huggingface", url=MODEL, hf=HfRepo(repo_id="acme/widget"))
    dest = tmp_path / "model.safetensors"
    with pytest.raises(error) as caught:
        download_file(snapshot, "model.safetensors", dest, settings_for(hub.url, tmp_path))
    assert caught.value.message == message
    assert not dest.exists()
    assert hub.paths[0] == "/acme/widget/resolve/main/model.safetensors"


def test_download_needs_a_hugging_face_source(tmp_path: Path) -> None:
    settings = settings_for("http://127.0.0.1:9", tmp_path)
    web = Snapshot(source="upload", url="upload://alice/x.zip")
    with pytest.raises(TmrError) as caught:
        download_hf_file(web, "x.bin", tmp_path / "x", settings)
    assert caught.value.message == "download_file needs a Hugging Face snapshot, not upload"
    github = parse_source_url("https://github.com/acme/widget", settings)
    with pytest.raises(TmrError) as caught:
        download_hf_file(github, "x.bin", tmp_path / "x", settings)
    assert caught.value.message == "download_file needs a Hugging Face reference, not github"


# --- the recorded Hub, with made-up repositories -----------------------------------------


@pytest.fixture
def hub_replay(hf_replay_server: HfHubReplay, upstream_env: Settings) -> HfHubReplay:
    return hf_replay_server


def test_a_subfolder_url_narrows_the_files(
    hub_replay: HfHubReplay, upstream_env: Settings, tmp_path: Path
) -> None:
    add_model(
        hub_replay,
        tmp_path,
        "acme/multi",
        {
            "README.md": b"---\nlicense: mit\n---\n# multi\n",
            "small/config.json": b'{"model_type": "bert"}',
            "small/model.safetensors": 4000,
            "large/model.safetensors": 8000,
        },
    )
    snap = fetch_snapshot(
        "https://huggingface.co/acme/multi/tree/main/small", "model", upstream_env
    )
    assert snap.hf is not None
    assert sorted(f.path for f in snap.hf.files) == ["small/config.json", "small/model.safetensors"]
    assert snap.hf.config == {"model_type": "bert"}  # the subfolder's config


def test_a_repository_without_a_card_keeps_the_hubs_card_data(
    hub_replay: HfHubReplay, upstream_env: Settings, tmp_path: Path
) -> None:
    add_model(
        hub_replay,
        tmp_path,
        "acme/cardless",
        {"config.json": b'{"model_type": "gpt2"}', "model.safetensors": 4000},
        card_data={"license": "apache-2.0", "tags": ["text"]},
        tags=["license:apache-2.0"],
    )
    snap = fetch_snapshot("https://huggingface.co/acme/cardless", "dataset", upstream_env)
    assert snap.hf is not None
    assert snap.hf.card_text == ""
    assert snap.hf.card_data == {"license": "apache-2.0", "tags": ["text"]}
    assert snap.hf.license == "apache-2.0"


def test_a_download_from_a_hub_that_does_not_answer_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import free_port

    monkeypatch.setattr(retry, "BASE_DELAY_SECONDS", 0.01)
    settings = settings_for(f"http://127.0.0.1:{free_port()}", tmp_path)  # nothing listens
    snapshot = Snapshot(source="huggingface", url=MODEL, hf=HfRepo(repo_id="acme/widget"))
    with pytest.raises(UpstreamUnavailable) as caught:
        download_file(snapshot, "config.json", tmp_path / "config.json", settings)
    assert caught.value.message == (
        "'config.json' of Hugging Face model 'acme/widget' could not be downloaded from the Hub "
        "(ConnectError); retry later."
    )
    ref = parse_source_url("https://huggingface.co/acme/widget/tree/dev", settings)
    with pytest.raises(UpstreamUnavailable, match="could not be downloaded from the Hub"):
        download_hf_file(ref, "config.json", tmp_path / "config.json", settings)  # a URL's ref


def test_metadata_files_that_are_not_json_objects_are_left_out(
    hub_replay: HfHubReplay, upstream_env: Settings, tmp_path: Path
) -> None:
    add_model(
        hub_replay,
        tmp_path,
        "acme/broken-config",
        {
            "README.md": b"# broken\n",
            "config.json": b"{not json",
            "generation_config.json": b"[1, 2]",
            "adapter_config.json": b'{"base_model_name_or_path": "acme/base"}',
        },
    )
    snap = fetch_snapshot("https://huggingface.co/acme/broken-config", "dataset", upstream_env)
    assert snap.hf is not None
    assert snap.hf.config is None
    assert "generation_config.json" not in snap.hf.extra_json
    assert snap.hf.extra_json["adapter_config.json"] == {"base_model_name_or_path": "acme/base"}
