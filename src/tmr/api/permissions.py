"""Who may call what: one table maps every route to what it needs, and one middleware enforces it.

Every (method, path template) of the app has exactly one entry in ``ROUTE_PERMISSIONS``:

- ``PUBLIC``: no token (heartbeat, health, tracks, log in, the API documentation);
- ``AUTHENTICATED``: any valid token, no particular permission (one's own account: log out,
  change one's password, list and revoke one's tokens);
- ``search``, ``upload``, ``download``, ``admin``: a valid token of a user holding that
  permission. Administrators hold every permission.

``AccessControlMiddleware`` is pure ASGI and runs before the router: it finds the route the
router will pick (the same routes, in the same order), authenticates the token and checks the
permission *before any request body is read*, so an unauthenticated upload is refused without
being spooled. A missing, invalid, expired or revoked token is the contract's 403; a valid token
without the permission is the contract's 401 with a message naming the permission. Actions on
one artifact (update, delete, audit) add the ownership rule in the service (owner or admin).

Download routes also accept a signed link instead of a token (``signature`` in the query, the
``download_url`` of an artifact): the middleware lets such a request through to the download
handler, which verifies the link (services/signing.py; 403 when tampered or expired) and then
requires the ``download`` permission of the user the link names.

``check_table(app)`` runs when the app is built: a route without an entry (or an entry without a
route) stops the app from starting, so no route can be added without deciding who may call it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from tmr.domain.artifact import User
from tmr.errors import TmrError, Unauthorized
from tmr.services.security import client_address

PUBLIC = "public"
AUTHENTICATED = "authenticated"
SEARCH, UPLOAD, DOWNLOAD, ADMIN = "search", "upload", "download", "admin"
PERMISSIONS = (SEARCH, UPLOAD, DOWNLOAD, ADMIN)
LEVELS = (PUBLIC, AUTHENTICATED, *PERMISSIONS)

_ART = "/artifacts/{artifact_type}/{id}"
_ONE = "/artifact/{artifact_type}/{id}"
_MODEL = "/artifact/model/{id}"
_GROUP = "/groups/{group_id}"

# (method, path template) -> what the caller needs. Keep it sorted by resource.
ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    # documentation and health
    ("GET", "/openapi.json"): PUBLIC,
    ("HEAD", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("HEAD", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("HEAD", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("HEAD", "/redoc"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/health/components"): PUBLIC,
    ("GET", "/tracks"): PUBLIC,
    ("GET", "/health/dashboard"): PUBLIC,
    ("GET", "/health/logs"): ADMIN,
    ("GET", "/health/workload"): ADMIN,
    ("POST", "/health/workload"): ADMIN,
    ("GET", "/metrics"): PUBLIC,
    # the web interface (its files under /static are a mount, public like the page)
    ("GET", "/"): PUBLIC,
    # accounts
    ("PUT", "/authenticate"): PUBLIC,
    ("GET", "/users/me"): AUTHENTICATED,
    ("GET", "/users"): ADMIN,
    ("POST", "/users"): ADMIN,
    ("DELETE", "/users/{name}"): AUTHENTICATED,  # oneself, or anyone for admins (SELF_OR_ADMIN)
    ("PUT", "/users/{name}/password"): ADMIN,
    ("POST", "/users/{name}/disable"): ADMIN,
    ("POST", "/users/{name}/enable"): ADMIN,
    ("GET", "/audit/security"): ADMIN,
    ("PUT", "/account/password"): AUTHENTICATED,
    ("GET", "/account/tokens"): AUTHENTICATED,
    ("DELETE", "/account/tokens/{token_id}"): AUTHENTICATED,
    ("POST", "/logout"): AUTHENTICATED,
    # the registry
    ("DELETE", "/reset"): ADMIN,
    ("POST", "/artifacts"): SEARCH,
    ("GET", _ART): SEARCH,
    ("PUT", _ART): UPLOAD,
    ("DELETE", _ART): UPLOAD,
    ("GET", "/artifact/byName/{name}"): SEARCH,
    ("POST", "/artifact/byRegEx"): SEARCH,
    ("POST", "/artifact/byVersion"): SEARCH,
    ("GET", f"{_ONE}/audit"): SEARCH,
    ("GET", f"{_ONE}/cost"): SEARCH,
    ("POST", "/artifact/{artifact_type}"): UPLOAD,
    ("POST", "/artifact/{artifact_type}/upload"): UPLOAD,
    ("GET", f"{_MODEL}/rate"): SEARCH,
    ("GET", f"{_MODEL}/rate/explain"): SEARCH,
    ("GET", f"{_MODEL}/lineage"): SEARCH,
    ("POST", f"{_MODEL}/license-check"): SEARCH,
    # protections: lifecycle, sensitive models and monitors, download history (issue 9)
    ("GET", "/artifacts/PackageConfusionAudit"): SEARCH,
    ("GET", f"{_ONE}/lifecycle"): SEARCH,
    ("PUT", f"{_ONE}/lifecycle"): UPLOAD,
    ("GET", f"{_ONE}/downloads"): SEARCH,
    ("PUT", f"{_MODEL}/sensitive"): UPLOAD,
    ("GET", f"{_MODEL}/monitor"): SEARCH,
    ("PUT", f"{_MODEL}/monitor"): UPLOAD,
    ("DELETE", f"{_MODEL}/monitor"): UPLOAD,
    # atomic groups (REQUIREMENTS §1.7): the creator or an admin; commands also need what the
    # single operation needs (owner or admin of an artifact updated or deleted)
    ("POST", "/groups"): UPLOAD,
    ("GET", "/groups"): UPLOAD,
    ("GET", _GROUP): UPLOAD,
    ("POST", f"{_GROUP}/commands"): UPLOAD,
    ("POST", f"{_GROUP}/commands/upload"): UPLOAD,
    ("POST", f"{_GROUP}/execute"): UPLOAD,
    # downloads
    ("GET", "/download/{id}"): DOWNLOAD,
    ("GET", "/download/{id}/parts"): DOWNLOAD,
    ("HEAD", "/download/{id}"): DOWNLOAD,
    ("GET", "/download/{id}/files/{path:path}"): DOWNLOAD,
    ("HEAD", "/download/{id}/files/{path:path}"): DOWNLOAD,
}

# Routes that also accept a signed link instead of a token (checked by the route's handler).
SIGNED_LINK_ROUTES = frozenset({"/download/{id}", "/download/{id}/files/{path:path}"})

# Routes whose service adds "owner or admin" on top of the permission (README: ownership).
# Routes on an account rather than an artifact: users act on themselves, admins on anyone
# (REQUIREMENTS §1.5: users may delete themselves). The service decides by the {name}.
SELF_OR_ADMIN: frozenset[tuple[str, str]] = frozenset({("DELETE", "/users/{name}")})

OWNER_OR_ADMIN: frozenset[tuple[str, str]] = frozenset(
    {
        ("PUT", _ART),
        ("DELETE", _ART),
        ("GET", f"{_ONE}/audit"),
        ("PUT", f"{_ONE}/lifecycle"),
        ("GET", f"{_ONE}/downloads"),
        ("PUT", f"{_MODEL}/sensitive"),
        ("PUT", f"{_MODEL}/monitor"),
        ("DELETE", f"{_MODEL}/monitor"),
        # a group's owner is the user who opened it
        ("GET", _GROUP),
        ("POST", f"{_GROUP}/commands"),
        ("POST", f"{_GROUP}/commands/upload"),
        ("POST", f"{_GROUP}/execute"),
    }
)


def may(user: User, need: str) -> bool:
    """Whether ``user`` (already authenticated) satisfies ``need``; admins satisfy everything."""
    if need in (PUBLIC, AUTHENTICATED) or user.is_admin:
        return True
    return need in user.permissions


def require(user: User, need: str) -> None:
    if not may(user, need):
        raise Unauthorized(
            f"user {user.name!r} lacks the {need!r} permission this request needs",
            permission=need,
        )


def app_routes(routes: Sequence[BaseRoute]) -> list[tuple[str, str, Any]]:
    """(method, path template, route) for every method of every route, in the router's order."""
    out = []
    for rc in iter_route_contexts(routes):
        path = rc.path
        if not isinstance(path, str):
            continue
        for method in sorted(rc.methods or ()):
            out.append((method, path, rc))
    return out


