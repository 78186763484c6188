"""Accounts (our design): one's own password and tokens, logout; admins disable, enable and
reset users; the security log for admins. Who may call each route: api/permissions.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.concurrency import run_in_threadpool

from tmr.api import schemas
from tmr.api.deps import AUTH_HEADER_DOC, RegistryDep, UserDep
from tmr.domain.artifact import User
from tmr.domain.security import SecurityAction

router = APIRouter(tags=["accounts"])

NamePath = Annotated[str, Path(max_length=256, description="user name")]
TokenHeader = Annotated[str | None, Header(alias="X-Authorization", description=AUTH_HEADER_DOC)]


def user_out(u: User) -> schemas.UserOut:
    return schemas.UserOut(
        name=u.name, is_admin=u.is_admin, permissions=sorted(u.permissions), disabled=u.disabled
    )


@router.put(
    "/account/password",
    response_model=schemas.StatusOut,
    responses={400: {}, 401: {"description": "The current password is wrong."}, 403: {}},
)
async def change_password(
    registry: RegistryDep,
    user: UserDep,
    body: schemas.PasswordChange,
    x_authorization: TokenHeader = None,
) -> schemas.StatusOut:
    """Change one's own password; the caller's other tokens are revoked."""
    revoked = await run_in_threadpool(
        registry.accounts.change_own_password,
        user,
        x_authorization,
        body.current_password,
        body.new_password,
    )
    return schemas.StatusOut(status="password changed", detail=f"{revoked} other tokens revoked")


@router.get("/account/tokens", response_model=list[schemas.TokenOut], responses={403: {}})
def my_tokens(
    registry: RegistryDep, user: UserDep, x_authorization: TokenHeader = None
) -> list[schemas.TokenOut]:
    """One's own tokens: id, issue and expiry times, calls left, and which one this request
    carries (``current``). Never the secret."""
    current = registry.accounts.digest_of(x_authorization)
    return [
        schemas.TokenOut(
            id=t.id,
            issued_at=t.issued_at.isoformat(),
            expires_at=t.expires_at.isoformat(),
            calls_left=t.calls_left,
            current=current is not None and t.token_hash == current,
        )
        for t in registry.accounts.tokens(user)
    ]


@router.delete(
    "/account/tokens/{token_id}",
    response_model=schemas.StatusOut,
    responses={403: {}, 404: {}},
)
def revoke_token(
    registry: RegistryDep,
    user: UserDep,
    token_id: Annotated[str, Path(max_length=32, pattern=r"^[0-9a-f]+$")],
) -> schemas.StatusOut:
    """Revoke one of one's own tokens."""
    registry.accounts.revoke_token(user, token_id)
    return schemas.StatusOut(status="revoked", detail=token_id)


@router.post("/logout", response_model=schemas.StatusOut, responses={403: {}})
def logout(
    registry: RegistryDep, user: UserDep, x_authorization: TokenHeader = None
) -> schemas.StatusOut:
    """Revoke the token this request carries."""
    registry.accounts.logout(user, x_authorization)
    return schemas.StatusOut(status="logged out")


@router.put(
    "/users/{name}/password",
    response_model=schemas.StatusOut,
    responses={400: {}, 401: {}, 403: {}, 404: {}},
)
async def reset_password(
    registry: RegistryDep, user: UserDep, name: NamePath, body: schemas.PasswordReset
) -> schemas.StatusOut:
    """Administrators set a user's password; the user's tokens are revoked."""
    await run_in_threadpool(registry.accounts.reset_password, user, name, body.new_password)
    return schemas.StatusOut(status="password reset", detail=name)


@router.post(
    "/users/{name}/disable",
    response_model=schemas.UserOut,
    responses={400: {}, 401: {}, 403: {}, 404: {}},
)
def disable_user(registry: RegistryDep, user: UserDep, name: NamePath) -> schemas.UserOut:
    """Administrators disable a user: logins refused, every token revoked."""
    return user_out(registry.accounts.set_disabled(user, name, True))


@router.post(
    "/users/{name}/enable",
    response_model=schemas.UserOut,
    responses={401: {}, 403: {}, 404: {}},
)
def enable_user(registry: RegistryDep, user: UserDep, name: NamePath) -> schemas.UserOut:
    """Administrators re-enable a user (who logs in again for a new token)."""
    return user_out(registry.accounts.set_disabled(user, name, False))


@router.get(
    "/audit/security",
    response_model=list[schemas.SecurityEventOut],
    responses={400: {}, 401: {}, 403: {}},
)
def security_log(
    registry: RegistryDep,
    user: UserDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: SecurityAction | None = None,
) -> list[schemas.SecurityEventOut]:
    """The security log (logins, account changes, denials, deletes, resets, ingest-gate
    refusals), oldest first; page with ``after`` = the last ``seq`` seen."""
    return [
        schemas.SecurityEventOut(
            seq=e.seq or 0,
            at=e.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            action=e.action.value,
            actor=e.actor,
            subject=e.subject,
            detail=e.detail,
            client=e.client,
        )
        for e in registry.security.page(after, limit, action)
    ]
