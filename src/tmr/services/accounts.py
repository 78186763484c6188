"""Accounts: one's own password and tokens; administrators disable, enable and reset users.

Every change is a security event. Revoking a token deletes its row and this process's lease;
other replicas' leases lapse within ``LEASE_SECONDS``. Disabling a user revokes all their
tokens and refuses their logins; re-enabling lets them log in again (old tokens stay revoked).
"""

from __future__ import annotations

from tmr.domain.artifact import TokenInfo, User
from tmr.domain.security import SecurityAction
from tmr.errors import BadRequest, NotFound, Unauthorized
from tmr.services.auth import (
    DEFAULT_ADMIN,
    AuthService,
    hash_password,
    strip_bearer,
    token_digest,
    verify_password,
)
from tmr.services.security import SecurityLog
from tmr.storage.db.engine import Database
from tmr.storage.db.users import UserRepository

MIN_PASSWORD = 8


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"a password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise BadRequest("a password may have at most 1024 characters")


class AccountService:
    def __init__(self, db: Database, auth: AuthService, security: SecurityLog) -> None:
        self.db = db
        self.auth = auth
        self.security = security

    # --- one's own account --------------------------------------------------------------
    def change_own_password(
        self, user: User, current_header: str | None, old: str, new: str
    ) -> int:
        """Set a new password after checking the old one; revokes the user's other tokens."""
        _check_password(new)
        with self.db.read() as s:
            stored = UserRepository(s).password_hash(user.name)
        if stored is None or not verify_password(stored, old):
            raise Unauthorized("the current password is wrong")
        new_hash = hash_password(new)  # Argon2 outside the write transaction
        keep = self._digest(current_header)
        with self.db.transaction() as s:
            users = UserRepository(s)
            users.set_password_hash(user.name, new_hash)
            revoked = users.delete_tokens_of(user.name, keep=keep)
            self.security.record_in(
                s,
                SecurityAction.PASSWORD_CHANGE,
                user.name,
                user.name,
                f"{len(revoked)} other tokens revoked",
            )
        self.auth.forget_leases(user.name)
        return len(revoked)

    def tokens(self, user: User) -> list[TokenInfo]:
        with self.db.read() as s:
            return UserRepository(s).tokens_of(user.name)

    def revoke_token(self, user: User, token_id: str) -> None:
        with self.db.transaction() as s:
            users = UserRepository(s)
            mine = [t for t in users.tokens_of(user.name) if t.id == token_id]
            if not mine:
                raise NotFound(f"you have no token with id {token_id!r}")
            users.delete_token(mine[0].token_hash)
            self.security.record_in(
                s, SecurityAction.TOKEN_REVOKE, user.name, user.name, f"token {token_id}"
            )
        self.auth.forget_leases(user.name)

    def logout(self, user: User, current_header: str | None) -> None:
        digest = self._digest(current_header)
        if digest is None:  # the middleware authenticated it, so this cannot happen
            raise BadRequest("no token to log out")
        with self.db.transaction() as s:
            UserRepository(s).delete_token(digest)
            self.security.record_in(s, SecurityAction.LOGOUT, user.name, user.name)
        self.auth.forget_leases(user.name)

    # --- administrators -----------------------------------------------------------------
    def reset_password(self, actor: User, name: str, new: str) -> None:
        _check_password(new)
        new_hash = hash_password(new)
        with self.db.transaction() as s:
            users = UserRepository(s)
            if users.get(name) is None:
                raise NotFound(f"no user named {name!r}")
            users.set_password_hash(name, new_hash)
            revoked = users.delete_tokens_of(name)
            self.security.record_in(
                s, SecurityAction.PASSWORD_RESET, actor.name, name, f"{len(revoked)} tokens revoked"
            )
        self.auth.forget_leases(name)

    def set_disabled(self, actor: User, name: str, disabled: bool) -> User:
        if disabled and name == DEFAULT_ADMIN:
            raise BadRequest("the default administrator cannot be disabled")
        if disabled and name == actor.name:
            raise BadRequest("administrators cannot disable themselves")
        revoked: list[str] = []
        with self.db.transaction() as s:
            users = UserRepository(s)
            target = users.get(name)
            if target is None:
                raise NotFound(f"no user named {name!r}")
            users.set_disabled(name, disabled)
            if disabled:
                revoked = users.delete_tokens_of(name)
            action = SecurityAction.USER_DISABLE if disabled else SecurityAction.USER_ENABLE
            self.security.record_in(
                s, action, actor.name, name, f"{len(revoked)} tokens revoked" if disabled else None
            )
            updated = users.get(name)
        self.auth.forget_leases(name)
        assert updated is not None
        return updated

    # --- helpers ------------------------------------------------------------------------
    @classmethod
    def digest_of(cls, header: str | None) -> str | None:
        """The stored digest of the token in an ``X-Authorization`` header (None without one)."""
        return cls._digest(header)

    @staticmethod
    def _digest(header: str | None) -> str | None:
        token = strip_bearer(header)
        return token_digest(token) if token else None
