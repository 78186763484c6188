"""Authentication (the contract's PUT /authenticate) and user management (our design)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool

from tmr.api import schemas
from tmr.api.deps import RegistryDep, UserDep

router = APIRouter(tags=["auth"])


@router.put(
    "/authenticate",
    response_model=str,
    responses={400: {}, 401: {}, 429: {}, 501: {}},
    summary="(NON-BASELINE)",
    operation_id="CreateAuthToken",
)
async def authenticate(
    request: Request, registry: RegistryDep, body: schemas.AuthenticationRequest
) -> str:
    address = request.client.host if request.client else None
    return await run_in_threadpool(
        registry.auth.login, body.user.name, body.user.is_admin, body.secret.password, address
    )


@router.get(
    "/users/me",
    response_model=schemas.UserOut,
    responses={403: {}},
    summary="The signed-in user and their permissions (the web interface shapes itself by them)",
)
def me(user: UserDep) -> schemas.UserOut:
    return schemas.UserOut(
        name=user.name, is_admin=user.is_admin, permissions=sorted(user.permissions)
    )


@router.get("/users", response_model=list[schemas.UserOut], responses={401: {}, 403: {}})
def list_users(registry: RegistryDep, user: UserDep) -> list[schemas.UserOut]:
    return [
        schemas.UserOut(
            name=u.name, is_admin=u.is_admin, permissions=sorted(u.permissions), disabled=u.disabled
        )
        for u in registry.auth.list_users(user)
    ]


@router.post(
    "/users",
    response_model=schemas.UserOut,
    status_code=201,
    responses={400: {}, 401: {}, 403: {}, 409: {}},
)
async def create_user(
    registry: RegistryDep, user: UserDep, body: schemas.UserCreate
) -> schemas.UserOut:
    created = await run_in_threadpool(
        registry.auth.create_user,
        user,
        body.name,
        body.password,
        body.is_admin,
        frozenset(body.permissions),
    )
    return schemas.UserOut(
        name=created.name, is_admin=created.is_admin, permissions=sorted(created.permissions)
    )


@router.delete("/users/{name}", responses={400: {}, 401: {}, 403: {}, 404: {}})
def delete_user(
    registry: RegistryDep, user: UserDep, name: Annotated[str, Path(max_length=256)]
) -> dict[str, str]:
    registry.auth.delete_user(user, name)
    return {"status": "deleted", "name": name}
