"""Repository for failed-login counts per key (``user:<name>``, ``addr:<client address>``).

One row per key: failures in the current window, the last failure's time and until when the key
is blocked. Counting is one upsert, atomic on SQLite and PostgreSQL, so replicas sharing the
database count every failure once. Times are epoch seconds supplied by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tmr.storage.db.tables import LoginThrottleRow

_TABLE: Table = LoginThrottleRow.__table__  # type: ignore[assignment]  # Core upsert


class LoginThrottleRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def blocked_until(self, keys: Sequence[str], now: float) -> float | None:
        """The latest time any of ``keys`` stays blocked after ``now``, or None."""
        return self.s.scalar(
            select(LoginThrottleRow.blocked_until)
            .where(LoginThrottleRow.key.in_(keys), LoginThrottleRow.blocked_until > now)
            .order_by(LoginThrottleRow.blocked_until.desc())
            .limit(1)
        )

    def count_failure(self, key: str, now: float, window: float) -> int:
        """Count a failure of ``key`` at ``now`` (restarting the count when the previous failure
        is older than ``window`` seconds); the failures now in the window."""
        dialect = self.s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(_TABLE).values(key=key, failures=1, last_failure_at=now, blocked_until=0.0)
        stale = stmt.excluded.last_failure_at - _TABLE.c.last_failure_at > window
        self.s.execute(
            stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": case((stale, 1), else_=_TABLE.c.failures + 1),
                    "last_failure_at": now,
                },
            )
        )
        row = self.s.get(LoginThrottleRow, key, populate_existing=True)
        return row.failures if row is not None else 1

    def block(self, key: str, until: float) -> None:
        row = self.s.get(LoginThrottleRow, key)
        if row is not None:
            row.blocked_until = until

    def exists(self, key: str) -> bool:
        found = self.s.scalar(select(LoginThrottleRow.key).where(LoginThrottleRow.key == key))
        return found is not None

    def forget(self, key: str) -> None:
        self.s.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == key))

    def forget_stale(self, now: float, window: float) -> None:
        """Drop keys whose last failure is older than ``window`` and which are not blocked."""
        self.s.execute(
            delete(LoginThrottleRow).where(
                LoginThrottleRow.last_failure_at < now - window,
                LoginThrottleRow.blocked_until < now,
            )
        )