def check_table(routes: Sequence[BaseRoute]) -> None:
    """Refuse to build an app with a route the table does not decide (or a stale entry)."""
    present = {(m, p) for m, p, _ in app_routes(routes)}
    missing = sorted(present - ROUTE_PERMISSIONS.keys())
    stale = sorted(ROUTE_PERMISSIONS.keys() - present)
    bad = sorted(k for k, v in ROUTE_PERMISSIONS.items() if v not in LEVELS)
    if missing or stale or bad:
        raise RuntimeError(
            "src/tmr/api/permissions.py ROUTE_PERMISSIONS does not match the app's routes: "
            f"routes without an entry {missing}; entries without a route {stale}; "
            f"unknown levels {bad}"
        )


Authenticate = Callable[[str | None], User]
CachedAuthenticate = Callable[[str | None], User | None]
OnDenied = Callable[[User, str, str, str], None]
RenderError = Callable[[Scope, TmrError], Any]


MATCH_MEMO_ENTRIES = 50_000


@dataclass
class _Matcher:
    routes: Sequence[BaseRoute]
    _compiled: list[tuple[Any, dict[str, str]]] | None = None
    # (method, path, root path) -> answer: trying every route in turn cost 12 % of a download
    # flow's CPU (issue 10's profile). Bounded: past MATCH_MEMO_ENTRIES paths it starts over.
    _memo: dict[tuple[str, str, str], tuple[str, str] | None] | None = None

    def need(self, scope: Scope) -> tuple[str, str] | None:
        """(permission, path template) of the route the router will choose, or None (404/405)."""
        key = (scope["method"], scope["path"], scope.get("root_path", ""))
        if self._memo is None:
            self._memo = {}
        if key in self._memo:
            return self._memo[key]
        found = self._match(scope)
        if len(self._memo) >= MATCH_MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = found
        return found

    def _match(self, scope: Scope) -> tuple[str, str] | None:
        if self._compiled is None:
            by_route: dict[int, tuple[Any, dict[str, str]]] = {}
            for method, path, rc in app_routes(self.routes):
                entry = by_route.setdefault(id(rc), (rc, {}))
                entry[1][method] = ROUTE_PERMISSIONS.get((method, path), ADMIN)
            self._compiled = list(by_route.values())
        for rc, needs in self._compiled:
            match, _ = rc.matches(scope)
            if match == Match.FULL:
                return needs.get(scope["method"], ADMIN), rc.path
        return None


