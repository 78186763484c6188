"""Fetch a Hugging Face model or dataset repository into an :class:`HfRepo`, and download files.

This is the only module that talks to the Hub, and it talks through ``huggingface_hub`` itself
(``HfApi`` with the configured endpoint and token), so the registry speaks the real protocol:
``model_info``/``dataset_info`` with ``files_metadata`` for every file's size and LFS sha256,
a ``GET`` of the ``resolve`` URL on the library's session (``get_session``, checked by
``hf_raise_for_status``) for the card and the small JSON files (``config.json``,
``adapter_config.json`` …), ``list_repo_refs`` for git tags; the files and the tags are fetched
concurrently once the repository has answered. Hub errors become the registry's
error tree (missing → :class:`UpstreamNotFound`, gated → :class:`UpstreamGated`, network and 5xx →
:class:`UpstreamUnavailable`), each message naming the repository and what to do.
:func:`download_file` streams one file to disk and checks its sha256, over the process-wide
keep-alive client of :mod:`.clients`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import httpx2
from huggingface_hub import HfApi, hf_hub_url
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import (  # type: ignore[attr-defined]
    build_hf_headers,
    get_session,
    hf_raise_for_status,
)

from tmr.config import Settings
from tmr.domain.snapshot import HfRepo, RepoFile, Snapshot, cap_extra_json
from tmr.errors import TmrError, UpstreamGated, UpstreamNotFound, UpstreamUnavailable
from tmr.sources.card import PROBLEMS_KEY, read_front_matter
from tmr.sources.clients import shared_client
from tmr.sources.retry import with_retries
from tmr.sources.streams import stream_to_file
from tmr.sources.urls import SourceRef

T = TypeVar("T")
RepoType = Literal["model", "dataset"]
log = logging.getLogger(__name__)

SMALL_JSON_MAX_BYTES = 1_000_000
MAX_EXTRA_JSON_FILES = 8
# Root JSON files that are vocabularies or tokenizer tables, not metadata.
_SKIP_JSON = frozenset({"config.json", "tokenizer.json", "vocab.json", "merges.json"})
_CHUNK = 1024 * 1024
_WORKERS = 8  # concurrent small-file downloads (and the git refs) of one repository
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def fetch_hf_repo(ref: SourceRef, settings: Settings) -> HfRepo:
    """Fetch the repository ``ref`` names (metadata, card, small JSON files, tags)."""
    assert ref.repo_id is not None, "a Hugging Face SourceRef always has a repo id"
    repo_type: RepoType = ref.hf_repo_type
    api = _api(settings)
    what = f"Hugging Face {repo_type} '{ref.repo_id}'"
    info = with_retries(
        lambda: _translate(
            lambda: _info(api, ref.repo_id or "", repo_type, ref.revision, settings), what, settings
        ),
        what,
    )
    repo_id: str = info.id
    siblings = list(info.siblings or [])
    files = [
        RepoFile(
            path=s.rfilename,
            size=int(s.lfs.size if s.lfs is not None else (s.size or 0)),
            sha256=s.lfs.sha256 if s.lfs is not None else None,
            lfs=s.lfs is not None,
        )
        for s in siblings
    ]
    if ref.subdir:
        prefix = ref.subdir.rstrip("/") + "/"
        files = [f for f in files if f.path.startswith(prefix)] or files
    revision = info.sha or ref.revision or "main"
    staged: dict[str, bytes] = {}
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        git_tags = pool.submit(_git_tags, api, repo_id, repo_type)
        texts = _download_small_files(
            repo_id, repo_type, revision, files, ref.subdir, settings, pool, staged
        )
    card_text = texts.get("README.md", b"").decode("utf-8", errors="replace")
    card_data, problem, _ = read_front_matter(card_text)
    if "README.md" not in texts and info.card_data is not None:
        card_data = info.card_data.to_dict()  # no card to read: the Hub's own parse of it
    config = _json_object(texts.get("config.json"))
    extra: dict[str, Any] = {
        name: obj
        for name, raw in texts.items()
        if name not in ("README.md", "config.json") and (obj := _json_object(raw)) is not None
    }
    if problem:
        extra[PROBLEMS_KEY] = {"README.md": problem}
    tags = [t for t in (info.tags or []) if isinstance(t, str)]
    return HfRepo(
        repo_id=repo_id,
        repo_type=repo_type,
        sha=info.sha,
        revision=ref.revision or "main",
        card_text=card_text,
        card_data=card_data,
        config=config,
        extra_json=cap_extra_json(extra),
        tags=tags,
        license=_license(card_data, tags),
        pipeline_tag=getattr(info, "pipeline_tag", None),
        library_name=getattr(info, "library_name", None) or _str(card_data.get("library_name")),
        downloads=int(info.downloads or 0),
        likes=int(info.likes or 0),
        last_modified=_iso(info.last_modified),
        created_at=_iso(info.created_at),
        gated=bool(info.gated),
        git_tags=git_tags.result(),
        files=files,
        staged=staged,
    )


def download_file(
    ref_or_snapshot: SourceRef | Snapshot | HfRepo, path: str, dest: Path, settings: Settings
) -> str:
    """Stream ``path`` of the repository to ``dest`` (never whole in memory); return its sha256.

    The digest is checked against the sha256 recorded in the snapshot, or announced by the Hub
    (``X-Linked-Etag`` of an LFS redirect); a mismatch deletes the partial file and raises
    :class:`UpstreamUnavailable`.
    """
    repo_id, repo_type, revision, expected = _locate(ref_or_snapshot, path)
    url = hf_hub_url(
        repo_id,
        path,
        repo_type=repo_type,
        revision=revision,
        endpoint=settings.hf_endpoint.rstrip("/"),
    )
    what = f"'{path}' of Hugging Face {repo_type} '{repo_id}'"
    return with_retries(lambda: _stream(url, dest, expected, what, settings), what)


def _api(settings: Settings) -> HfApi:
    return HfApi(endpoint=settings.hf_endpoint.rstrip("/"), token=settings.hf_token or False)


def _info(
    api: HfApi, repo_id: str, repo_type: RepoType, revision: str | None, settings: Settings
) -> Any:
    timeout = settings.upstream_timeout_seconds
    if repo_type == "dataset":
        return api.dataset_info(repo_id, revision=revision, files_metadata=True, timeout=timeout)
    return api.model_info(repo_id, revision=revision, files_metadata=True, timeout=timeout)


def _download_small_files(
    repo_id: str,
    repo_type: RepoType,
    revision: str,
    files: list[RepoFile],
    subdir: str | None,
    settings: Settings,
    pool: ThreadPoolExecutor,
    staged: dict[str, bytes],
) -> dict[str, bytes]:
    """Download README.md, config.json and the small root JSON files; fill in their sha256.

    The downloads run on ``pool`` at once; the first failure in file order is the one raised,
    as if they had been downloaded one after the other.
    """
    by_path = {f.path: f for f in files}
    prefix = f"{subdir.rstrip('/')}/" if subdir else ""
    wanted: dict[str, RepoFile] = {}
    for name in ("README.md", "config.json", "adapter_config.json"):
        record = by_path.get(prefix + name) or by_path.get(name)
        if record is not None:
            wanted[name] = record
    extras = [
        f
        for f in files
        if "/" not in f.path[len(prefix) :]
        and f.path.startswith(prefix)
        and f.path.endswith(".json")
        and not f.lfs
        and f.size <= SMALL_JSON_MAX_BYTES
        and f.path[len(prefix) :] not in _SKIP_JSON
        and f.path[len(prefix) :] not in wanted
    ]
    for record in extras[:MAX_EXTRA_JSON_FILES]:
        wanted[record.path[len(prefix) :]] = record
    chosen = [
        (name, record)
        for name, record in wanted.items()
        if record.size <= SMALL_JSON_MAX_BYTES or name == "README.md"
    ]
    downloads = [
        pool.submit(_download_small, repo_id, repo_type, revision, record.path, settings)
        for _, record in chosen
    ]
    out: dict[str, bytes] = {}
    for (name, record), download in zip(chosen, downloads, strict=True):
        data = download.result()
        if data is None:
            continue
        out[name] = data
        staged[record.path] = data
        record.sha256 = hashlib.sha256(data).hexdigest()
    return out


def _download_small(
    repo_id: str, repo_type: RepoType, revision: str, path: str, settings: Settings
) -> bytes | None:
    """One small file's bytes, by a single ``GET`` of its ``resolve`` URL on the Hub's session.

    ``hf_hub_download`` would add a ``HEAD``, a lock file and a cache folder per file for bytes
    that are kept in memory anyway; ``hf_raise_for_status`` gives the same Hub errors.
    """
    what = f"'{path}' of Hugging Face {repo_type} '{repo_id}'"
    url = hf_hub_url(
        repo_id,
        path,
        repo_type=repo_type,
        revision=revision,
        endpoint=settings.hf_endpoint.rstrip("/"),
    )

    def call() -> bytes | None:
        response = get_session().get(
            url,
            headers=build_hf_headers(token=settings.hf_token or False),
            follow_redirects=True,
            timeout=settings.upstream_timeout_seconds,
        )
        try:
            hf_raise_for_status(response)
        except RemoteEntryNotFoundError:
            log.info("%s is listed but not downloadable; skipped", what)
            return None
        return response.content

    return with_retries(lambda: _translate(call, what, settings), what)


def _git_tags(api: HfApi, repo_id: str, repo_type: RepoType) -> list[str]:
    try:
        refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    except Exception as exc:  # tags are optional evidence: never fail an ingest over them
        log.info("no git refs for %s %s: %s", repo_type, repo_id, exc)
        return []
    return [t.name for t in refs.tags]


def _translate(call: Callable[[], T], what: str, settings: Settings) -> T:
    """Run ``call`` and turn Hub and network errors into the registry's error tree."""
    try:
        return call()
    except GatedRepoError as exc:
        raise UpstreamGated(
            f"{what} is gated: accept its conditions on the Hub and set HF_TOKEN to a token "
            "that has access.",
            upstream=str(exc).splitlines()[0],
        ) from exc
    except DisabledRepoError as exc:
        raise UpstreamNotFound(
            f"{what} has been disabled on the Hub; it can no longer be registered."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise UpstreamNotFound(
            f"{what} does not exist on the Hub (or is private: set HF_TOKEN); check the URL."
        ) from exc
    except RevisionNotFoundError as exc:
        raise UpstreamNotFound(
            f"{what}: the revision does not exist; check the URL's branch."
        ) from exc
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise UpstreamUnavailable(
            f"{what} could not be fetched from the Hub ({type(exc).__name__}); "
            "check HF_ENDPOINT and the network, then retry."
        ) from exc
    except EntryNotFoundError as exc:
        raise UpstreamNotFound(f"{what} does not exist in the repository.") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        advice = "check HF_TOKEN" if status in (401, 403) else "retry later"
        raise UpstreamUnavailable(
            f"The Hub answered {status} for {what}; {advice}.", status=status
        ) from exc
    except (httpx2.HTTPError, httpx.HTTPError, OSError) as exc:
        raise UpstreamUnavailable(
            f"{what} could not be fetched from the Hub ({type(exc).__name__}); "
            "check HF_ENDPOINT and the network, then retry."
        ) from exc


def _locate(
    source: SourceRef | Snapshot | HfRepo, path: str
) -> tuple[str, RepoType, str, str | None]:
    if isinstance(source, Snapshot):
        if source.hf is None:
            raise TmrError(f"download_file needs a Hugging Face snapshot, not {source.source}")
        source = source.hf
    if isinstance(source, HfRepo):
        record = next((f for f in source.files if f.path == path), None)
        return (
            source.repo_id,
            source.repo_type,
            source.sha or source.revision,
            record.sha256 if record is not None else None,
        )
    if source.repo_id is None or not source.is_huggingface:
        raise TmrError(f"download_file needs a Hugging Face reference, not {source.kind}")
    return source.repo_id, source.hf_repo_type, source.revision or "main", None


def _stream(url: str, dest: Path, expected: str | None, what: str, settings: Settings) -> str:
    headers = {"Authorization": f"Bearer {settings.hf_token}"} if settings.hf_token else {}
    try:
        client = shared_client(timeout=settings.upstream_timeout_seconds)
        with client.stream("GET", url, headers=headers) as response:
            _check_download_status(response, what)
            length = response.headers.get("Content-Length")
            sha, _ = stream_to_file(
                response.iter_bytes(_CHUNK),
                dest,
                what,
                expected_sha256=expected or _announced_sha256(response),
                expected_size=int(length) if length is not None and length.isdigit() else None,
            )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"{what} could not be downloaded from the Hub ({type(exc).__name__}); retry later."
        ) from exc
    return sha


def _check_download_status(response: httpx.Response, what: str) -> None:
    if response.status_code < 400:
        return
    code = response.headers.get("X-Error-Code", "")
    if code == "GatedRepo":
        raise UpstreamGated(f"{what} is gated: set HF_TOKEN to a token that has access.")
    if code in ("RepoNotFound", "EntryNotFound", "RevisionNotFound") or response.status_code == 404:
        raise UpstreamNotFound(f"{what} does not exist upstream ({code or response.status_code}).")
    raise UpstreamUnavailable(f"The Hub answered {response.status_code} for {what}; retry later.")


def _announced_sha256(response: httpx.Response) -> str | None:
    for hop in [*response.history, response]:
        raw: str = hop.headers.get("X-Linked-Etag", "")
        etag = raw.strip().strip('"').removeprefix("W/").strip('"')
        if _SHA256.match(etag):
            return etag
    return None


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _license(card_data: dict[str, Any], tags: list[str]) -> str | None:
    value = card_data.get("license")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _iso(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)
