"""Fetch a GitHub repository into a :class:`GitHubRepo` over the REST API (v3) with httpx.

Reads the repository, its license and README (base64 contents), languages, contributors
(anonymous ones included, paged through ``Link`` headers), the recursive git tree with sizes, and
the merged pull requests with their reviews and files, which reviewedness needs. Everything is
bounded: a few pages of contributors, at most :data:`MAX_PULLS` pull requests (the snapshot says
when it stopped early with ``pulls_truncated``). Once the repository itself has answered, its
parts are fetched concurrently, and so are the pull requests (at most :data:`_WORKERS` requests at
a time), over the process-wide keep-alive client of :mod:`.clients`. A 404 is
:class:`UpstreamNotFound`; timeouts, 5xx and an exhausted rate limit are
:class:`UpstreamUnavailable` with what to do about it.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx

from tmr.config import Settings
from tmr.domain.snapshot import GitHubContributor, GitHubPull, GitHubPullFile, GitHubRepo, RepoFile
from tmr.errors import TmrError, UpstreamNotFound, UpstreamUnavailable
from tmr.sources.clients import shared_client
from tmr.sources.retry import with_retries

log = logging.getLogger(__name__)

# The same bounded sample of merged pull requests with or without GITHUB_TOKEN, so the same
# repository always gives the same snapshot and the same verdict (without a token GitHub allows
# 60 requests an hour, and each pull request costs three; a token only makes it faster).
MAX_PULLS = 10
MAX_CONTRIBUTOR_PAGES = 5
MAX_PULL_LIST_PAGES = 10
MAX_PULL_FILE_PAGES = 3
MAX_RATE_LIMIT_WAIT_SECONDS = 5.0
PER_PAGE = 100
_WORKERS = 8  # concurrent pull-request fetches of one repository
_PARTS = 7  # license, pull requests, branch, README, languages, contributors, tree


class GitHubClient:
    """A thin REST client: base URL, auth, retries, error mapping, ``Link`` pagination."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "trustworthy-model-registry",
        }
        if settings.github_token:
            headers["Authorization"] = f"Bearer {settings.github_token}"
        self.base_url = settings.github_api_url.rstrip("/")
        self.authenticated = bool(settings.github_token)
        self._owned = transport is not None
        if transport is not None:  # the test seam (httpx.MockTransport)
            self._client = httpx.Client(
                base_url=self.base_url,
                headers=headers,
                follow_redirects=True,
                timeout=settings.upstream_timeout_seconds,
                transport=transport,
            )
        else:  # the process-wide keep-alive client of this API URL and token
            self._client = shared_client(
                base_url=self.base_url, headers=headers, timeout=settings.upstream_timeout_seconds
            )

    def close(self) -> None:
        """Close a test transport's client; the shared client stays open for the next fetch."""
        if self._owned:
            self._client.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET with bounded retries; raise the registry's errors for 404, 5xx and rate limits."""
        return with_retries(lambda: self._get_once(path, params), f"GitHub GET {path}")

    def json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.get(path, params)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def paged(self, path: str, params: dict[str, Any], max_pages: int) -> tuple[list[Any], bool]:
        """Items of up to ``max_pages`` pages; the flag is true when more pages were left."""
        items: list[Any] = []
        left = False
        for page, more in self.pages(path, params, max_pages):
            items.extend(page)
            left = more
        return items, left

    def pages(
        self, path: str, params: dict[str, Any], max_pages: int
    ) -> Iterator[tuple[list[Any], bool]]:
        """Each page (following ``Link: rel="next"``) and whether another one follows it."""
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for number in range(1, max_pages + 1):
            assert url is not None
            response = self.get(url, query)
            page = response.json() if response.status_code != 204 and response.content else []
            if not isinstance(page, list):
                raise UpstreamUnavailable(f"GitHub answered {path} with a non-list page.")
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
            yield page, url is not None
            if url is None or number == max_pages:
                return

    def _get_once(self, path: str, params: dict[str, Any] | None) -> httpx.Response:
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"GitHub did not answer {path} ({type(exc).__name__}); "
                "check GITHUB_API_URL and the network, then retry."
            ) from exc
        if response.status_code < 400:
            return response
        if response.status_code in (403, 429) and rate_limited(response):
            wait = retry_after(response)
            if wait is not None and wait <= MAX_RATE_LIMIT_WAIT_SECONDS:
                time.sleep(wait)
                raise UpstreamUnavailable(f"GitHub rate limit hit on {path}; waited {wait:.0f}s.")
            raise UpstreamUnavailable(
                f"GitHub's rate limit is exhausted ({path}); set GITHUB_TOKEN for a higher limit "
                "or retry later.",
                retry_after=wait,
                retryable=False,
            )
        if response.status_code == 404:
            raise UpstreamNotFound(f"GitHub has no {path} (missing or private repository).")
        if response.status_code == 401:
            raise UpstreamUnavailable("GitHub rejected the credentials; check GITHUB_TOKEN.")
        raise UpstreamUnavailable(
            f"GitHub answered {response.status_code} for {path}; retry later.",
            status=response.status_code,
        )


