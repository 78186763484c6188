"""A GitHub repository fetched from a GitHub that answers oddly: optional parts missing, broken
or of the wrong shape are left out (never failing the fetch), and the answers that must fail it
say why. A small scripted server plays GitHub's REST API, path by path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tmr.config import Settings, load_settings
from tmr.domain.snapshot import GitHubContributor, RepoFile
from tmr.errors import UpstreamUnavailable
from tmr.sources import retry
from tmr.sources.github import fetch_github_repo

Answer = tuple[int, Any]  # status, JSON body (None: no body)


class ScriptedGitHub(ThreadingHTTPServer):
    def __init__(self, routes: dict[str, Answer]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.asked: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedGitHub

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        path = self.path.split("?", 1)[0]
        self.server.asked.append(path)
        status, body = self.server.routes.get(path, (404, {"message": "Not Found"}))
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def github(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[ScriptedGitHub, Settings]]:
    monkeypatch.setattr(retry, "BASE_DELAY_SECONDS", 0.0)
    server = ScriptedGitHub({})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = load_settings(
        data_dir=tmp_path / "data", github_api_url=server.url, allow_private_upstream=True,
        upstream_timeout_seconds=5, log_level=0,
    )  # fmt: skip
    yield server, settings
    server.shutdown()
    server.server_close()


def test_odd_optional_parts_are_read_as_far_as_they_make_sense(github) -> None:  # type: ignore[no-untyped-def]
    server, settings = github
    base = "/repos/acme/odd-bits"
    server.routes.update({
        base: (200, {"owner": {"login": "acme"}, "name": "odd-bits", "default_branch": "main",
                     "license": {"spdx_id": "NOASSERTION", "name": "Other"}}),
        f"{base}/license": (200, {"license": {"spdx_id": "MIT", "name": "MIT License"},
                                  "content": "MIT License text", "encoding": "utf-8"}),
        f"{base}/pulls": (500, {"message": "Server Error"}),
        f"{base}/branches/main": (200, {"commit": {"sha": "abc123"}}),
        f"{base}/readme/docs": (200, {"content": "IyBEb2Nz", "encoding": "base64",
                                      "path": "docs/README.md"}),
        f"{base}/languages": (200, ["Python", "C"]),
        f"{base}/contributors": (200, [{"login": "ann", "contributions": 3}, "ghost",
                                       {"email": "bob@example.com"}]),
        f"{base}/git/trees/main": (200, {"truncated": True, "tree": [
            {"path": "docs/a.md", "type": "blob", "size": 5},
            {"path": "src/b.py", "type": "blob", "size": 7},
            {"path": "docs", "type": "tree"},
        ]}),
    })  # fmt: skip

    repo = fetch_github_repo("acme", "odd-bits", settings, subdir="docs")

    assert (repo.license_spdx, repo.license_name) == ("MIT", "MIT License")
    assert repo.license_text == "MIT License text"  # not base64: taken as it is
    assert repo.readme_text == "# Docs"  # the subfolder's own README
    assert repo.staged == {"docs/README.md": b"# Docs"}
    assert repo.languages == {}  # a list is not GitHub's documented answer
    assert repo.contributors == [
        GitHubContributor(login="ann", contributions=3),
        GitHubContributor(login="bob@example.com", contributions=0),
    ]
    assert repo.files == [RepoFile(path="docs/a.md", size=5)]  # the subfolder's blobs only
    assert (repo.pulls, repo.pulls_truncated) == ([], False)  # unavailable: no reviewedness
    assert server.asked.count(f"{base}/pulls") == retry.ATTEMPTS
    assert repo.head_sha == "abc123"


def test_broken_contents_empty_answers_and_vanished_pulls_are_left_out(github) -> None:  # type: ignore[no-untyped-def]
    server, settings = github
    base = "/repos/acme/plain"
    server.routes.update({
        base: (200, {"owner": {"login": "acme"}, "name": "plain"}),
        f"{base}/readme": (200, {"content": "abc", "encoding": "base64"}),  # bad padding
        f"{base}/languages": (204, None),
        f"{base}/contributors": (200, {"message": "not a list"}),
        f"{base}/pulls": (200, [{"number": 7, "merged_at": "2025-01-01T00:00:00Z"},
                                {"number": 8, "merged_at": None}]),
        # /pulls/7 itself is gone (404)
    })  # fmt: skip

    repo = fetch_github_repo("acme", "plain", settings)

    assert repo.readme_text == ""
    assert repo.languages == {}
    assert repo.contributors == []
    assert repo.pulls == [] and repo.pulls_truncated is False
    assert f"{base}/pulls/7" in server.asked and f"{base}/pulls/8" not in server.asked
    assert (repo.default_branch, repo.files, repo.head_sha) == ("main", [], None)


@pytest.mark.parametrize(
    ("answer", "message", "tries"),
    [
        ((200, ["not", "a", "repository"]),
         "GitHub answered /repos/acme/odd with something not a repository.", 1),
        ((401, {"message": "Bad credentials"}),
         "GitHub rejected the credentials; check GITHUB_TOKEN.", retry.ATTEMPTS),
        ((429, {"message": "slow down"}),
         "GitHub's rate limit is exhausted (/repos/acme/odd); set GITHUB_TOKEN for a higher "
         "limit or retry later.", 1),
    ],
    ids=["not-a-repository", "credentials", "rate-limit-without-a-time"],
)  # fmt: skip
def test_answers_that_fail_the_fetch_say_why(
    github, answer: Answer, message: str, tries: int
) -> None:  # type: ignore[no-untyped-def]
    server, settings = github
    server.routes["/repos/acme/odd"] = answer
    with pytest.raises(UpstreamUnavailable) as caught:
        fetch_github_repo("acme", "odd", settings)
    assert caught.value.message == message
    assert server.asked.count("/repos/acme/odd") == tries
