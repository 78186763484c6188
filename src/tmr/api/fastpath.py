"""The hot read, ``GET /artifacts/{type}/{id}``, answered without FastAPI's router (issue 10).

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

import re
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tmr.api import schemas
from tmr.api.artifacts import metadata, security_of
from tmr.api.deps import run_read
from tmr.api.errors import error_response
from tmr.api.permissions import app_routes
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.errors import NotFound, TmrError
from tmr.services.protections import ProtectionService
from tmr.services.registry import Registry
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
