"""Accounts on both backends: one's own password and tokens, and administrators disabling,
enabling and resetting users. Every change revokes the right tokens at once (this process's
leases too) and leaves a security event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from tmr.composition import Registry, build_registry
from tmr.config import load_settings
from tmr.domain.artifact import User
from tmr.domain.security import SecurityAction, SecurityEvent
from tmr.errors import BadRequest, Forbidden, NotFound, Unauthorized
from tmr.services import auth as auth_module
from tmr.services.accounts import AccountService
from tmr.services.auth import DEFAULT_ADMIN, token_digest

PASSWORD = "first-password-1"
INVALID_TOKEN = "the token is invalid or expired"


@pytest.fixture(scope="module")
def registry(module_backend) -> Iterator[Registry]:  # type: ignore[no-untyped-def]
    """One registry per backend for the module (each test has users of its own); Argon2 with
    small parameters, so the many logins here cost milliseconds (the hashes stay argon2id)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))
        r = build_registry(load_settings(**module_backend, log_level=0))
        yield r
        r.db.dispose()


@pytest.fixture
def admin(registry: Registry) -> User:
    login = registry.auth.login(DEFAULT_ADMIN, True, auth_module.DEFAULT_ADMIN_PASSWORDS[0])
    return registry.auth.user_for_token(login)


def _add(registry: Registry, admin: User, name: str) -> User:
    return registry.auth.create_user(admin, name, PASSWORD, False, frozenset({"search"}))


def _events(registry: Registry, action: SecurityAction, subject: str) -> list[SecurityEvent]:
    return [e for e in registry.security.page(0, 10_000, action) if e.subject == subject]


def test_changing_one_s_password_keeps_the_current_token_and_revokes_the_others(
    registry: Registry, admin: User
) -> None:
    ann = _add(registry, admin, "ann1")
    auth, accounts = registry.auth, registry.accounts
    current, other = auth.login("ann1", False, PASSWORD), auth.login("ann1", False, PASSWORD)
    assert auth.user_for_token(other).name == "ann1"  # leased by this process

    with pytest.raises(Unauthorized, match="the current password is wrong"):
        accounts.change_own_password(ann, current, "not-the-password", "second-password-2")
    with pytest.raises(BadRequest, match="a password must have at least 8 characters"):
        accounts.change_own_password(ann, current, PASSWORD, "short")
    with pytest.raises(BadRequest, match="a password may have at most 1024 characters"):
        accounts.change_own_password(ann, current, PASSWORD, "p" * 1025)

    assert accounts.change_own_password(ann, current, PASSWORD, "second-password-2") == 1
    assert auth.user_for_token(current).name == "ann1"
    with pytest.raises(Forbidden, match=INVALID_TOKEN):  # the lease is gone too
        auth.user_for_token(other)
    with pytest.raises(Unauthorized, match="the user or password is invalid"):
        auth.login("ann1", False, PASSWORD)
    assert auth.login("ann1", False, "second-password-2").startswith("bearer ")
    (event,) = _events(registry, SecurityAction.PASSWORD_CHANGE, "ann1")
    assert (event.actor, event.subject, event.detail) == ("ann1", "ann1", "1 other tokens revoked")


def test_a_user_lists_and_revokes_only_their_own_tokens(registry: Registry, admin: User) -> None:
    ann, bob = _add(registry, admin, "ann2"), _add(registry, admin, "bob2")
    auth, accounts = registry.auth, registry.accounts
    ann_token = auth.login("ann2", False, PASSWORD)
    auth.user_for_token(ann_token)
    bob_token = auth.login("bob2", False, PASSWORD)

    (listed,) = accounts.tokens(ann)
    assert listed.user_name == "ann2" and listed.token_hash == token_digest(ann_token[7:])
    (bob_listed,) = accounts.tokens(bob)
    with pytest.raises(NotFound, match=f"you have no token with id {bob_listed.id!r}"):
        accounts.revoke_token(ann, bob_listed.id)
    assert auth.user_for_token(bob_token).name == "bob2"  # untouched

    accounts.revoke_token(ann, listed.id)
    assert accounts.tokens(ann) == []
    with pytest.raises(Forbidden, match=INVALID_TOKEN):
        auth.user_for_token(ann_token)
    (event,) = _events(registry, SecurityAction.TOKEN_REVOKE, "ann2")
    assert (event.actor, event.subject, event.detail) == ("ann2", "ann2", f"token {listed.id}")