def fetch_github_repo(
    owner: str,
    repo: str,
    settings: Settings,
    *,
    branch: str | None = None,
    subdir: str | None = None,
) -> GitHubRepo:
    """Fetch ``owner/repo`` (optionally one branch and sub-folder) into a :class:`GitHubRepo`."""
    with GitHubClient(settings) as gh:
        base = f"/repos/{owner}/{repo}"
        try:
            info = gh.json(base)
        except UpstreamNotFound as exc:
            raise UpstreamNotFound(
                f"GitHub repository {owner}/{repo} does not exist (or is private: set "
                "GITHUB_TOKEN); check the URL."
            ) from exc
        if not isinstance(info, dict) or not isinstance(info.get("owner"), dict):
            raise UpstreamUnavailable(f"GitHub answered {base} with something not a repository.")
        owner, repo = str(info["owner"].get("login") or owner), str(info.get("name") or repo)
        base = f"/repos/{owner}/{repo}"
        ref = quote(branch or info.get("default_branch") or "main", safe="/")
        # The rest only needs the canonical name and the ref: ask for it all at once.
        staged: dict[str, bytes] = {}  # README and LICENSE bytes, stored without a second fetch
        with ThreadPoolExecutor(max_workers=_PARTS) as pool:
            license_ = pool.submit(_license, gh, base, info, staged)
            merged = pool.submit(_merged_pulls, gh, base)
            head = pool.submit(
                _optional, lambda: gh.json(f"{base}/branches/{ref}")["commit"]["sha"]
            )
            readme = pool.submit(_readme, gh, base, ref, subdir, staged)
            languages = pool.submit(_optional, lambda: gh.json(f"{base}/languages"))
            contributors = pool.submit(_contributors, gh, base)
            tree = pool.submit(_tree, gh, base, ref, subdir)
        license_spdx, license_name, license_text = license_.result()
        pulls, truncated = merged.result()
        return GitHubRepo(
            owner=owner,
            name=repo,
            default_branch=info.get("default_branch") or "main",
            head_sha=head.result(),
            subdir=subdir,
            description=info.get("description"),
            license_spdx=license_spdx,
            license_name=license_name,
            license_text=license_text,
            stars=int(info.get("stargazers_count") or 0),
            forks=int(info.get("forks_count") or 0),
            open_issues=int(info.get("open_issues_count") or 0),
            archived=bool(info.get("archived")),
            created_at=info.get("created_at"),
            pushed_at=info.get("pushed_at"),
            topics=[t for t in info.get("topics") or [] if isinstance(t, str)],
            readme_text=readme.result(),
            languages=_byte_counts(languages.result()),
            contributors=contributors.result(),
            files=tree.result(),
            pulls=pulls,
            pulls_truncated=truncated,
            staged=staged,
        )


def _byte_counts(payload: Any) -> dict[str, int]:
    """``/languages`` as GitHub documents it (name -> bytes); anything else counts as none."""
    if not isinstance(payload, dict):
        return {}
    return {str(k): v for k, v in payload.items() if isinstance(v, int) and not isinstance(v, bool)}


def _optional(call: Any) -> Any:
    """Evidence we can live without: a missing or broken answer is logged and becomes None."""
    try:
        return call()
    except (TmrError, KeyError, TypeError, ValueError) as exc:
        log.info("optional GitHub data unavailable: %s", exc)
        return None


def _decode_content(payload: Any) -> str | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("content"), str):
        return None
    if payload.get("encoding", "base64") != "base64":
        return str(payload["content"])
    try:
        return base64.b64decode(payload["content"]).decode("utf-8", errors="replace")
    except ValueError:
        return None


def _stage(payload: Any, staged: dict[str, bytes]) -> Any:
    """Keep the raw bytes of a contents payload under its path (for storing them later)."""
    if (
        isinstance(payload, dict)
        and isinstance(payload.get("path"), str)
        and isinstance(payload.get("content"), str)
        and payload.get("encoding") == "base64"
    ):
        with contextlib.suppress(ValueError):
            staged[payload["path"]] = base64.b64decode(payload["content"])
    return payload


def _license(
    gh: GitHubClient, base: str, info: dict[str, Any], staged: dict[str, bytes]
) -> tuple[str | None, ...]:
    payload = _stage(_optional(lambda: gh.json(f"{base}/license")), staged)
    obj = (payload or {}).get("license") or info.get("license") or {}
    spdx = obj.get("spdx_id") if isinstance(obj, dict) else None
    name = obj.get("name") if isinstance(obj, dict) else None
    return (None if spdx in (None, "NOASSERTION") else spdx), name, _decode_content(payload)


