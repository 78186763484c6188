"""Repository for request activity: one row per flushed batch of one API process."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from tmr.domain.activity import RequestRecord
from tmr.storage.db.tables import ActivityBatchRow


class ActivityRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def append(self, replica: str, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        packed = [
            [r.at, r.method, r.route, r.status, round(r.latency_ms, 3), r.artifact_type, r.client]
            for r in records
        ]
        self.s.execute(
            insert(ActivityBatchRow).values(
                replica=replica[:64],
                first_at=min(r.at for r in records),
                last_at=max(r.at for r in records),
                count=len(records),
                records=json.dumps(packed, separators=(",", ":")),
            )
        )

    def since(self, cutoff: float) -> list[RequestRecord]:
        rows = self.s.execute(
            select(ActivityBatchRow.replica, ActivityBatchRow.records)
            .where(ActivityBatchRow.last_at >= cutoff)
            .order_by(ActivityBatchRow.seq)
        )
        out: list[RequestRecord] = []
        for replica, records in rows:
            out += [
                RequestRecord(at, method, route, status, latency, kind, client, replica)
                for at, method, route, status, latency, kind, client in json.loads(records)
                if at >= cutoff
            ]
        return out

    def prune(self, cutoff: float, keep_records: int) -> None:
        """Drop batches older than ``cutoff``, and those older than the newest ``keep_records``
        records (the batch that crosses the bound stays whole)."""
        self.s.execute(delete(ActivityBatchRow).where(ActivityBatchRow.last_at < cutoff))
        kept = 0
        for seq, count in self.s.execute(
            select(ActivityBatchRow.seq, ActivityBatchRow.count).order_by(
                ActivityBatchRow.seq.desc()
            )
        ):
            kept += count
            if kept > keep_records:
                self.s.execute(delete(ActivityBatchRow).where(ActivityBatchRow.seq < seq))
                break
