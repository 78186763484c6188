"""Users, passwords and access tokens (REQUIREMENTS §1.5).

Passwords are hashed with Argon2id. A token is 32 random bytes shown once as ``bearer <token>``;
only its SHA-256 is stored, with an expiry (10 hours) and a call budget (1000 calls).

The call budget is spent through leases held in memory (tmr.services.token_budget): exact
under concurrency, never exceeded across replicas.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from tmr.config import Settings
from tmr.domain.artifact import User
from tmr.domain.names import name_problem
from tmr.domain.security import SecurityAction
from tmr.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from tmr.services.login_guard import LoginGuard
from tmr.services.request_limit import UserRateLimiter
from tmr.services.security import SecurityLog
from tmr.services.token_budget import TokenBudget
from tmr.storage.db.engine import Database
from tmr.storage.db.users import UserRepository
from tmr.storage.secrets import read_secret_text

DEFAULT_ADMIN = "ece30861defaultadminuser"
# The requirements' spelling and the contract example's spelling; both open this one account.
DEFAULT_ADMIN_PASSWORDS = (
    "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE packages;",
    "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE artifacts;",
)
ALL_PERMISSIONS = frozenset({"upload", "search", "download", "admin"})

_hasher = PasswordHasher()


def _lower_priority() -> None:
    """Nice the calling thread (Linux schedules threads individually; Argon2's own lane
    threads inherit it). Elsewhere a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash with the real parameters, verified for unknown names (same work, same time)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def strip_bearer(header: str | None) -> str | None:
    if not header:
        return None
    value = header.strip().strip('"').strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value or None