def test_logout_deletes_the_token_it_was_sent_with(registry: Registry, admin: User) -> None:
    ann = _add(registry, admin, "ann3")
    auth, accounts = registry.auth, registry.accounts
    first, second = auth.login("ann3", False, PASSWORD), auth.login("ann3", False, PASSWORD)
    with pytest.raises(BadRequest, match="no token to log out"):
        accounts.logout(ann, None)
    accounts.logout(ann, first)
    with pytest.raises(Forbidden, match=INVALID_TOKEN):
        auth.user_for_token(first)
    assert auth.user_for_token(second).name == "ann3"
    assert [t.token_hash for t in accounts.tokens(ann)] == [AccountService.digest_of(second)]
    (event,) = _events(registry, SecurityAction.LOGOUT, "ann3")
    assert (event.actor, event.subject) == ("ann3", "ann3")


def test_an_administrator_resets_a_password_and_revokes_every_token(
    registry: Registry, admin: User
) -> None:
    _add(registry, admin, "ann4")
    auth, accounts = registry.auth, registry.accounts
    tokens = [auth.login("ann4", False, PASSWORD) for _ in range(2)]
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        accounts.reset_password(admin, "nobody", "long-enough-1")
    with pytest.raises(BadRequest, match="at least 8 characters"):
        accounts.reset_password(admin, "ann4", "short")

    accounts.reset_password(admin, "ann4", "reset-password-3")
    for token in tokens:
        with pytest.raises(Forbidden, match=INVALID_TOKEN):
            auth.user_for_token(token)
    assert auth.login("ann4", False, "reset-password-3")
    (event,) = _events(registry, SecurityAction.PASSWORD_RESET, "ann4")
    assert (event.actor, event.subject, event.detail) == (DEFAULT_ADMIN, "ann4", "2 tokens revoked")


def test_disabling_refuses_logins_and_revokes_tokens_until_enabled(
    registry: Registry, admin: User
) -> None:
    _add(registry, admin, "ann5")
    auth, accounts = registry.auth, registry.accounts
    token = auth.login("ann5", False, PASSWORD)
    assert auth.user_for_token(token).name == "ann5"

    disabled = accounts.set_disabled(admin, "ann5", True)
    assert disabled.name == "ann5" and disabled.disabled
    with pytest.raises(Forbidden, match=INVALID_TOKEN):
        auth.user_for_token(token)
    with pytest.raises(Unauthorized, match="the user or password is invalid"):
        auth.login("ann5", False, PASSWORD)

    enabled = accounts.set_disabled(admin, "ann5", False)
    assert not enabled.disabled
    assert auth.login("ann5", False, PASSWORD)
    with pytest.raises(Forbidden, match=INVALID_TOKEN):  # the old token stays revoked
        auth.user_for_token(token)
    (off,) = _events(registry, SecurityAction.USER_DISABLE, "ann5")
    (on,) = _events(registry, SecurityAction.USER_ENABLE, "ann5")
    assert (off.actor, off.subject, off.detail) == (DEFAULT_ADMIN, "ann5", "1 tokens revoked")
    assert (on.actor, on.subject, on.detail) == (DEFAULT_ADMIN, "ann5", None)


def test_who_may_not_be_disabled(registry: Registry, admin: User) -> None:
    accounts = registry.accounts
    root2 = registry.auth.create_user(admin, "root2", PASSWORD, True, frozenset())
    with pytest.raises(BadRequest, match="the default administrator cannot be disabled"):
        accounts.set_disabled(root2, DEFAULT_ADMIN, True)
    with pytest.raises(BadRequest, match="administrators cannot disable themselves"):
        accounts.set_disabled(root2, "root2", True)
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        accounts.set_disabled(admin, "ghost", True)
    assert not accounts.set_disabled(admin, DEFAULT_ADMIN, False).disabled  # enabling is fine
    assert _events(registry, SecurityAction.USER_DISABLE, DEFAULT_ADMIN) == []


def test_the_digest_of_a_header_is_the_stored_token_digest() -> None:
    assert AccountService.digest_of(None) is None
    assert AccountService.digest_of("bearer abc") == token_digest("abc")
