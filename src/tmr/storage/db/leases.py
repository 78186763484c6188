"""Repository for named leases: one holder at a time across every process on the database.

A lease is a row (name, holder, expires_at). It is taken by inserting the row, or by replacing
an expired holder with one conditional UPDATE; both are atomic on SQLite and PostgreSQL, so two
processes never both believe they hold it. Times are epoch seconds supplied by the caller.
"""

from __future__ import annotations

from sqlalchemy import Table, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tmr.storage.db.tables import LeaseRow

_TABLE: Table = LeaseRow.__table__  # type: ignore[assignment]  # Core statements; RETURNING says whether a row was taken


class LeaseRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def try_acquire(self, name: str, holder: str, now: float, ttl: float) -> bool:
        dialect = self.s.get_bind().dialect.name
        values = {"name": name, "holder": holder, "expires_at": now + ttl}
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        inserted = self.s.execute(
            insert(_TABLE).values(**values).on_conflict_do_nothing().returning(_TABLE.c.name)
        ).first()
        if inserted is not None:
            return True
        taken = self.s.execute(
            update(_TABLE)
            .where(_TABLE.c.name == name, _TABLE.c.expires_at < now)
            .values(holder=holder, expires_at=now + ttl)
            .returning(_TABLE.c.name)
        ).first()
        return taken is not None

    def renew(self, name: str, holder: str, now: float, ttl: float) -> bool:
        renewed = self.s.execute(
            update(_TABLE)
            .where(_TABLE.c.name == name, _TABLE.c.holder == holder)
            .values(expires_at=now + ttl)
            .returning(_TABLE.c.name)
        ).first()
        return renewed is not None

    def release(self, name: str, holder: str) -> None:
        self.s.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
