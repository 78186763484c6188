"""Users, passwords and access tokens (REQUIREMENTS §1.5).

Passwords are hashed with Argon2id. A token is 32 random bytes shown once as ``bearer <token>``;
only its SHA-256 is stored, with an expiry (10 hours) and a call budget (1000 calls) that one
atomic UPDATE spends, so concurrent replicas never over-spend a token.
"""

from __future__ import annotations

import hashlib
import secrets
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
            token = secrets.token_urlsafe(32)
            expires = datetime.now(UTC) + timedelta(seconds=self.settings.token_ttl_seconds)
            users.add_token(token_digest(token), name, expires, self.settings.token_max_calls)
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

    def user_for_token(self, header: str | None) -> User:
        token = strip_bearer(header)
        if token is None:
            raise Forbidden("missing X-Authorization header: log in with PUT /authenticate")
        with self.db.transaction() as s:
            users = UserRepository(s)
            name = users.spend_token_call(token_digest(token), datetime.now(UTC))
            user = users.get(name) if name else None
        if user is None:
            raise Forbidden("the token is invalid or expired (1000 calls or 10 hours): log in again")
        return user

    # --- user management (our design, beside the contract) ------------------------------
    def create_user(self, actor: User, name: str, password: str, is_admin: bool,
                    permissions: frozenset[str]) -> User:
        if not actor.is_admin:
            raise Unauthorized("only administrators register users")
        if not name or len(name) > 256:
            raise BadRequest("a user name must have 1 to 256 characters")
        if len(password) < 8:
            raise BadRequest("a password must have at least 8 characters")
        unknown = permissions - ALL_PERMISSIONS
        if unknown:
            raise BadRequest(f"unknown permissions {sorted(unknown)}; valid: {sorted(ALL_PERMISSIONS)}")
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
            users.upsert(User(DEFAULT_ADMIN, True, ALL_PERMISSIONS),
                         _hasher.hash(DEFAULT_ADMIN_PASSWORDS[0]))
