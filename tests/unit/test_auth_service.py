"""Accounts and tokens on a real SQLite database, without HTTP: what AuthService decides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tmr.config import load_settings
from tmr.domain.artifact import User
from tmr.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from tmr.services.auth import (
    ALL_PERMISSIONS,
    DEFAULT_ADMIN,
    DEFAULT_ADMIN_PASSWORDS,
    AuthService,
    hash_password,
    strip_bearer,
    token_digest,
    verify_password,
)
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade

ROOT = User(DEFAULT_ADMIN, True, ALL_PERMISSIONS)
ALICE = User("alice", False, frozenset({"search"}))


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[AuthService]:
    db = Database(f"sqlite:///{tmp_path / 'auth.db'}")
    upgrade(db.engine)
    settings = load_settings(data_dir=tmp_path, TMR_TOKEN_MAX_CALLS=30, TMR_LOGIN_FREE_FAILURES=100)
    service = AuthService(db, settings)
    service.ensure_default_admin()
    yield service
    db.engine.dispose()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("bearer abc", "abc"),
        ("Bearer  abc ", "abc"),
        ('"bearer abc"', "abc"),
        ("abc", "abc"),
        ("bearer  x", "x"),
    ],
)
def test_strip_bearer(header: str | None, token: str | None) -> None:
    assert strip_bearer(header) == token


def test_passwords_and_digests() -> None:
    stored = hash_password("s3cret-pass")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "s3cret-pass") and not verify_password(stored, "other")
    assert not verify_password("not a hash", "s3cret-pass")
    assert token_digest("abc") == token_digest("abc") != token_digest("abd")
    assert len(token_digest("abc")) == 64


@pytest.mark.parametrize("password", DEFAULT_ADMIN_PASSWORDS)
def test_both_spellings_open_the_default_admin(auth: AuthService, password: str) -> None:
    token = auth.login(DEFAULT_ADMIN, True, password)
    assert token.startswith("bearer ") and len(token) > 40
    assert auth.user_for_token(token) == ROOT


def test_wrong_passwords_and_unknown_users_are_refused_alike(auth: AuthService) -> None:
    with pytest.raises(Unauthorized) as wrong:
        auth.login(DEFAULT_ADMIN, True, "correcthorse")
    with pytest.raises(Unauthorized) as unknown:
        auth.login("ghost", False, DEFAULT_ADMIN_PASSWORDS[0])
    assert wrong.value.message == unknown.value.message == "the user or password is invalid"
    # the other admin spelling opens only the default admin, never another account
    auth.create_user(ROOT, "bob", DEFAULT_ADMIN_PASSWORDS[0], False, frozenset({"search"}))
    with pytest.raises(Unauthorized):
        auth.login("bob", False, DEFAULT_ADMIN_PASSWORDS[1])
    assert auth.user_for_token(auth.login("bob", False, DEFAULT_ADMIN_PASSWORDS[0])).name == "bob"


def test_a_token_serves_exactly_its_calls(auth: AuthService) -> None:
    token = auth.issue_token(DEFAULT_ADMIN, 30)
    served = 0
    for _ in range(40):
        try:
            user = auth.cached_user(token) or auth.user_for_token(token)
        except Forbidden as refused:
            assert "invalid or expired" in refused.message
            break
        assert user.name == DEFAULT_ADMIN
        served += 1
    assert served == 30


def test_a_busy_token_is_topped_up_before_its_lease_runs_dry(tmp_path: Path) -> None:
    """After the first renewal, calls are served from memory while a background worker adds
    the next grant: the database path (``user_for_token``) is never needed again until the
    budget itself runs out, and exactly the budget is served."""
    db = Database(f"sqlite:///{tmp_path / 'auth.db'}")
    upgrade(db.engine)
    settings = load_settings(data_dir=tmp_path, TMR_TOKEN_MAX_CALLS=100_000)
    service = AuthService(db, settings)
    service.ensure_default_admin()
    token = service.issue_token(DEFAULT_ADMIN, 100_000)
    renewals = served = 0
    try:
        while True:
            user = service.cached_user(token)
            if user is None:
                service.budget._top_ups.submit(lambda: None).result()  # let a top-up land
                user = service.cached_user(token)
            if user is None:
                renewals += 1
                user = service.user_for_token(token)
            assert user.name == DEFAULT_ADMIN
            served += 1
    except Forbidden as refused:
        assert "invalid or expired" in refused.message
    assert served == 100_000
    # the first call, and near the end, where grants shrink to a quarter of what is left and
    # a lease can run dry between two top-ups; never once per lease as before (hundreds)
    assert renewals <= 20, renewals
    assert service.budget.release_all() == 0  # nothing left over in memory
    db.engine.dispose()


def test_missing_and_unknown_tokens_are_forbidden(auth: AuthService) -> None:
    with pytest.raises(Forbidden) as missing:
        auth.user_for_token(None)
    assert missing.value.message == "missing X-Authorization header: log in with PUT /authenticate"
    with pytest.raises(Forbidden):
        auth.user_for_token("bearer not-a-token")
    assert auth.cached_user(None) is None
    assert auth.cached_user("bearer not-a-token") is None


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'expiry.db'}")
    upgrade(db.engine)
    service = AuthService(db, load_settings(data_dir=tmp_path, TMR_TOKEN_TTL_SECONDS=-1))
    service.ensure_default_admin()
    token = service.login(DEFAULT_ADMIN, True, DEFAULT_ADMIN_PASSWORDS[0])
    with pytest.raises(Forbidden):
        service.user_for_token(token)


@pytest.mark.parametrize(
    ("name", "password", "permissions", "message"),
    [
        ("", "longenough", frozenset(), "a user name must have 1 to 256 characters"),
        ("x" * 257, "longenough", frozenset(), "a user name must have 1 to 256 characters"),
        ("carol", "short", frozenset(), "a password must have at least 8 characters"),
        (
            "carol",
            "longenough",
            frozenset({"fly"}),
            "unknown permissions ['fly']; valid: ['admin', 'download', 'search', 'upload']",
        ),
    ],
)
def test_user_creation_is_validated(
    auth: AuthService, name: str, password: str, permissions: frozenset[str], message: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        auth.create_user(ROOT, name, password, False, permissions)
    assert refused.value.message == message


def test_users_are_created_by_admins_once(auth: AuthService) -> None:
    with pytest.raises(Unauthorized) as refused:
        auth.create_user(ALICE, "carol", "longenough", False, frozenset())
    assert refused.value.message == "only administrators register users"
    carol = auth.create_user(ROOT, "carol", "longenough", False, frozenset({"search", "upload"}))
    assert carol == User("carol", False, frozenset({"search", "upload"}))
    with pytest.raises(Conflict) as twice:
        auth.create_user(ROOT, "carol", "longenough", False, frozenset())
    assert twice.value.message == "user 'carol' exists already"
    # the admin permission is the admin role, with every permission
    dave = auth.create_user(ROOT, "dave", "longenough", False, frozenset({"admin"}))
    assert dave.is_admin and dave.permissions == ALL_PERMISSIONS
    erin = auth.create_user(ROOT, "erin", "longenough", True, frozenset())
    assert erin.is_admin and erin.permissions == ALL_PERMISSIONS
    names = [u.name for u in auth.list_users(ROOT)]
    assert sorted(names) == sorted([DEFAULT_ADMIN, "carol", "dave", "erin"])
    with pytest.raises(Unauthorized) as listing:
        auth.list_users(carol)
    assert listing.value.message == "only administrators list users"


def test_who_may_delete_whom(auth: AuthService) -> None:
    carol = auth.create_user(ROOT, "carol", "longenough", False, frozenset({"search"}))
    auth.create_user(ROOT, "dave", "longenough", False, frozenset())
    with pytest.raises(Unauthorized) as other:
        auth.delete_user(carol, "dave")
    assert other.value.message == "users may delete only themselves; admins may delete anyone"
    with pytest.raises(BadRequest) as default:
        auth.delete_user(ROOT, DEFAULT_ADMIN)
    assert default.value.message == "the default administrator cannot be deleted"
    with pytest.raises(NotFound) as missing:
        auth.delete_user(ROOT, "ghost")
    assert missing.value.message == "no user named 'ghost'"
    token = auth.login("carol", False, "longenough")
    assert auth.user_for_token(token).name == "carol"
    auth.delete_user(carol, "carol")  # oneself
    with pytest.raises(Forbidden):  # the leased calls went with the account
        auth.cached_user(token) or auth.user_for_token(token)
    auth.delete_user(ROOT, "dave")
    assert [u.name for u in auth.list_users(ROOT)] == [DEFAULT_ADMIN]


def test_a_reset_keeps_only_the_default_admin_and_its_tokens(auth: AuthService) -> None:
    admin_token = auth.login(DEFAULT_ADMIN, True, DEFAULT_ADMIN_PASSWORDS[1])
    auth.create_user(ROOT, "carol", "longenough", False, frozenset({"search"}))
    carol_token = auth.login("carol", False, "longenough")
    auth.user_for_token(carol_token)
    auth.reset_users()
    assert [u.name for u in auth.list_users(ROOT)] == [DEFAULT_ADMIN]
    assert auth.user_for_token(admin_token) == ROOT
    with pytest.raises(Forbidden):
        auth.cached_user(carol_token) or auth.user_for_token(carol_token)
    assert auth.admin_password() == DEFAULT_ADMIN_PASSWORDS[0]


def test_an_admin_password_file_replaces_the_default(tmp_path: Path) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("a-better-password\n")
    secret.chmod(0o600)
    db = Database(f"sqlite:///{tmp_path / 'file.db'}")
    upgrade(db.engine)
    service = AuthService(db, load_settings(data_dir=tmp_path, TMR_ADMIN_PASSWORD_FILE=secret))
    service.ensure_default_admin()
    assert service.admin_password() == "a-better-password"
    with pytest.raises(Unauthorized):
        service.login(DEFAULT_ADMIN, True, DEFAULT_ADMIN_PASSWORDS[0])
    assert service.user_for_token(service.login(DEFAULT_ADMIN, True, "a-better-password")) == ROOT
    secret.write_text("short")
    with pytest.raises(ValueError, match="needs 8 characters"):
        service.admin_password()
