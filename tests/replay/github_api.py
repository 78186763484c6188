"""A replay of the GitHub REST API (v3) over tests/data/upstream/github.

Answers ``/repos/{owner}/{repo}`` and its ``contributors`` (anonymous ones only with ``anon=1``),
``languages``, ``license`` and ``readme`` (base64 contents), ``contents/{path}`` (see below),
``branches/{branch}``, ``git/trees/{ref}`` (``recursive=1``), ``commits`` and ``pulls`` (list
without the detail-only fields; ``/pulls/{n}``, ``/reviews``, ``/files``). Lists are paged with
``per_page`` (default 30, max 100) and ``page`` and a ``Link`` header; URLs inside the recorded
JSON are rewritten from ``https://api.github.com`` to this server. Unknown things answer GitHub's
404 shape. Tree entries carry the git blob id of the bytes this replay would serve for the file.

``contents/{path}?ref=`` answers as GitHub does: ``ref`` may be the default branch or the head
commit sha (anything else: 404 "No commit found for the ref"); with the raw media type
(``application/vnd.github.raw+json``, ``.raw``, ``.v3.raw``) a file's bytes; by default its JSON
object (``type``, ``encoding: base64``, ``size``, ``name``, ``path``, ``sha`` = git blob id of the
served bytes, ``content`` base64 with line breaks), without content (``encoding: none``) above
1 MB as GitHub does; a directory (or the root, with no path) as the JSON list of its entries, or
``{..., "type": "dir", "entries": [...]}`` with the object media type; 404 for missing paths.
Files are served at their recorded size (no scaling), so the tree's sizes are the served sizes:
the recorded bytes from ``files/`` when present, else deterministic pseudo-random bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from tests.replay.hf_data import git_blob_id
from tests.replay.server import ReplayHandler, ReplayServer

GITHUB_API = "https://api.github.com"
DOCS = "https://docs.github.com/rest"
_DETAIL_ONLY = (
    "merged",
    "mergeable",
    "merged_by",
    "comments",
    "review_comments",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)
CONTENTS_DOCS = f"{DOCS}/repos/contents#get-repository-content"
RAW_MEDIA_TYPES = frozenset(
    {
        "application/vnd.github.raw",
        "application/vnd.github.raw+json",
        "application/vnd.github.v3.raw",
        "application/vnd.github.v3.raw+json",
    }
)
OBJECT_MEDIA_TYPES = frozenset(
    {
        "application/vnd.github.object",
        "application/vnd.github.object+json",
        "application/vnd.github.v3.object",
        "application/vnd.github.v3.object+json",
    }
)
JSON_CONTENT_LIMIT = 1024 * 1024  # above 1 MB the JSON object carries no content
RAW_LIMIT = 100 * 1024 * 1024  # above 100 MB the endpoint serves nothing
CACHED_FILE_BYTES = 4 * 1024 * 1024  # bigger generated files are generated again when asked


class GitHubRecord:
    """One recorded repository. Its JSON files are read once and shared read-only; blob ids and
    the bytes of files up to :data:`CACHED_FILE_BYTES` are computed once, from the bytes served."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._blob_ids: dict[str, str] | None = None
        self._loaded: dict[str, Any] = {}
        self._bytes: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load(self, name: str) -> Any:
        """The parsed JSON file ``name`` (None when not recorded); shared, so never change it."""
        with self._lock:
            if name not in self._loaded:
                path = self.folder / name
                self._loaded[name] = json.loads(path.read_text()) if path.exists() else None
            return self._loaded[name]

    def _blobs(self) -> dict[str, dict[str, Any]]:
        """The recorded blob entries by path."""

        def build() -> dict[str, dict[str, Any]]:
            tree = self.load("tree.json") or {"tree": []}
            return {e["path"]: e for e in tree["tree"] if e.get("type") == "blob"}

        return self._index("blobs", build)

    def pull(self, number: int) -> dict[str, Any] | None:
        """The recorded pull request ``number``."""
        pulls = self._index(
            "pulls", lambda: {p["number"]: p for p in self.load("pulls.json") or []}
        )
        return pulls.get(number)

    def _index(self, name: str, build: Callable[[], dict[Any, Any]]) -> dict[Any, Any]:
        key = f"index:{name}"
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
        index = build()
        with self._lock:
            return self._loaded.setdefault(key, index)

    def file_bytes(self, path: str) -> bytes | None:
        entry = self._blobs().get(path)
        if entry is None:
            return None
        with self._lock:
            cached = self._bytes.get(path)
        if cached is not None:
            return cached
        if entry.get("content"):
            data = (self.folder / entry["content"]).read_bytes()
        else:
            seed = hashlib.sha256(f"github/{self.folder.name}/{path}".encode()).digest()
            data = random.Random(seed).randbytes(int(entry.get("size") or 0))
        if len(data) <= CACHED_FILE_BYTES:
            with self._lock:
                self._bytes[path] = data
        return data

    def entries(self) -> list[dict[str, Any]]:
        """The recorded tree entries (blobs and trees)."""
        return list((self.load("tree.json") or {"tree": []})["tree"])

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a folder of the tree ("" is the root)."""
        if not path:
            return True
        prefix = path + "/"
        return any(
            (e["path"] == path and e.get("type") == "tree") or e["path"].startswith(prefix)
            for e in self.entries()
        )

    def children(self, folder: str) -> list[tuple[str, str]]:
        """The ``(path, "file" | "dir")`` entries directly inside ``folder``, sorted by name."""
        prefix = f"{folder}/" if folder else ""
        found: dict[str, str] = {}
        for e in self.entries():
            path = e["path"]
            if not path.startswith(prefix) or path == folder:
                continue
            head, sep, _ = path[len(prefix) :].partition("/")
            if sep or e.get("type") == "tree":
                found[prefix + head] = "dir"
            elif e.get("type") == "blob":
                found.setdefault(prefix + head, "file")
        return sorted(found.items())

    def blob_ids(self) -> dict[str, str]:
        with self._lock:
            if self._blob_ids is not None:
                return self._blob_ids
        ids = {path: git_blob_id(self.file_bytes(path) or b"") for path in self._blobs()}
        with self._lock:
            if self._blob_ids is None:
                self._blob_ids = ids
            return self._blob_ids


class GitHubReplay(ReplayServer):
    def __init__(self, data_dir: Path, port: int = 0) -> None:
        super().__init__(_GitHubHandler, port=port)
        self.repos: dict[str, GitHubRecord] = {}
        for folder in sorted((data_dir / "github").glob("*/*")):
            if (folder / "repo.json").exists():
                repo = json.loads((folder / "repo.json").read_text())
                self.repos[repo["full_name"].lower()] = GitHubRecord(folder)


class _GitHubHandler(ReplayHandler):
    @property
    def gh(self) -> GitHubReplay:
        owner = self.server.owner
        assert isinstance(owner, GitHubReplay)
        return owner

    def route(self, method: str, path: str) -> None:
        segments = [unquote(s) for s in path.split("/") if s]
        if len(segments) < 3 or segments[0] != "repos":
            self._not_found()
            return
        record = self.gh.repos.get(f"{segments[1]}/{segments[2]}".lower())
        if record is None:
            self._not_found()
            return
        self._repo(record, segments[3:])

    # --- responses ---------------------------------------------------------------------
    def _rate_headers(self) -> dict[str, str]:
        limit = "5000" if self.headers.get("Authorization") else "60"
        return {
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": str(int(limit) - 1),
            "X-RateLimit-Reset": "4102444800",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
        }

    def _json(self, payload: Any, headers: dict[str, str] | None = None, status: int = 200) -> None:
        body = json.dumps(payload).replace(GITHUB_API, self.base_url).encode()
        self.send(
            status,
            body,
            {**self._rate_headers(), **(headers or {})},
            "application/json; charset=utf-8",
        )

    def _not_found(self) -> None:
        self._json({"message": "Not Found", "documentation_url": DOCS, "status": "404"}, status=404)

    def _paged(self, items: list[Any]) -> None:
        try:
            per_page = max(1, min(100, int(self.query.get("per_page") or 30)))
            page = max(1, int(self.query.get("page") or 1))
        except ValueError:
            self._json({"message": "Invalid request.", "documentation_url": DOCS}, status=422)
            return
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                query = urlencode({**self.query, "per_page": per_page, "page": number})
                links.append(f'<{self.base_url}{self.path.split("?", 1)[0]}?{query}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        self._json(items[(page - 1) * per_page : page * per_page], headers)

    # --- /repos/{owner}/{repo}/… -------------------------------------------------------
    def _repo(self, record: GitHubRecord, rest: list[str]) -> None:
        match rest:
            case []:
                self._json(record.load("repo.json"))
            case ["contributors"]:
                people = record.load("contributors.json") or []
                if self.query.get("anon", "") not in ("1", "true"):
                    people = [p for p in people if p.get("type") != "Anonymous"]
                self._paged(people)
            case ["languages"]:
                self._json(record.load("languages.json") or {})
            case ["license"]:
                self._license(record)
            case ["readme", *folder]:
                self._readme(record, "/".join(folder))
            case ["contents", *path]:
                self._contents(record, "/".join(path))
            case ["branches", branch]:
                self._branch(record, branch)
            case ["git", "trees", ref]:
                self._tree(record, ref)
            case ["commits"]:
                self._paged(record.load("commits.json") or [])
            case ["pulls"]:
                self._pull_list(record)
            case ["pulls", number]:
                pull = self._pull(record, number)
                self._json(pull) if pull is not None else self._not_found()
            case ["pulls", number, ("reviews" | "files") as kind]:
                table = record.load(f"pull_{kind}.json") or {}
                if self._pull(record, number) is None:
                    self._not_found()
                else:
                    self._paged(table.get(str(int(number)), []))
            case _:
                self._not_found()

    def _contents_payload(
        self, record: GitHubRecord, path: str, ref: str | None = None
    ) -> dict[str, Any] | None:
        data = record.file_bytes(path)
        if data is None:
            return None
        payload = self._entry(record, path, "file", ref, data)
        if len(data) > JSON_CONTENT_LIMIT:
            return {**payload, "content": "", "encoding": "none"}
        # GitHub wraps base64 at 60-76 columns, with a trailing newline
        return {**payload, "content": base64.encodebytes(data).decode(), "encoding": "base64"}

    def _entry(
        self, record: GitHubRecord, path: str, kind: str, ref: str | None, data: bytes = b""
    ) -> dict[str, Any]:
        """One contents object without content: a file (of ``data``) or a directory."""
        repo = record.load("repo.json")
        ref = ref or repo.get("default_branch") or "main"
        api = f"{GITHUB_API}/repos/{repo['full_name']}"
        if kind == "file":
            sha = git_blob_id(data)
            git = f"{api}/git/blobs/{sha}"
            html = f"{repo['html_url']}/blob/{ref}/{path}"
        else:
            sha = hashlib.sha1(f"tree:{ref}:{path}".encode()).hexdigest()  # noqa: S324
            git = f"{api}/git/trees/{sha}"
            html = f"{repo['html_url']}/tree/{ref}/{path}"
        url = f"{api}/contents/{path}?ref={ref}"
        return {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": len(data),
            "url": url,
            "html_url": html,
            "git_url": git,
            # the real answer points at raw.githubusercontent.com, which no replay serves
            "download_url": None,
            "type": kind,
            "_links": {"self": url, "git": git, "html": html},
        }

    def _license(self, record: GitHubRecord) -> None:
        info = record.load("license.json")
        payload = (
            self._contents_payload(record, info["path"]) if info and info.get("path") else None
        )
        if payload is None:
            self._not_found()
            return
        self._json({**payload, "license": info.get("license")})

    def _readme(self, record: GitHubRecord, folder: str) -> None:
        info = record.load("readme.json") or {}
        path = info.get("path")
        if folder:
            names = [p for p in record.blob_ids() if p.rsplit("/", 1)[0] == folder.strip("/")]
            path = next(
                (p for p in names if p.rsplit("/", 1)[-1].lower().startswith("readme")), None
            )
        payload = self._contents_payload(record, path) if path else None
        self._json(payload) if payload is not None else self._not_found()

    def _media(self) -> str:
        """``raw``, ``object`` or ``json``: what the ``Accept`` header asks of contents."""
        accepted = {
            part.split(";", 1)[0].strip().lower()
            for part in (self.headers.get("Accept") or "").split(",")
        }
        if accepted & RAW_MEDIA_TYPES:
            return "raw"
        if accepted & OBJECT_MEDIA_TYPES:
            return "object"
        return "json"

    def _contents(self, record: GitHubRecord, path: str) -> None:
        ref = self.query.get("ref") or None
        if ref is not None and ref not in self._refs(record):
            self._json(
                {
                    "message": f"No commit found for the ref {ref}",
                    "documentation_url": CONTENTS_DOCS,
                    "status": "404",
                },
                status=404,
            )
            return
        path = path.strip("/")
        media = self._media()
        data = record.file_bytes(path) if path else None
        if data is None:
            if not record.is_dir(path):
                self._not_found()
                return
            entries = []
            for child, kind in record.children(path):
                child_data = (record.file_bytes(child) or b"") if kind == "file" else b""
                entries.append(self._entry(record, child, kind, ref, child_data))
            if media == "object":
                self._json({**self._entry(record, path, "dir", ref), "entries": entries})
            else:
                self._json(entries)
            return
        if len(data) > RAW_LIMIT:
            self._json(
                {
                    "message": "This API returns blobs up to 100 MB in size. The requested blob "
                    "is too large to fetch via the API.",
                    "errors": [{"resource": "Blob", "field": "data", "code": "too_large"}],
                    "documentation_url": CONTENTS_DOCS,
                    "status": "403",
                },
                status=403,
            )
            return
        if media == "raw":
            headers = {
                **self._rate_headers(),
                "ETag": f'"{git_blob_id(data)}"',
                "X-GitHub-Media-Type": "github.v3; param=raw; format=json",
            }
            self.send(200, data, headers, "application/vnd.github.raw")
            return
        self._json(self._contents_payload(record, path, ref))

    def _refs(self, record: GitHubRecord) -> dict[str, str]:
        """Names a tree may be asked by: the default branch and the head commit sha."""
        tree = record.load("tree.json") or {}
        branch = str(tree.get("default_branch") or record.load("repo.json")["default_branch"])
        head = str(tree.get("head_sha") or hashlib.sha1(branch.encode()).hexdigest())  # noqa: S324
        return {branch: head, head: head}

    def _branch(self, record: GitHubRecord, branch: str) -> None:
        sha = self._refs(record).get(branch)
        if sha is None or branch == sha:
            self._json(
                {"message": "Branch not found", "documentation_url": DOCS, "status": "404"},
                status=404,
            )
            return
        repo = record.load("repo.json")
        self._json(
            {
                "name": branch,
                "protected": False,
                "commit": {"sha": sha, "url": f"{repo['url']}/commits/{sha}"},
            }
        )

    def _tree(self, record: GitHubRecord, ref: str) -> None:
        head = self._refs(record).get(ref)
        if head is None:
            self._not_found()
            return
        tree = record.load("tree.json")
        repo = record.load("repo.json")
        recursive = self.query.get("recursive", "") not in ("", "0", "false")
        blob_ids = record.blob_ids()
        entries = []
        for e in tree["tree"]:
            if not recursive and "/" in e["path"]:
                continue
            sha = blob_ids.get(e["path"]) or hashlib.sha1(e["path"].encode()).hexdigest()  # noqa: S324
            kind = "blobs" if e["type"] == "blob" else "trees"
            entry = {
                "path": e["path"],
                "mode": e["mode"],
                "type": e["type"],
                "sha": sha,
                "url": f"{repo['url']}/git/{kind}/{sha}",
            }
            if e["type"] == "blob":
                entry["size"] = e.get("size", 0)
            entries.append(entry)
        tree_sha = hashlib.sha1(f"tree:{head}".encode()).hexdigest()  # noqa: S324
        self._json(
            {
                "sha": tree_sha,
                "url": f"{repo['url']}/git/trees/{tree_sha}",
                "tree": entries,
                "truncated": False,
            }
        )

    def _pull(self, record: GitHubRecord, number: str) -> dict[str, Any] | None:
        if not number.isdigit():
            return None
        return record.pull(int(number))

    def _pull_list(self, record: GitHubRecord) -> None:
        state = self.query.get("state", "open")
        pulls = [
            p for p in record.load("pulls.json") or [] if state == "all" or p["state"] == state
        ]
        sort = self.query.get("sort", "created")
        key = {"updated": "updated_at", "created": "created_at"}.get(sort, "created_at")
        default_direction = "desc" if sort == "created" else "asc"
        reverse = self.query.get("direction", default_direction) == "desc"
        pulls.sort(key=lambda p: (p.get(key) or "", p["number"]), reverse=reverse)
        self._paged([{k: v for k, v in p.items() if k not in _DETAIL_ONLY} for p in pulls])