def _readme(
    gh: GitHubClient, base: str, ref: str, subdir: str | None, staged: dict[str, bytes]
) -> str:
    if subdir:
        payload = _optional(lambda: gh.json(f"{base}/readme/{subdir}", {"ref": ref}))
        text = _decode_content(_stage(payload, staged))
        if text is not None:
            return text
    payload = _optional(lambda: gh.json(f"{base}/readme", {"ref": ref}))
    return _decode_content(_stage(payload, staged)) or ""


def _contributors(gh: GitHubClient, base: str) -> list[GitHubContributor]:
    page = _optional(lambda: gh.paged(f"{base}/contributors", {"anon": 1}, MAX_CONTRIBUTOR_PAGES))
    people: list[GitHubContributor] = []
    for item in page[0] if page else []:
        if not isinstance(item, dict):
            continue
        login = item.get("login") or item.get("name") or item.get("email") or "anonymous"
        people.append(
            GitHubContributor(login=str(login), contributions=int(item.get("contributions") or 0))
        )
    return people


def _tree(gh: GitHubClient, base: str, ref: str, subdir: str | None) -> list[RepoFile]:
    payload = _optional(lambda: gh.json(f"{base}/git/trees/{ref}", {"recursive": 1}))
    entries = payload.get("tree", []) if isinstance(payload, dict) else []
    if isinstance(payload, dict) and payload.get("truncated"):
        log.info("GitHub truncated the tree of %s", base)
    prefix = f"{subdir.rstrip('/')}/" if subdir else ""
    return [
        RepoFile(path=e["path"], size=int(e.get("size") or 0))
        for e in entries
        if isinstance(e, dict)
        and e.get("type") == "blob"
        and str(e.get("path", "")).startswith(prefix)
    ]


def _merged_pulls(gh: GitHubClient, base: str) -> tuple[list[GitHubPull], bool]:
    """The most recently updated merged pull requests, with reviews and files, up to a limit."""
    limit = MAX_PULLS
    merged: list[int] = []
    truncated = False
    params = {"state": "closed", "sort": "updated", "direction": "desc"}
    try:
        for page, more in gh.pages(f"{base}/pulls", params, MAX_PULL_LIST_PAGES):
            numbers = [p["number"] for p in page if isinstance(p, dict) and p.get("merged_at")]
            merged.extend(numbers)
            if len(merged) >= limit:
                truncated = len(merged) > limit or more
                break
            truncated = more
    except TmrError as exc:
        log.info("pull requests of %s unavailable: %s", base, exc.message)
        return [], False
    # Each pull request costs three requests (detail, reviews, files): all of them share one
    # bounded pool, so a long list is fetched _WORKERS requests at a time.
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        parts = [
            (
                number,
                pool.submit(_optional, lambda n=number: gh.json(f"{base}/pulls/{n}")),
                pool.submit(
                    _optional, lambda n=number: gh.paged(f"{base}/pulls/{n}/reviews", {}, 1)
                ),
                pool.submit(
                    _optional,
                    lambda n=number: gh.paged(f"{base}/pulls/{n}/files", {}, MAX_PULL_FILE_PAGES),
                ),
            )
            for number in merged[:limit]
        ]
        pulls = [
            p
            for number, detail, reviews, files in parts
            if (p := _pull(number, detail.result(), reviews.result(), files.result()))
        ]
    return pulls, truncated


def _pull(
    number: int,
    detail: Any,
    reviews: tuple[list[Any], bool] | None,
    files: tuple[list[Any], bool] | None,
) -> GitHubPull | None:
    """A pull request from its detail, first page of reviews and pages of files (None if gone)."""
    if not isinstance(detail, dict):
        return None
    review_list = [r for r in (reviews[0] if reviews else []) if isinstance(r, dict)]
    return GitHubPull(
        number=number,
        merged=bool(detail.get("merged") or detail.get("merged_at")),
        review_count=len(review_list),
        approved=any(r.get("state") == "APPROVED" for r in review_list),
        additions=int(detail.get("additions") or 0),
        files=[
            GitHubPullFile(path=str(f.get("filename")), additions=int(f.get("additions") or 0))
            for f in (files[0] if files else [])
            if isinstance(f, dict)
        ],
    )


def rate_limited(response: httpx.Response) -> bool:
    """Whether a 403/429 is GitHub's rate limit rather than a permission problem."""
    return (
        response.headers.get("X-RateLimit-Remaining") == "0"
        or "Retry-After" in response.headers
        or response.status_code == 429
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds GitHub asks us to wait, from Retry-After or X-RateLimit-Reset."""
    value = response.headers.get("Retry-After")
    if value is not None and value.strip().isdigit():
        return float(value)
    reset = response.headers.get("X-RateLimit-Reset")
    if reset is not None and reset.strip().isdigit():
        return max(0.0, float(reset) - time.time())
    return None
