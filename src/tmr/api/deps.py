"""Request dependencies: the registry, its services, the authenticated user, and the public base
URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from tmr.composition import Registry, Services
from tmr.domain.artifact import User
from tmr.errors import TmrError
from tmr.services.signing import UrlSigner

T = TypeVar("T")

AUTH_HEADER_DOC = "Access token from PUT /authenticate, with or without the 'bearer ' prefix."


async def get_registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


def services_of(request: Request) -> Services:
    """The use cases, built once at start-up from the registry's parts (tmr.composition)."""
    return request.app.state.services  # type: ignore[no-any-return]


async def get_services(request: Request) -> Services:
    return services_of(request)


async def current_user(
    request: Request,
    x_authorization: Annotated[
        str | None, Header(alias="X-Authorization", description=AUTH_HEADER_DOC)
    ] = None,
) -> User:
    """The user the access middleware authenticated (src/tmr/api/permissions.py).

    The header parameter only documents the token in the OpenAPI; the middleware has already
    checked it (and the route's permission) before the body was read.
    """
    user = request.scope.get("state", {}).get("tmr_user")
    if not isinstance(user, User):
        raise TmrError(
            f"route {request.method} {request.url.path} reads the user but is public in "
            "ROUTE_PERMISSIONS"
        )
    registry: Registry = request.app.state.registry
    registry.auth.request_limit.admit(user.name)  # off unless TMR_USER_RATE_LIMIT is set
    return user


async def public_base(request: Request) -> str:
    registry: Registry = request.app.state.registry
    configured = registry.settings.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


@dataclass(frozen=True)
class DownloadLinks:
    """Builds the signed, expiring ``download_url`` of an artifact for the requesting user."""

    base: str
    user: str
    signer: UrlSigner

    def bundle(self, artifact_id: str, part: str = "all") -> str:
        query = self.signer.query(artifact_id, part, self.user)
        return f"{self.base}/download/{artifact_id}?{query}"


async def download_links(
    request: Request, user: Annotated[User, Depends(current_user)]
) -> DownloadLinks:
    registry: Registry = request.app.state.registry
    return DownloadLinks(await public_base(request), user.name, registry.signer)


async def run_read(registry: Registry, fn: Callable[..., T], *args: Any) -> T:
    """Run a short read-only use case.

    On SQLite a read is a local page-cache lookup of well under a millisecond, cheaper than the
    hop to a worker thread (which halved the read throughput in scripts/bench_api.py), so it
    runs inline; on a networked database it runs in the thread pool, off the event loop.
    """
    if registry.db.dialect == "sqlite":
        return fn(*args)
    return await run_in_threadpool(fn, *args)


RegistryDep = Annotated[Registry, Depends(get_registry)]
ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[User, Depends(current_user)]
BaseUrlDep = Annotated[str, Depends(public_base)]
LinksDep = Annotated[DownloadLinks, Depends(download_links)]