class AuthService:
    def __init__(
        self, db: Database, settings: Settings, security: SecurityLog | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.budget = TokenBudget(db)
        self.guard = LoginGuard(db, settings)
        self.request_limit = UserRateLimiter(settings.user_rate_limit, settings.user_rate_burst)
        # Argon2 runs on its own few threads at a lower CPU priority, so a flood of logins
        # cannot take the cores (or the memory: 64 MiB each) from every other request.
        self._hashing = ThreadPoolExecutor(
            max_workers=max(1, settings.password_hash_concurrency),
            thread_name_prefix="tmr-argon2",
            initializer=_lower_priority,
        )
        self.security = security

    def admin_password(self) -> str:
        """The default admin's password: the contract's, unless a secret file gives one."""
        path = self.settings.admin_password_file
        if path is None:
            return DEFAULT_ADMIN_PASSWORDS[0]
        password = read_secret_text(path)
        if len(password) < 8:
            raise ValueError(f"TMR_ADMIN_PASSWORD_FILE {path}: the password needs 8 characters")
        return password

    def ensure_default_admin(self) -> None:
        """Create the default admin; with a password file, (re)apply its password at each start."""
        with self.db.transaction() as s:
            users = UserRepository(s)
            if users.get(DEFAULT_ADMIN) is None:  # replicas may race here: insert-if-missing
                admin = User(DEFAULT_ADMIN, True, ALL_PERMISSIONS)
                users.add_if_missing(admin, _hasher.hash(self.admin_password()))
            elif self.settings.admin_password_file is not None:
                users.set_password_hash(DEFAULT_ADMIN, _hasher.hash(self.admin_password()))
                users.set_disabled(DEFAULT_ADMIN, False)

    def login(self, name: str, is_admin: bool, password: str, address: str | None = None) -> str:
        """A new token for a correct password.

        Failed logins are throttled (tmr.services.login_guard). An unknown name costs the same
        Argon2 verification as a known one (against a dummy hash), so timing does not reveal
        who has an account. The hash is verified outside any database transaction, with at most
        ``TMR_PASSWORD_HASH_CONCURRENCY`` verifications at once, so a flood of wrong passwords
        neither holds the write lock nor starves other requests of CPU and memory. Successes
        and failures are security events.
        """
        self.guard.check(name, address)
        with self.db.read() as s:
            stored = UserRepository(s).password_hash(name)
        ok = self._hashing.submit(self._verify_queued, name, address, stored, password).result()
        if stored is None or not ok:
            self.guard.failed(name, address)
            self._record(SecurityAction.LOGIN_FAILED, "-", name)
            raise Unauthorized("the user or password is invalid")
        self.guard.succeeded(name)
        with self.db.transaction() as s:
            users = UserRepository(s)
            if users.password_hash(name) is None:  # deleted or disabled meanwhile
                raise Unauthorized("the user or password is invalid")
            self._record_in(s, SecurityAction.LOGIN, name, name)
            return self._add_token(users, name, self.settings.token_max_calls)

    def issue_token(self, name: str, calls: int) -> str:
        """A token for an already authenticated user (the dashboard's workload uses one so a
        benchmark run does not spend the administrator's own token)."""
        with self.db.transaction() as s:
            return self._add_token(UserRepository(s), name, calls)

    def _add_token(self, users: UserRepository, name: str, calls: int) -> str:
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(seconds=self.settings.token_ttl_seconds)
        users.add_token(token_digest(token), name, expires, calls)
        return f"bearer {token}"

    def _verify_queued(
        self, name: str, address: str | None, stored: str | None, password: str
    ) -> bool:
        # A flood queues here; whoever waited while the account or address got blocked is
        # answered 429 without spending a verification.
        self.guard.check(name, address)
        return self._password_ok(name, stored or _dummy_hash(), password)

    def _password_ok(self, name: str, stored: str, password: str) -> bool:
        candidates = [password]
        if (
            name == DEFAULT_ADMIN
            and self.settings.admin_password_file is None
            and password in DEFAULT_ADMIN_PASSWORDS
        ):
            candidates = list(DEFAULT_ADMIN_PASSWORDS)
        for candidate in candidates:
            try:
                if _hasher.verify(stored, candidate):
                    return True
            except (VerificationError, InvalidHashError):
                continue
        return False

    def cached_user(self, header: str | None) -> User | None:
        """Spend one leased call without touching the database; None when no lease is left."""
        token = strip_bearer(header)
        return None if token is None else self.budget.spend_cached(token_digest(token))

    def user_for_token(self, header: str | None) -> User:
        token = strip_bearer(header)
        if token is None:
            raise Forbidden("missing X-Authorization header: log in with PUT /authenticate")
        return self.budget.spend(token_digest(token))

    def forget_leases(self, user_name: str | None = None) -> None:
        self.budget.forget(user_name)

    # --- user management (our design, beside the contract) ------------------------------
    def create_user(
        self, actor: User, name: str, password: str, is_admin: bool, permissions: frozenset[str]
    ) -> User:
        if not actor.is_admin:
            raise Unauthorized("only administrators register users")
        if not name or len(name) > 256:
            raise BadRequest("a user name must have 1 to 256 characters")
        problem = name_problem(name, "user")
        if problem:
            raise BadRequest(problem)
        if len(password) < 8:
            raise BadRequest("a password must have at least 8 characters")
        unknown = permissions - ALL_PERMISSIONS
        if unknown:
            raise BadRequest(
                f"unknown permissions {sorted(unknown)}; valid: {sorted(ALL_PERMISSIONS)}"
            )
        is_admin = is_admin or "admin" in permissions  # the admin permission is the admin role
        user = User(name, is_admin, ALL_PERMISSIONS if is_admin else permissions)
        with self.db.transaction() as s:
            users = UserRepository(s)
            if users.get(name) is not None:
                raise Conflict(f"user {name!r} exists already")
            users.upsert(user, _hasher.hash(password))
            detail = "admin" if user.is_admin else ",".join(sorted(user.permissions)) or "none"
            self._record_in(s, SecurityAction.USER_CREATE, actor.name, name, detail)
        return user

    def delete_user(self, actor: User, name: str) -> None:
        if actor.name != name and not actor.is_admin:
            raise Unauthorized("users may delete only themselves; admins may delete anyone")
        if name == DEFAULT_ADMIN:
            raise BadRequest("the default administrator cannot be deleted")
        with self.db.transaction() as s:
            users = UserRepository(s)
            if users.get(name) is None:
                raise NotFound(f"no user named {name!r}")
            users.delete(name)
            self._record_in(s, SecurityAction.USER_DELETE, actor.name, name)
        self.forget_leases(name)

    def list_users(self, actor: User) -> list[User]:
        if not actor.is_admin:
            raise Unauthorized("only administrators list users")
        with self.db.transaction() as s:
            return UserRepository(s).list()

    def reset_users(self) -> None:
        """Back to the initial state: only the default admin, with its default password.

        The default admin's tokens survive (REQUIREMENTS §1.5: a token survives a reset).
        """
        with self.db.transaction() as s:
            users = UserRepository(s)
            users.delete_all_except(DEFAULT_ADMIN)
            self.budget.forget(keep=DEFAULT_ADMIN)
            users.upsert(
                User(DEFAULT_ADMIN, True, ALL_PERMISSIONS), _hasher.hash(self.admin_password())
            )

    # --- the security log ---------------------------------------------------------------
    def _record(self, action: SecurityAction, actor: str, subject: str, detail: str = "") -> None:
        if self.security is not None:
            self.security.record(action, actor, subject, detail or None)

    def _record_in(
        self, s: Session, action: SecurityAction, actor: str, subject: str, detail: str = ""
    ) -> None:
        if self.security is not None:
            self.security.record_in(s, action, actor, subject, detail or None)
