"""Users, passwords and access tokens (REQUIREMENTS §1.5).

Passwords are hashed with Argon2id. A token is 32 random bytes shown once as ``bearer <token>``;
only its SHA-256 is stored, with an expiry (10 hours) and a call budget (1000 calls).

Spending one call per request as a database write would make every request a write, which on
SQLite serialises the whole API. Instead each process leases a few calls at a time
(``LEASE_CALLS``) with one atomic conditional UPDATE and counts them down in memory, so the
budget is never exceeded across any number of replicas; a replica that stops early strands at
most its unused lease. A lease also lapses after ``LEASE_SECONDS``, so a deleted user's or a
revoked token's lease in another replica dies within seconds.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tmr.config import Settings
from tmr.domain.artifact import User
from tmr.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from tmr.storage.db.engine import Database
from tmr.storage.db.users import UserRepository

DEFAULT_ADMIN = "ece30861defaultadminuser"
# The requirements' spelling and the contract example's spelling; both open this one account.
DEFAULT_ADMIN_PASSWORDS = (
    "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE packages;",
    "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE artifacts;",
)
ALL_PERMISSIONS = frozenset({"upload", "search", "download", "admin"})

_hasher = PasswordHasher()
LEASE_CALLS = 25
LEASE_SECONDS = 10.0


@dataclass
class _Lease:
    user: User
    calls: int
    expires_at: float  # token expiry, epoch seconds
    lapses_at: float  # monotonic


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
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._leases: dict[str, _Lease] = {}
        self._lease_lock = threading.Lock()

    def ensure_default_admin(self) -> None:
        with self.db.transaction() as s:
            users = UserRepository(s)
            if users.get(DEFAULT_ADMIN) is None:
                admin = User(DEFAULT_ADMIN, True, ALL_PERMISSIONS)
                users.upsert(admin, _hasher.hash(DEFAULT_ADMIN_PASSWORDS[0]))

    def login(self, name: str, is_admin: bool, password: str) -> str:
        with self.db.transaction() as s:
            users = UserRepository(s)
            stored = users.password_hash(name)
            if stored is None or not self._password_ok(name, stored, password):
                raise Unauthorized("the user or password is invalid")
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

    @staticmethod
    def _password_ok(name: str, stored: str, password: str) -> bool:
        candidates = [password]
        if name == DEFAULT_ADMIN and password in DEFAULT_ADMIN_PASSWORDS:
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
        if token is None:
            return None
        digest = token_digest(token)
        with self._lease_lock:
            lease = self._leases.get(digest)
            if (
                lease is not None
                and lease.calls > 0
                and time.monotonic() < lease.lapses_at
                and time.time() < lease.expires_at
            ):
                lease.calls -= 1
                return lease.user
            self._leases.pop(digest, None)
        return None

    def user_for_token(self, header: str | None) -> User:
        token = strip_bearer(header)
        if token is None:
            raise Forbidden("missing X-Authorization header: log in with PUT /authenticate")
        cached = self.cached_user(header)
        if cached is not None:
            return cached
        digest = token_digest(token)
        with self.db.transaction() as s:
            users = UserRepository(s)
            leased = users.lease_token_calls(digest, datetime.now(UTC), LEASE_CALLS)
            user = users.get(leased[0]) if leased else None
        if leased is None or user is None:
            raise Forbidden(
                "the token is invalid or expired (1000 calls or 10 hours): log in again"
            )
        _, expires, granted = leased
        expires_utc = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        with self._lease_lock:
            self._leases[digest] = _Lease(
                user, granted - 1, expires_utc.timestamp(), time.monotonic() + LEASE_SECONDS
            )
        return user

    def forget_leases(self, user_name: str | None = None) -> None:
        with self._lease_lock:
            if user_name is None:
                self._leases.clear()
            else:
                self._leases = {k: v for k, v in self._leases.items() if v.user.name != user_name}

    # --- user management (our design, beside the contract) ------------------------------
    def create_user(
        self, actor: User, name: str, password: str, is_admin: bool, permissions: frozenset[str]
    ) -> User:
        if not actor.is_admin:
            raise Unauthorized("only administrators register users")
        if not name or len(name) > 256:
            raise BadRequest("a user name must have 1 to 256 characters")
        if len(password) < 8:
            raise BadRequest("a password must have at least 8 characters")
        unknown = permissions - ALL_PERMISSIONS
        if unknown:
            raise BadRequest(
                f"unknown permissions {sorted(unknown)}; valid: {sorted(ALL_PERMISSIONS)}"
            )
        user = User(name, is_admin, ALL_PERMISSIONS if is_admin else permissions)
        with self.db.transaction() as s:
            users = UserRepository(s)
            if users.get(name) is not None:
                raise Conflict(f"user {name!r} exists already")
            users.upsert(user, _hasher.hash(password))
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
            self._leases = {k: v for k, v in self._leases.items() if v.user.name == DEFAULT_ADMIN}
            users.upsert(
                User(DEFAULT_ADMIN, True, ALL_PERMISSIONS), _hasher.hash(DEFAULT_ADMIN_PASSWORDS[0])
            )
