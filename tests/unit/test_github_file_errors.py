"""Downloading one GitHub file when GitHub answers with something else than the file: a directory
or submodule listing, JSON that is a file, credentials refused, a permission error, a short rate
limit waited out. Each answer comes from ``httpx.MockTransport`` (the download's test seam)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest

from tmr.config import Settings, load_settings
from tmr.domain.snapshot import GitHubRepo
from tmr.errors import UpstreamNotFound, UpstreamUnavailable
from tmr.sources import github_files, retry
from tmr.sources.github_files import download_github_file

REPO = GitHubRepo(owner="acme", name="widget", head_sha="0123456789abcdef")
WHAT = "'src' of GitHub repository acme/widget@0123456789ab"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(retry, "BASE_DELAY_SECONDS", 0.0)
    return load_settings(data_dir=tmp_path / "data", log_level=0)


def answer(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    asked: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return httpx.MockTransport(handler), asked


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ([{"name": "a.py", "type": "file"}], f"{WHAT} is a directory, not a file."),
        ({"name": "src", "type": "submodule"}, f"{WHAT} is a submodule, not a file."),
        ({"name": "src", "type": "dir"}, f"{WHAT} is a dir, not a file."),
    ],
)
def test_a_listing_is_not_a_file(
    settings: Settings, tmp_path: Path, body: object, said: str
) -> None:
    transport, _ = answer(httpx.Response(200, json=body))
    dest = tmp_path / "src"
    with pytest.raises(UpstreamNotFound) as caught:
        download_github_file(REPO, "src", dest, settings, transport=transport)
    assert caught.value.message == said
    assert not dest.exists()


def test_json_that_is_a_file_passes_through_unchanged(settings: Settings, tmp_path: Path) -> None:
    for body in (b'{"name": "config", "type": "file-ish"}', b"{not json", b"[1, 2" + b" " * 10):
        transport, _ = answer(
            httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
        )
        dest = tmp_path / "config.json"
        sha = download_github_file(REPO, "config.json", dest, settings, transport=transport)
        assert dest.read_bytes() == body
        assert sha == hashlib.sha256(body).hexdigest()


def test_a_large_json_file_is_not_mistaken_for_a_listing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(github_files, "_LISTING_PEEK_BYTES", 64)
    body = json.dumps([{"row": i} for i in range(100)]).encode()  # a list, past the peek
    transport, _ = answer(
        httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    )
    dest = tmp_path / "rows.json"
    download_github_file(REPO, "rows.json", dest, settings, transport=transport)
    assert dest.read_bytes() == body


@pytest.mark.parametrize(
    ("response", "said", "tries"),
    [
        (
            httpx.Response(401, json={"message": "Bad credentials"}),
            "GitHub rejected the credentials; check GITHUB_TOKEN.",
            retry.ATTEMPTS,
        ),
        (
            httpx.Response(403, json={"message": "Repository access blocked"}),
            f"GitHub refused {WHAT} (Repository access blocked).",
            1,
        ),
        (httpx.Response(403, content=b"<html>no</html>"), f"GitHub refused {WHAT} (forbidden).", 1),
        (httpx.Response(403, json=["odd"]), f"GitHub refused {WHAT} (forbidden).", 1),
    ],
    ids=["401", "403-message", "403-html", "403-list"],
)
def test_refusals_say_what_github_said(
    settings: Settings, tmp_path: Path, response: httpx.Response, said: str, tries: int
) -> None:
    transport, asked = answer(response)
    with pytest.raises(UpstreamUnavailable) as caught:
        download_github_file(REPO, "src", tmp_path / "src", settings, transport=transport)
    assert caught.value.message == said
    assert len(asked) == tries  # a permission problem is not retried


def test_a_short_rate_limit_is_waited_out_and_retried(settings: Settings, tmp_path: Path) -> None:
    transport, asked = answer(
        httpx.Response(429, headers={"Retry-After": "1"}, json={"message": "slow down"}),
        httpx.Response(200, content=b"print('hi')\n"),
    )
    began = time.monotonic()
    sha = download_github_file(REPO, "main.py", tmp_path / "main.py", settings, transport=transport)
    assert time.monotonic() - began >= 1.0  # waited as asked
    assert len(asked) == 2
    assert sha == hashlib.sha256(b"print('hi')\n").hexdigest()
