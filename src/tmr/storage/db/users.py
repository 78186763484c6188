"""Repository for users and their access tokens (only token hashes are stored)."""

from __future__ import annotations

import builtins
import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tmr.domain.artifact import TokenInfo, User
from tmr.storage.db.artifacts import as_utc
from tmr.storage.db.tables import TokenRow, UserRow


def _to_user(row: UserRow) -> User:
    perms = frozenset(p for p in row.permissions.split(",") if p)
    return User(
        name=row.name, is_admin=row.is_admin, permissions=perms, disabled=bool(row.disabled)
    )


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, name: str) -> User | None:
        row = self.s.get(UserRow, name)
        return _to_user(row) if row else None

    def password_hash(self, name: str) -> str | None:
        """The hash to check a login against; None for unknown and for disabled users."""
        row = self.s.get(UserRow, name)
        return row.password_hash if row and not row.disabled else None

    def list(self) -> list[User]:
        return [_to_user(r) for r in self.s.scalars(select(UserRow).order_by(UserRow.name))]

    def upsert(self, user: User, password_hash: str) -> None:
        self.s.merge(
            UserRow(
                name=user.name,
                password_hash=password_hash,
                is_admin=user.is_admin,
                permissions=",".join(sorted(user.permissions)),
                created_at=datetime.now(UTC),
                disabled=user.disabled,
            )
        )
        self.s.flush()

    def add_if_missing(self, user: User, password_hash: str) -> None:
        """Insert the user unless one of that name exists (atomic: replicas starting together
        on one database both call this)."""
        from sqlalchemy.dialects import postgresql, sqlite

        table = UserRow.__table__
        dialect = self.s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.s.execute(
            insert(table)  # type: ignore[arg-type]
            .values(
                name=user.name,
                password_hash=password_hash,
                is_admin=user.is_admin,
                permissions=",".join(sorted(user.permissions)),
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
        )

    def set_password_hash(self, name: str, password_hash: str) -> None:
        self.s.execute(
            update(UserRow).where(UserRow.name == name).values(password_hash=password_hash)
        )

    def delete(self, name: str) -> None:
        self.s.execute(delete(TokenRow).where(TokenRow.user_name == name))
        self.s.execute(delete(UserRow).where(UserRow.name == name))

    def delete_all_except(self, keep: str) -> None:
        self.s.execute(delete(TokenRow).where(TokenRow.user_name != keep))
        self.s.execute(delete(UserRow).where(UserRow.name != keep))

    # --- tokens -------------------------------------------------------------------------
    def add_token(self, token_hash: str, user_name: str, expires_at: datetime, calls: int) -> None:
        self.s.add(
            TokenRow(
                token_hash=token_hash,
                user_name=user_name,
                issued_at=datetime.now(UTC),
                expires_at=expires_at,
                calls_left=calls,
                token_id=secrets.token_hex(8),
            )
        )

    def lease_token_calls(
        self, token_hash: str, now: datetime, wanted: int, give_back: int = 0
    ) -> tuple[str, datetime, int] | None:
        """Return ``give_back`` unused calls and take a new lease of a live token.

        (owner, expiry, calls granted), or None when the token is unknown, expired or spent.
        The first statement is an UPDATE, so the row is locked (PostgreSQL) or the database's
        write lock held (SQLite) before the count is read: concurrent processes can never take
        more calls than the token has. The lease is a quarter of what is left, between 1 and
        ``wanted``, so little sits unused in other replicas when the budget runs out.
        """
        self.s.execute(
            update(TokenRow)
            .where(TokenRow.token_hash == token_hash)
            .values(calls_left=TokenRow.calls_left + give_back)
        )
        row = self.s.execute(
            select(TokenRow.calls_left, TokenRow.user_name, TokenRow.expires_at).where(
                TokenRow.token_hash == token_hash, TokenRow.expires_at > now
            )
        ).first()
        if row is None or row[0] <= 0:
            return None
        left, owner, expires = row
        granted = min(wanted, max(1, left // 4))
        self.s.execute(
            update(TokenRow)
            .where(TokenRow.token_hash == token_hash)
            .values(calls_left=left - granted)
        )
        return owner, expires, granted

    def return_token_calls(self, token_hash: str, calls: int) -> None:
        """Give unused leased calls back (a no-op when the token is gone)."""
        self.s.execute(
            update(TokenRow)
            .where(TokenRow.token_hash == token_hash)
            .values(calls_left=TokenRow.calls_left + calls)
        )

    # --- accounts (tmr.services.accounts) -----------------------------------------------
    def set_disabled(self, name: str, disabled: bool) -> None:
        self.s.execute(update(UserRow).where(UserRow.name == name).values(disabled=disabled))

    def tokens_of(self, name: str) -> builtins.list[TokenInfo]:
        rows = self.s.scalars(
            select(TokenRow).where(TokenRow.user_name == name).order_by(TokenRow.issued_at)
        )
        return [
            TokenInfo(
                id=r.token_id or r.token_hash[:16],
                user_name=r.user_name,
                issued_at=as_utc(r.issued_at),
                expires_at=as_utc(r.expires_at),
                calls_left=r.calls_left,
                token_hash=r.token_hash,
            )
            for r in rows
        ]

    def delete_token(self, token_hash: str) -> None:
        self.s.execute(delete(TokenRow).where(TokenRow.token_hash == token_hash))

    def delete_tokens_of(self, name: str, keep: str | None = None) -> builtins.list[str]:
        """Revoke a user's tokens (all but ``keep``); the revoked tokens' hashes."""
        stmt = select(TokenRow.token_hash).where(TokenRow.user_name == name)
        if keep is not None:
            stmt = stmt.where(TokenRow.token_hash != keep)
        hashes = list(self.s.scalars(stmt))
        if hashes:
            self.s.execute(delete(TokenRow).where(TokenRow.token_hash.in_(hashes)))
        return hashes
