"""The hot paths of the download flow answered without FastAPI's router (issue 10): the read
``GET /artifacts/{type}/{id}`` (``FastArtifactReads``) and the signed download that follows it
(``FastSignedDownloads``, at the end of this module).

The profile of the read benchmark (README, Benchmarks) put about half of each request's CPU in
the five database reads of a record (artifact row, lifecycle status, scans, flagged ancestors)
and most of the rest in routing, dependency injection and response validation. This pure ASGI
middleware sits *inside* the access middleware, so the token has been authenticated (spending
its budget) and the ``search`` permission checked exactly as for every other route; it then:

- keeps each record's JSON, rendered once by the same schema the route uses, per registry
  version (storage/db/versions.py): any change to artifacts, files, lineage, scans, lifecycle,
  sensitivity or users in any replica invalidates every entry (this process's own writes at
  once, other replicas' within ``TMR_READ_CACHE_SECONDS``);
- adds what differs per request: the reader's signed ``download_url`` (computed per request;
  the signer memoises it per user and expiry window);
- records the view for the package-confusion audit and applies the per-user rate limit, as the
  route does;
- sets ``scope["route"]`` and the path parameters, so the request log, activity figures and
  metrics see the same route as before.

Anything else (another method or path, a malformed id, an unknown artifact, an error) goes on to
the router unchanged, which answers it as before; ``TMR_READ_CACHE_SECONDS`` does not turn the
path off, ``fast_reads=False`` in ``create_app`` does (tests compare both byte for byte).
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tmr.api import schemas
from tmr.api.artifacts import metadata, security_of
from tmr.api.deps import run_read
from tmr.api.errors import error_response
from tmr.api.heap import SETTLE_EVERY, freeze_settled
from tmr.api.permissions import DOWNLOAD, app_routes, may
from tmr.composition import Registry
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.errors import NotFound, TmrError
from tmr.services.downloads import DownloadService, ReadyBundle
from tmr.services.protections import ProtectionService
from tmr.storage.db.versions import Tag

TEMPLATE = "/artifacts/{artifact_type}/{id}"
PLACEHOLDER = "\x00download-url\x00"
_PLACEHOLDER_JSON = to_json(PLACEHOLDER)
_ID = re.compile(schemas.ID_PATTERN)
_TYPES = {t.value: t for t in ArtifactType}
MAX_ENTRIES = 100_000  # about 1 KB each; past it the cache starts over
_JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Rendered:
    """A record's JSON split around its ``download_url`` string, for one registry version."""

    tag: Tag
    artifact: Artifact
    head: bytes
    tail: bytes


def render(artifact: Artifact, security: dict[str, object] | None) -> tuple[bytes, bytes]:
    """The record's JSON, exactly as the route's response model serialises it, cut around the
    download_url."""
    record = schemas.Artifact(
        metadata=metadata(artifact),
        data=schemas.ArtifactData(url=artifact.url, download_url=PLACEHOLDER),
    )
    if security:
        record.data.security = security  # type: ignore[attr-defined]
    body = record.model_dump_json().encode()
    head, found, tail = body.partition(_PLACEHOLDER_JSON)
    if not found:  # pragma: no cover - the placeholder is always serialised as is
        raise RuntimeError("the record's download_url did not serialise as expected")
    return head, tail


class RecordCache:
    def __init__(self, registry: Registry, protections: ProtectionService) -> None:
        self.registry = registry
        self.protections = protections
        self._entries: dict[tuple[str, str], Rendered] = {}
        self._since_settled = 0

    def fresh(self, type_: str, artifact_id: str, tag: Tag) -> Rendered | None:
        entry = self._entries.get((type_, artifact_id))
        return entry if entry is not None and entry.tag == tag else None

    def load(self, type_: ArtifactType, artifact_id: str, tag: Tag) -> Rendered:
        """Read and render one record (NotFound when there is none of that type)."""
        artifact, status, scans, warnings = self.protections.record(type_, artifact_id)
        head, tail = render(artifact, security_of(status, scans, warnings))
        entry = Rendered(tag, artifact, head, tail)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[(type_.value, artifact_id)] = entry
        self._since_settled += 1
        if self._since_settled >= SETTLE_EVERY:  # api/heap.py: keep full collections short
            self._since_settled = 0
            freeze_settled()
        return entry


class FastArtifactReads:
    def __init__(
        self,
        app: ASGIApp,
        registry: Registry,
        protections: ProtectionService,
        routes: list[BaseRoute],
    ) -> None:
        self.app = app
        self.registry = registry
        self.cache = RecordCache(registry, protections)
        self.protections = protections
        self.route = next(r for m, p, r in app_routes(routes) if m == "GET" and p == TEMPLATE)
        self._bases: dict[tuple[Any, ...], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/")
        user = scope.get("state", {}).get("tmr_user")
        if (
            len(parts) != 4
            or parts[1] != "artifacts"
            or parts[2] not in _TYPES
            or len(parts[3]) > 64
            or not _ID.match(parts[3])
            or not isinstance(user, User)
        ):
            await self.app(scope, receive, send)
            return
        type_name, artifact_id = parts[2], parts[3]
        try:
            self.registry.auth.request_limit.admit(user.name)
            entry = await self._entry(_TYPES[type_name], artifact_id)
        except NotFound:
            await self.app(scope, receive, send)  # the router answers it, as before
            return
        except TmrError as exc:
            await error_response(scope, exc)(scope, receive, send)
            return
        self.protections.record_interest(user, [entry.artifact], "view")
        query = self.registry.signer.query(artifact_id, "all", user.name)
        url = f"{self._base(scope)}/download/{artifact_id}?{query}"
        body = b"".join((entry.head, to_json(url), entry.tail))
        scope["route"] = self.route
        scope["path_params"] = {"artifact_type": type_name, "id": artifact_id}
        headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _entry(self, type_: ArtifactType, artifact_id: str) -> Rendered:
        version = self.registry.db.version
        tag = version.tag()
        if tag is None:
            tag = await run_read(self.registry, version.poll)
        entry = self.cache.fresh(type_.value, artifact_id, tag)
        if entry is None:
            entry = await run_read(self.registry, self.cache.load, type_, artifact_id, tag)
        return entry

    def _base(self, scope: Scope) -> str:
        """The public base URL, as the route's ``public_base`` dependency computes it."""
        configured = self.registry.settings.public_base_url
        if configured:
            return configured.rstrip("/")
        host = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"")
        server = scope.get("server")
        key = (scope.get("scheme"), host, tuple(server) if server else None, scope.get("root_path"))
        base = self._bases.get(key)
        if base is None:
            if len(self._bases) > 1000:
                self._bases.clear()
            base = self._bases[key] = str(Request(scope).base_url).rstrip("/")
        return base


