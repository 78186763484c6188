"""Download one file of a GitHub repository over the REST API (v3), streamed to disk.

``GET /repos/{owner}/{repo}/contents/{path}?ref={head_sha or default_branch}`` with the raw
media type answers the file's bytes (GitHub serves files up to 100 MB this way; the default JSON
media type would base64 them into memory and stops carrying content above 1 MB). The bytes are
written to ``<dest>.part`` chunk by chunk, hashed on the way, checked, then renamed to ``dest``.
Downloads share the process-wide keep-alive client of :mod:`.clients` (one per token).

Paths are the repository paths :func:`tmr.sources.github.fetch_github_repo` records in
``GitHubRepo.files`` (full paths from the repository root, also when a sub-folder was registered);
a path relative to the registered ``subdir`` is accepted too when it names a recorded file.

Errors follow :mod:`tmr.sources.github`: 404 is :class:`UpstreamNotFound`; timeouts, connection
failures, 5xx, a short rate-limit wait, a cut-short body and a digest mismatch are
:class:`UpstreamUnavailable` (retried by :func:`tmr.sources.retry.with_retries`); an exhausted rate
limit is :class:`UpstreamUnavailable` that is not retried.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from urllib.parse import quote

import httpx

from tmr.config import Settings
from tmr.domain.snapshot import GitHubRepo, RepoFile
from tmr.errors import UpstreamNotFound, UpstreamUnavailable
from tmr.sources.clients import shared_client
from tmr.sources.github import rate_limited, retry_after
from tmr.sources.retry import with_retries
from tmr.sources.streams import stream_to_file

log = logging.getLogger(__name__)

RAW_MEDIA_TYPE = "application/vnd.github.raw+json"
API_VERSION = "2022-11-28"
MAX_RATE_LIMIT_WAIT_SECONDS = 5.0
_CHUNK = 1024 * 1024
# A directory listing is JSON; read at most this much of it to tell it from a file.
_LISTING_PEEK_BYTES = 4 * 1024 * 1024


def download_github_file(
    repo: GitHubRepo,
    path: str,
    dest: Path,
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Stream ``path`` of ``repo`` at its recorded head to ``dest``; return the sha256 of the bytes.

    The commit is ``repo.head_sha`` when it was recorded, else the default branch. When the
    snapshot knows the file's sha256 the bytes must match it; when the commit is pinned they must
    also have the recorded size. ``transport`` is a test seam (``httpx.MockTransport``).
    """
    record = _record(repo, path)
    repo_path = record.path if record is not None else path.lstrip("/")
    ref = repo.head_sha or repo.default_branch
    what = f"'{repo_path}' of GitHub repository {repo.full_name}@{ref[:12]}"
    url = (
        f"{settings.github_api_url.rstrip('/')}/repos/{quote(repo.owner, safe='')}/"
        f"{quote(repo.name, safe='')}/contents/{quote(repo_path, safe='/')}"
    )
    expected_sha256 = record.sha256 if record is not None else None
    # a blob's size at a pinned commit cannot change (0 may only mean the tree did not say)
    expected_size = record.size if record is not None and repo.head_sha and record.size else None

    def attempt() -> str:
        return _stream(
            url,
            {"ref": ref},
            dest,
            what,
            settings,
            transport,
            expected_sha256,
            expected_size,
            known_file=record is not None,
        )

    return with_retries(attempt, f"GitHub download of {what}")


def _record(repo: GitHubRepo, path: str) -> RepoFile | None:
    """The recorded file ``path`` names: a repository path, or one relative to ``subdir``."""
    by_path = {f.path: f for f in repo.files}
    candidates = [path.lstrip("/")]
    if repo.subdir:
        candidates.append(f"{repo.subdir.strip('/')}/{path.lstrip('/')}")
    return next((by_path[c] for c in candidates if c in by_path), None)


def _headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Accept": RAW_MEDIA_TYPE,
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "trustworthy-model-registry",
    }
    if settings.github_token:
        headers["Authorization"] = f"Bearer {settings.github_token}"
    return headers


def _stream(
    url: str,
    params: dict[str, str],
    dest: Path,
    what: str,
    settings: Settings,
    transport: httpx.BaseTransport | None,
    expected_sha256: str | None,
    expected_size: int | None,
    *,
    known_file: bool,
) -> str:
    try:
        with (
            _client(settings, transport) as client,
            client.stream("GET", url, params=params) as response,
        ):
            if response.status_code >= 400:
                response.read()
                _raise_for_status(response, what)
            chunks = response.iter_bytes(_CHUNK)
            if not known_file and _is_json(response):
                chunks = _refuse_listing(chunks, what)
            length = response.headers.get("Content-Length")
            announced = int(length) if length is not None and length.isdigit() else None
            sha, _ = stream_to_file(
                chunks,
                dest,
                what,
                expected_sha256=expected_sha256,
                expected_size=expected_size if expected_size is not None else announced,
            )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"GitHub did not deliver {what} "
            f"({type(exc).__name__}); check GITHUB_API_URL and the network, then retry."
        ) from exc
    return sha


def _client(
    settings: Settings, transport: httpx.BaseTransport | None
) -> AbstractContextManager[httpx.Client]:
    """The shared keep-alive client (left open), or a test transport's own client (closed)."""
    if transport is None:
        return nullcontext(
            shared_client(headers=_headers(settings), timeout=settings.upstream_timeout_seconds)
        )
    return httpx.Client(
        headers=_headers(settings),
        follow_redirects=True,
        timeout=settings.upstream_timeout_seconds,
        transport=transport,
    )


def _is_json(response: httpx.Response) -> bool:
    kind: str = response.headers.get("Content-Type", "")
    return kind.split(";")[0].strip() == "application/json"


def _refuse_listing(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    """The body's chunks, unless it is the JSON GitHub answers for a directory or submodule.

    GitHub answers those with JSON whatever media type was asked; a file (even a ``.json`` one)
    comes back as its bytes, which this passes through unchanged.
    """
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) > _LISTING_PEEK_BYTES:
            break
    else:
        try:
            payload = json.loads(head)
        except ValueError:
            payload = None
        if isinstance(payload, list):
            raise UpstreamNotFound(f"{what} is a directory, not a file.")
        if isinstance(payload, dict) and payload.get("type") in ("dir", "submodule"):
            raise UpstreamNotFound(f"{what} is a {payload['type']}, not a file.")
    yield head
    yield from chunks


def _raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status in (403, 429) and rate_limited(response):
        wait = retry_after(response)
        if wait is not None and wait <= MAX_RATE_LIMIT_WAIT_SECONDS:
            time.sleep(wait)
            raise UpstreamUnavailable(
                f"GitHub rate limit hit downloading {what}; waited {wait:.0f}s."
            )
        raise UpstreamUnavailable(
            f"GitHub's rate limit is exhausted (downloading {what}); set GITHUB_TOKEN for a "
            "higher limit or retry later.",
            retry_after=wait,
            retryable=False,
        )
    if status == 404:
        raise UpstreamNotFound(
            f"GitHub has no {what} (the file, commit or repository is gone, or private: set "
            "GITHUB_TOKEN)."
        )
    if status == 401:
        raise UpstreamUnavailable("GitHub rejected the credentials; check GITHUB_TOKEN.")
    if status == 403:
        raise UpstreamUnavailable(
            f"GitHub refused {what} ({_message(response) or 'forbidden'}).",
            status=status,
            retryable=False,
        )
    raise UpstreamUnavailable(f"GitHub answered {status} for {what}; retry later.", status=status)


def _message(response: httpx.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return str(payload.get("message")) if isinstance(payload, dict) else None
