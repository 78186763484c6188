"""Request dependencies: the registry, the authenticated user, and the public base URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from tmr.domain.artifact import User
from tmr.services.registry import Registry

AUTH_HEADER_DOC = "Access token from PUT /authenticate, with or without the 'bearer ' prefix."


async def get_registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


async def current_user(
    request: Request,
    x_authorization: Annotated[
        str | None, Header(alias="X-Authorization", description=AUTH_HEADER_DOC)
    ] = None,
) -> User:
    registry: Registry = request.app.state.registry
    # Most calls spend a call leased in memory; only a new lease needs the database (a thread).
    user = registry.auth.cached_user(x_authorization)
    if user is None:
        user = await run_in_threadpool(registry.auth.user_for_token, x_authorization)
    request.state.user = user.name
    return user


async def public_base(request: Request) -> str:
    registry: Registry = request.app.state.registry
    configured = registry.settings.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


RegistryDep = Annotated[Registry, Depends(get_registry)]
UserDep = Annotated[User, Depends(current_user)]
BaseUrlDep = Annotated[str, Depends(public_base)]
