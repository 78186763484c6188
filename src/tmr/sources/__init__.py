"""Upstream sources: the only code that talks to Hugging Face and GitHub.

:func:`fetch_snapshot` turns a source URL into a :class:`Snapshot`: it parses and vets the URL
(:mod:`.urls`), fetches the repository it names (:mod:`.huggingface`, :mod:`.github`; a web page
is registered from what its URL says and never fetched), reads the declared parents and links
(:mod:`.card`), and fetches a few linked datasets and code repositories alongside
(:mod:`.linked`: concurrently, and briefly cached since many models link the same ones), whose
failures are logged and skipped because they must never sink the primary registration. The
primary repository itself is always fetched fresh.
:func:`download_file` streams one file of a Hugging Face repository (:mod:`.huggingface`) or of
a GitHub repository (:mod:`.github_files`) to disk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from tmr.config import Settings
from tmr.domain.snapshot import GitHubRepo, HfRepo, Snapshot, WebPage
from tmr.errors import NotFound
from tmr.sources.card import (
    dataset_urls_in_text,
    find_parents,
    linked_code_urls,
    linked_dataset_urls,
)
from tmr.sources.github import fetch_github_repo
from tmr.sources.github_files import download_github_file
from tmr.sources.huggingface import download_file as download_hf_file
from tmr.sources.huggingface import fetch_hf_repo
from tmr.sources.linked import fetch_linked
from tmr.sources.urls import SourceRef, is_known_dataset_host, parse_source_url

__all__ = ["SourceRef", "download_file", "fetch_snapshot", "parse_source_url"]

MAX_LINKED_DATASETS = 2
MAX_LINKED_CODE = 2


def download_file(
    source: SourceRef | Snapshot | HfRepo | GitHubRepo, path: str, dest: Path, settings: Settings
) -> str:
    """Stream one upstream file to ``dest`` and return its sha256, whichever host it lives on.

    GitHub snapshots go to :func:`download_github_file`, everything else to the Hub's
    :func:`download_hf_file`; a web page (Kaggle and the like) has no files to download.
    """
    if isinstance(source, Snapshot):
        if source.github is not None:
            return download_github_file(source.github, path, dest, settings)
        if source.hf is None:
            raise NotFound(
                f"{source.url} is a {source.source} source registered from its URL alone: it has "
                f"no files, so {path!r} cannot be downloaded."
            )
    if isinstance(source, GitHubRepo):
        return download_github_file(source, path, dest, settings)
    return download_hf_file(source, path, dest, settings)


def fetch_snapshot(url: str, artifact_type: str, settings: Settings) -> Snapshot:
    """Fetch what ``url`` names, plus up to two linked datasets and two linked code repositories.

    The artifact type comes from the caller and does not have to match the URL (a model may be
    registered from GitHub); linked artifacts are fetched for models, whose metrics need them.
    """
    snapshot = fetch_primary(url, settings)
    if artifact_type == "model":
        snapshot.linked = _fetch_linked(snapshot, settings)
    return snapshot


def fetch_primary(url: str, settings: Settings) -> Snapshot:
    """Fetch only the artifact ``url`` names, with its declared parents and links (no linked)."""
    ref = parse_source_url(url, settings)
    fetched_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    if ref.is_huggingface:
        repo = fetch_hf_repo(ref, settings)
        parents = find_parents(repo) if repo.repo_type == "model" else []
        own = f"https://huggingface.co/datasets/{repo.repo_id}".lower()
        return Snapshot(
            source="huggingface",
            url=url,
            fetched_at=fetched_at,
            hf=repo,
            parents=parents,
            linked_dataset_urls=[u for u in linked_dataset_urls(repo) if u.lower() != own],
            linked_code_urls=linked_code_urls(repo.card_text),
        )
    if ref.kind == "github":
        owner, name = (ref.repo_id or "/").split("/", 1)
        gh = fetch_github_repo(owner, name, settings, branch=ref.revision, subdir=ref.subdir)
        own_url = f"https://github.com/{gh.full_name}".lower()
        return Snapshot(
            source="github",
            url=url,
            fetched_at=fetched_at,
            github=gh,
            linked_dataset_urls=dataset_urls_in_text(gh.readme_text),
            linked_code_urls=[u for u in linked_code_urls(gh.readme_text) if u.lower() != own_url],
        )
    return Snapshot(source="web", url=url, fetched_at=fetched_at, page=web_page(ref))


def web_page(ref: SourceRef) -> WebPage:
    """What a page's URL says about it: its host and a title taken from its path."""
    segments = [unquote(s) for s in ref.path.split("/") if s]
    title = segments[-1].replace("-", " ").replace("_", " ").strip() if segments else ref.host
    kind = "Dataset page" if is_known_dataset_host(ref.host) else "Web page"
    path = "/".join(segments)
    return WebPage(
        url=ref.url,
        host=ref.host,
        title=title or ref.host,
        description=f"{kind} on {ref.host}" + (f": {path}" if path else ""),
    )


def _fetch_linked(snapshot: Snapshot, settings: Settings) -> list[Snapshot]:
    groups = [
        (snapshot.linked_dataset_urls, MAX_LINKED_DATASETS),
        (snapshot.linked_code_urls, MAX_LINKED_CODE),
    ]
    return fetch_linked(snapshot.url, groups, settings, fetch_primary)