class AccessControlMiddleware:
    """Authenticate and authorise every request from ``ROUTE_PERMISSIONS``, before the body."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        cached: CachedAuthenticate,
        authenticate: Authenticate,
        render: RenderError,
        on_denied: OnDenied | None = None,
    ) -> None:
        self.app = app
        self.matcher = _Matcher(routes)
        self.cached = cached
        self.authenticate = authenticate
        self.render = render
        self.on_denied = on_denied

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        client_address.set(client[0] if client else None)
        found = self.matcher.need(scope)
        if found is None or found[0] == PUBLIC:
            await self.app(scope, receive, send)
            return
        need, template = found
        if template in SIGNED_LINK_ROUTES and b"signature=" in scope.get("query_string", b""):
            await self.app(scope, receive, send)  # a signed link: the handler checks it
            return
        header = _header(scope, b"x-authorization")
        try:
            user = self.cached(header)
            if user is None:
                user = await run_in_threadpool(self.authenticate, header)
            state = scope.setdefault("state", {})
            state["user"] = user.name
            state["tmr_user"] = user
            if not may(user, need):
                if self.on_denied is not None:
                    await run_in_threadpool(self.on_denied, user, need, scope["method"], template)
                require(user, need)
        except TmrError as exc:
            response = self.render(scope, exc)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def matrix_markdown(table: dict[tuple[str, str], str] | None = None) -> list[str]:
    """The README's permission matrix: one row per path and level, methods joined."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for (method, path), need in (table or ROUTE_PERMISSIONS).items():
        grouped.setdefault((path, need), []).append(method)
    rows = ["| path | methods | needs |", "|---|---|---|"]
    for (path, need), methods in sorted(grouped.items()):
        owner = any((m, path) in OWNER_OR_ADMIN for m in methods)
        self_ = any((m, path) in SELF_OR_ADMIN for m in methods)
        shown = f"`{need}` + owner or admin" if owner else f"`{need}`"
        shown = f"`{need}` + oneself or admin" if self_ else shown
        rows.append(f"| `{path}` | {', '.join(sorted(methods))} | {shown} |")
    return rows
