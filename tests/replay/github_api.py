"""A replay of the GitHub REST API (v3) over tests/data/upstream/github.

Answers ``/repos/{owner}/{repo}`` and its ``contributors`` (anonymous ones only with ``anon=1``),
``languages``, ``license`` and ``readme`` (base64 contents), ``contents/{path}``,
``branches/{branch}``, ``git/trees/{ref}`` (``recursive=1``), ``commits`` and ``pulls`` (list
without the detail-only fields; ``/pulls/{n}``, ``/reviews``, ``/files``). Lists are paged with
``per_page`` (default 30, max 100) and ``page`` and a ``Link`` header; URLs inside the recorded
JSON are rewritten from ``https://api.github.com`` to this server. Unknown things answer GitHub's
404 shape. Tree entries carry the git blob id of the bytes this replay would serve for the file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
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


class GitHubRecord:
    """One recorded repository, with blob ids computed lazily from the bytes we would serve."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._blob_ids: dict[str, str] | None = None
        self._lock = threading.Lock()

    def load(self, name: str) -> Any:
        path = self.folder / name
        return json.loads(path.read_text()) if path.exists() else None

    def file_bytes(self, path: str) -> bytes | None:
        tree = self.load("tree.json") or {"tree": []}
        for entry in tree["tree"]:
            if entry["path"] == path and entry.get("type") == "blob":
                if entry.get("content"):
                    return (self.folder / entry["content"]).read_bytes()
                seed = hashlib.sha256(f"github/{self.folder.name}/{path}".encode()).digest()
                return random.Random(seed).randbytes(int(entry.get("size") or 0))
        return None

    def blob_ids(self) -> dict[str, str]:
        with self._lock:
            if self._blob_ids is None:
                tree = self.load("tree.json") or {"tree": []}
                self._blob_ids = {
                    e["path"]: git_blob_id(self.file_bytes(e["path"]) or b"")
                    for e in tree["tree"]
                    if e.get("type") == "blob"
                }
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

    def _contents_payload(self, record: GitHubRecord, path: str) -> dict[str, Any] | None:
        data = record.file_bytes(path)
        if data is None:
            return None
        repo = record.load("repo.json")
        api = f"{GITHUB_API}/repos/{repo['full_name']}"
        encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 at 60-76 columns
        sha = git_blob_id(data)
        html = f"{repo['html_url']}/blob/{repo.get('default_branch', 'main')}/{path}"
        return {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": len(data),
            "url": f"{api}/contents/{path}",
            "html_url": html,
            "git_url": f"{api}/git/blobs/{sha}",
            "download_url": None,
            "type": "file",
            "content": encoded,
            "encoding": "base64",
            "_links": {
                "self": f"{api}/contents/{path}",
                "git": f"{api}/git/blobs/{sha}",
                "html": html,
            },
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

    def _contents(self, record: GitHubRecord, path: str) -> None:
        payload = self._contents_payload(record, path)
        self._json(payload) if payload is not None else self._not_found()

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
        return next(
            (p for p in record.load("pulls.json") or [] if p["number"] == int(number)), None
        )

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
