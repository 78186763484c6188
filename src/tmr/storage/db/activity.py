"""Repository for request activity: the rows every API process appends in batches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from tmr.domain.activity import RequestRecord
from tmr.storage.db.tables import RequestActivityRow

_COLUMNS = (
    RequestActivityRow.at,
    RequestActivityRow.method,
    RequestActivityRow.route,
    RequestActivityRow.status,
    RequestActivityRow.latency_ms,
    RequestActivityRow.artifact_type,
    RequestActivityRow.client,
    RequestActivityRow.replica,
)


class ActivityRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def append(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        self.s.execute(
            insert(RequestActivityRow),
            [
                {
                    "at": r.at,
                    "replica": r.replica[:64],
                    "method": r.method[:8],
                    "route": r.route[:256],
                    "status": r.status,
                    "latency_ms": r.latency_ms,
                    "artifact_type": r.artifact_type,
                    "client": (r.client or None) and r.client[:64],
                }
                for r in records
            ],
        )

    def since(self, cutoff: float) -> list[RequestRecord]:
        rows = self.s.execute(
            select(*_COLUMNS).where(RequestActivityRow.at >= cutoff).order_by(
                RequestActivityRow.seq
            )
        )
        return [RequestRecord(*row) for row in rows]

    def prune(self, cutoff: float, keep_rows: int) -> None:
        """Drop rows older than ``cutoff`` and all but the newest ``keep_rows``."""
        self.s.execute(delete(RequestActivityRow).where(RequestActivityRow.at < cutoff))
        newest = self.s.scalar(select(func.max(RequestActivityRow.seq)))
        if newest is not None and newest > keep_rows:
            self.s.execute(
                delete(RequestActivityRow).where(RequestActivityRow.seq <= newest - keep_rows)
            )
