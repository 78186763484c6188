"""A replay of the Hugging Face Hub HTTP API, faithful enough for ``huggingface_hub`` itself.

Serves tests/data/upstream/hf (see :mod:`tests.replay.hf_data`) on the Hub's paths:
``/api/{models|datasets}/{id}[/revision/{rev}]`` (``?blobs=true`` adds blobId/size/lfs to the
siblings), ``/api/…/{id}/tree/{rev}[/{path}]`` (paged with ``Link`` headers, 1000 entries a
page or 50 with ``expand``), ``/api/…/{id}/refs``, and ``HEAD``/``GET`` of
``[/datasets]/{id}/resolve/{rev}/{path}`` with ``ETag``, ``X-Repo-Commit`` and
``Content-Length``. LFS files answer ``302`` to a "CDN" path of this same server under another
host name (``localhost``), so the client treats it as a foreign CDN, with ``X-Linked-Etag`` and
``X-Linked-Size``. Legacy ids (manifest aliases, and ``NAME`` for a dataset ``NAME/NAME``)
answer the API with the canonical id and redirect ``resolve`` with a relative ``307``. Errors
carry ``X-Error-Code`` as the Hub's do: ``RepoNotFound`` (401 anonymous, 404 with a token),
``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from tests.replay.hf_data import HfRecord, ServedFile, load_hf_records
from tests.replay.server import ReplayHandler, ReplayServer

_VIEWS = frozenset({"resolve", "tree", "revision", "refs", "paths-info"})


class HfHubReplay(ReplayServer):
    """The Hub replay; ``gated`` names repositories to serve as gated (README stays public)."""

    def __init__(self, data_dir: Path, port: int = 0, gated: Iterable[str] = ()) -> None:
        super().__init__(_HubHandler, port=port)
        self.records: dict[tuple[str, str], HfRecord] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        for record in load_hf_records(data_dir):
            self.records[(record.repo_type, record.repo_id)] = record
            for alias in record.aliases:
                self.aliases[(record.repo_type, alias)] = record.repo_id
            owner, _, name = record.repo_id.partition("/")
            if record.repo_type == "dataset" and owner == name:
                # The Hub moved canonical datasets (``squad``…) under organisations and kept the
                # old ids working: ``bookcorpus`` answers for ``bookcorpus/bookcorpus``.
                self.aliases.setdefault(("dataset", name), record.repo_id)
        self.gated = set(gated)
        self._cdn: dict[str, ServedFile] = {}
        self._cdn_lock = threading.Lock()

    @property
    def cdn_base(self) -> str:
        # Another host name for the same socket: a different origin to the client, like a CDN.
        return f"http://localhost:{self.port}"

    def lookup(self, repo_type: str, repo_id: str) -> tuple[HfRecord | None, bool]:
        """The record for an id, and whether the id was a legacy alias."""
        record = self.records.get((repo_type, repo_id))
        if record is not None:
            return record, False
        canonical = self.aliases.get((repo_type, repo_id))
        return (self.records.get((repo_type, canonical)) if canonical else None), True

    def publish(self, served: ServedFile) -> str:
        with self._cdn_lock:
            self._cdn[served.sha256] = served
        return f"{self.cdn_base}/cdn/{served.sha256}"

    def cdn_file(self, sha256: str) -> ServedFile | None:
        with self._cdn_lock:
            return self._cdn.get(sha256)


class _HubHandler(ReplayHandler):
    @property
    def hub(self) -> HfHubReplay:
        owner = self.server.owner
        assert isinstance(owner, HfHubReplay)
        return owner

    def route(self, method: str, path: str) -> None:
        segments = [unquote(s) for s in path.split("/") if s]
        if segments[:1] == ["api"] and len(segments) >= 3 and segments[1] in ("models", "datasets"):
            self._api(segments[1][:-1], segments[2:])
        elif segments[:1] == ["cdn"] and len(segments) == 2:
            self._cdn(segments[1])
        elif segments[:1] == ["datasets"]:
            self._resolve("dataset", segments[1:])
        elif segments and segments[0] != "api":
            self._resolve("model", segments)
        else:
            self.send_json(404, {"error": "Sorry, we can't find the page you are looking for."})

    # --- errors, as the Hub shapes them ---------------------------------------------------
    def _error(
        self, status: int, code: str, message: str, extra: dict[str, str] | None = None
    ) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message, **(extra or {})}
        self.send_json(status, {"error": message}, headers)

    def _repo_not_found(self) -> None:
        status = 404 if self.headers.get("Authorization") else 401
        self._error(status, "RepoNotFound", "Repository not found")

    def _split_id(self, segments: list[str]) -> tuple[str, list[str]]:
        if len(segments) >= 2 and segments[1] not in _VIEWS:
            return f"{segments[0]}/{segments[1]}", segments[2:]
        return segments[0], segments[1:]

    def _revision_ok(self, record: HfRecord, revision: str) -> bool:
        return revision in ("main", "refs/heads/main", record.sha)

    # --- /api ------------------------------------------------------------------------------
    def _api(self, repo_type: str, segments: list[str]) -> None:
        repo_id, rest = self._split_id(segments)
        record, _ = self.hub.lookup(repo_type, repo_id)
        if record is None:
            self._repo_not_found()
            return
        if not rest:
            self._info(record, "main")
        elif rest[0] == "revision" and len(rest) >= 2:
            self._info(record, "/".join(rest[1:]))
        elif rest[0] == "tree" and len(rest) >= 2:
            self._tree(record, rest[1], "/".join(rest[2:]))
        elif rest == ["refs"]:
            self._refs(record)
        else:
            self.send_json(404, {"error": "Sorry, we can't find the page you are looking for."})

    def _info(self, record: HfRecord, revision: str) -> None:
        if not self._revision_ok(record, revision):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        body = record.api
        body["id"] = record.repo_id
        if record.repo_type == "model":
            body["modelId"] = record.repo_id
        body["sha"] = record.sha
        if record.repo_id in self.hub.gated:
            body["gated"] = "manual"
        blobs = self.query.get("blobs", "").lower() in ("1", "true")
        body["siblings"] = [self._sibling(f, blobs) for f in record.files().values()]
        self.send_json(200, body)

    @staticmethod
    def _sibling(served: ServedFile, blobs: bool) -> dict[str, Any]:
        sibling: dict[str, Any] = {"rfilename": served.path}
        if blobs:
            sibling.update(blobId=served.blob_id, size=served.size)
            if served.lfs:
                sibling["lfs"] = {
                    "sha256": served.sha256,
                    "size": served.size,
                    "pointerSize": len(served.pointer),
                }
        return sibling

    def _tree(self, record: HfRecord, revision: str, folder: str) -> None:
        if not self._revision_ok(record, revision):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        expand = self.query.get("expand", "").lower() in ("1", "true")
        entries = _tree_entries(record, folder.strip("/"), recursive, expand)
        if entries is None:
            self._error(
                404,
                "EntryNotFound",
                f'{folder} does not exist on "{revision}"',
                {"X-Repo-Commit": record.sha},
            )
            return
        limit = min(int(self.query.get("limit") or 1000), 50 if expand else 1000)
        start = (
            int(base64.urlsafe_b64decode(self.query["cursor"]).decode())
            if self.query.get("cursor")
            else 0
        )
        page = entries[start : start + limit]
        headers: dict[str, str] = {}
        if start + limit < len(entries):
            cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            query = {k: v for k, v in self.query.items() if k != "cursor"} | {"cursor": cursor}
            next_url = f"{self.base_url}{self.path.split('?', 1)[0]}?{urlencode(query)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self.send_json(200, page, headers)

    def _refs(self, record: HfRecord) -> None:
        api = record.api
        tags = [t for t in api.get("gitTags", []) if isinstance(t, str)]
        self.send_json(
            200,
            {
                "branches": [
                    {"name": "main", "ref": "refs/heads/main", "targetCommit": record.sha}
                ],
                "converts": [],
                "tags": [
                    {"name": t, "ref": f"refs/tags/{t}", "targetCommit": record.sha} for t in tags
                ],
            },
        )

    # --- resolve and the CDN ---------------------------------------------------------------
    def _resolve(self, repo_type: str, segments: list[str]) -> None:
        if len(segments) < 4:
            self.send_json(404, {"error": "Sorry, we can't find the page you are looking for."})
            return
        repo_id, rest = self._split_id(segments)
        if len(rest) < 3 or rest[0] != "resolve":
            self.send_json(404, {"error": "Sorry, we can't find the page you are looking for."})
            return
        revision, filename = rest[1], "/".join(rest[2:])
        record, via_alias = self.hub.lookup(repo_type, repo_id)
        if record is None:
            self._repo_not_found()
            return
        if via_alias:
            prefix = "/datasets" if repo_type == "dataset" else ""
            location = (
                f"{prefix}/{record.repo_id}/resolve/{quote(revision, safe='')}/{quote(filename)}"
            )
            body = f"Temporary Redirect. Redirecting to {location}".encode()
            self.send(307, body, {"Location": location}, "text/plain; charset=utf-8")
            return
        if not self._revision_ok(record, revision):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        served = record.files().get(filename)
        commit = {"X-Repo-Commit": record.sha}
        if served is None:
            self._error(404, "EntryNotFound", "Entry not found", commit)
            return
        if record.repo_id in self.hub.gated and filename not in ("README.md", ".gitattributes"):
            status = 403 if self.headers.get("Authorization") else 401
            self._error(
                status,
                "GatedRepo",
                f"Access to {record.repo_type} {record.repo_id} is "
                "restricted. You must have access to it and be authenticated to access it.",
                commit,
            )
            return
        if served.lfs:
            location = self.hub.publish(served)
            self.send(
                302,
                b"Found. Redirecting",
                {
                    **commit,
                    "Location": location,
                    "ETag": f'"{served.sha256}"',
                    "X-Linked-Etag": f'"{served.sha256}"',
                    "X-Linked-Size": str(served.size),
                },
                "text/plain; charset=utf-8",
            )
            return
        self.send_bytes(served.data, {**commit, "ETag": f'"{served.blob_id}"'})

    def _cdn(self, sha256: str) -> None:
        served = self.hub.cdn_file(sha256)
        if served is None:
            self.send(403, b"<Error><Code>AccessDenied</Code></Error>", None, "application/xml")
            return
        name = served.path.rsplit("/", 1)[-1]
        self.send_bytes(
            served.data,
            {
                "ETag": f'"{served.sha256}"',
                "Content-Disposition": f'inline; filename="{name}";',
            },
        )


def _tree_entries(
    record: HfRecord, folder: str, recursive: bool, expand: bool
) -> list[dict[str, Any]] | None:
    files = record.files()
    prefix = f"{folder}/" if folder else ""
    if folder and folder not in files and not any(p.startswith(prefix) for p in files):
        return None
    if folder in files:
        chosen = [files[folder]]
        dirs: set[str] = set()
    else:
        chosen, dirs = [], set()
        for path, served in files.items():
            if not path.startswith(prefix):
                continue
            tail = path[len(prefix) :]
            parts = tail.split("/")
            for depth in range(1, len(parts)):
                if recursive or depth == 1:
                    dirs.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                chosen.append(served)
    out: list[dict[str, Any]] = [
        {"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}  # noqa: S324
        for d in dirs
    ]
    for served in chosen:
        entry: dict[str, Any] = {
            "type": "file",
            "oid": served.blob_id,
            "size": served.size,
            "path": served.path,
        }
        if served.lfs:
            entry["lfs"] = {
                "oid": served.sha256,
                "size": served.size,
                "pointerSize": len(served.pointer),
            }
        if expand:
            entry["lastCommit"] = {
                "id": record.sha,
                "title": "Upload",
                "date": record.api.get("lastModified"),
            }
        out.append(entry)
    return sorted(out, key=lambda e: e["path"])
