"""Repository for users and their access tokens (only token hashes are stored)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tmr.domain.artifact import User
from tmr.storage.db.tables import TokenRow, UserRow


def _to_user(row: UserRow) -> User:
    perms = frozenset(p for p in row.permissions.split(",") if p)
    return User(name=row.name, is_admin=row.is_admin, permissions=perms)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, name: str) -> User | None:
        row = self.s.get(UserRow, name)
        return _to_user(row) if row else None

    def password_hash(self, name: str) -> str | None:
        row = self.s.get(UserRow, name)
        return row.password_hash if row else None

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
            )
        )
        self.s.flush()

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
            )
        )

    def spend_token_call(self, token_hash: str, now: datetime) -> str | None:
        """Use one call of a live token in one atomic statement; the owner's name, or None."""
        result = self.s.execute(
            update(TokenRow)
            .where(
                TokenRow.token_hash == token_hash,
                TokenRow.calls_left > 0,
                TokenRow.expires_at > now,
            )
            .values(calls_left=TokenRow.calls_left - 1)
            .returning(TokenRow.user_name)
        )
        return result.scalar_one_or_none()

    def lease_token_calls(
        self, token_hash: str, now: datetime, wanted: int
    ) -> tuple[str, datetime, int] | None:
        """Take up to ``wanted`` calls of a live token; (owner, expiry, calls granted) or None.

        Optimistic: the UPDATE only applies if nobody spent calls since we read the count, so
        concurrent processes can never take more calls than the token has.
        """
        for _ in range(20):
            row = self.s.execute(
                select(TokenRow.calls_left, TokenRow.user_name, TokenRow.expires_at).where(
                    TokenRow.token_hash == token_hash,
                    TokenRow.calls_left > 0,
                    TokenRow.expires_at > now,
                )
            ).first()
            if row is None:
                return None
            left, owner, expires = row
            granted = min(wanted, left)
            done = self.s.execute(
                update(TokenRow)
                .where(TokenRow.token_hash == token_hash, TokenRow.calls_left == left)
                .values(calls_left=left - granted)
            )
            if done.rowcount == 1:  # type: ignore[attr-defined]
                return owner, expires, granted
        return None

    def purge_expired_tokens(self, now: datetime) -> None:
        self.s.execute(
            delete(TokenRow).where((TokenRow.expires_at <= now) | (TokenRow.calls_left <= 0))
        )