# --- signed bundle downloads ------------------------------------------------------------------
DOWNLOAD_TEMPLATE = "/download/{id}"


class FastSignedDownloads:
    """``GET /download/{id}?part=…&user=…&expires=…&signature=…`` (an artifact's
    ``download_url``) without the router, when nothing but a record stands between the request
    and the stored zip.

    The link's signature and expiry are checked (services/signing.py), the user it names must
    exist and hold ``download`` (looked up once per registry version), and the bundle must be
    ready (``DownloadService.ready_bundle``: materialised, nothing quarantined, not a sensitive
    model; kept per registry version). Then the download is recorded, history and DOWNLOAD audit
    entry under the link's user, by group commit (``DownloadRecorder``), and *only once that
    commit is done* is the zip sent, as a file (``FileResponse``: zero-copy ``sendfile`` under
    uvicorn and granian, ``Range`` as usual). Anything else (HEAD, a token instead of a link,
    a bad or expired link, a missing user, a bundle not built yet, a monitored or quarantined
    model, S3 storage, which redirects) goes on to the router's route unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        registry: Registry,
        downloads: DownloadService,
        routes: list[BaseRoute],
    ) -> None:
        self.app = app
        self.registry = registry
        self.downloads = downloads
        self.route = next(
            r for m, p, r in app_routes(routes) if m == "GET" and p == DOWNLOAD_TEMPLATE
        )
        self._users: dict[str, tuple[Tag, User | None]] = {}
        self._ready: dict[tuple[str, str], tuple[Tag, ReadyBundle | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/download/")
            or b"signature=" not in scope.get("query_string", b"")
        ):
            await self.app(scope, receive, send)
            return
        served = await self._try(scope, receive, send)
        if not served:
            await self.app(scope, receive, send)

    async def _try(self, scope: Scope, receive: Receive, send: Send) -> bool:
        parts = scope["path"].split("/")
        if len(parts) != 3 or len(parts[2]) > 64 or not _ID.match(parts[2]):
            return False
        artifact_id = parts[2]
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        part = query.get("part", "all")
        try:
            grant = self.registry.signer.verify(
                artifact_id, part, query.get("user"), query.get("expires"),
                query.get("signature", ""),
            )  # fmt: skip
        except TmrError:
            return False  # the route answers it (403 saying why)
        version = self.registry.db.version
        tag = version.tag()
        if tag is None:
            tag = await run_read(self.registry, version.poll)
        user = await self._user(grant.user, tag)
        if user is None or not may(user, DOWNLOAD):
            return False
        ready = await self._ready_bundle(artifact_id, part, tag)
        if ready is None:
            return False
        local = self.registry.blobs.local_path(ready.key)
        if local is None:
            return False  # S3: the route redirects to a presigned URL
        try:
            stat = os.stat(local)
        except OSError:  # the zip vanished (another replica rebuilt it): the route rebuilds
            self.downloads.forget(ready.key)
            self._ready.pop((artifact_id, part), None)
            return False
        service = self.downloads
        try:
            await asyncio.wrap_future(service.record(ready, user))
        except TmrError as exc:
            await error_response(scope, exc)(scope, receive, send)
            return True
        state = scope.setdefault("state", {})
        state["user"] = user.name
        state["tmr_user"] = user
        scope["route"] = self.route
        scope["path_params"] = {"id": artifact_id}
        response = FileResponse(local, filename=ready.filename, media_type="application/zip",
                                stat_result=stat)  # fmt: skip
        await response(scope, receive, send)
        return True

    async def _user(self, name: str, tag: Tag) -> User | None:
        cached = self._users.get(name)
        if cached is not None and cached[0] == tag:
            return cached[1]
        try:
            found: User | None = await run_read(
                self.registry, self.downloads.signed_user, name
            )
        except TmrError:
            found = None
        if len(self._users) >= MAX_ENTRIES:
            self._users.clear()
        self._users[name] = (tag, found)
        return found

    async def _ready_bundle(self, artifact_id: str, part: str, tag: Tag) -> ReadyBundle | None:
        cached = self._ready.get((artifact_id, part))
        if cached is not None and cached[0] == tag and cached[1] is not None:
            return cached[1]
        try:
            ready = await run_read(
                self.registry, self.downloads.ready_bundle, artifact_id, part
            )
        except TmrError:
            return None
        if ready is not None:  # not ready yet: asked again next time (the route builds it)
            if len(self._ready) >= MAX_ENTRIES:
                self._ready.clear()
            self._ready[(artifact_id, part)] = (tag, ready)
        return ready
