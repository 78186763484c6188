"""Repository for the protections: scan verdicts, lifecycle/sensitivity, monitors, download
history and search/view appearances."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from tmr.domain.protections import (
    ArtifactStatus,
    DownloadEvent,
    FileScan,
    InterestEvent,
    LifecycleState,
    Monitor,
)
from tmr.storage.db.artifacts import as_utc
from tmr.storage.db.tables import (
    ArtifactRow,
    ArtifactStatusRow,
    DownloadEventRow,
    FileScanRow,
    InterestEventRow,
    MonitorRow,
)


def _status(row: ArtifactStatusRow) -> ArtifactStatus:
    return ArtifactStatus(
        artifact_id=row.artifact_id,
        state=LifecycleState(row.state),
        reason=row.reason,
        changed_by=row.changed_by,
        changed_at=as_utc(row.changed_at) if row.changed_at else None,
        sensitive=row.sensitive,
    )


_INTEREST: Table = InterestEventRow.__table__  # type: ignore[assignment]  # Core executemany

class ProtectionRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # --- scans --------------------------------------------------------------------------
    def set_scans(self, artifact_id: str, scans: Iterable[FileScan]) -> None:
        for scan in scans:
            self.s.merge(
                FileScanRow(
                    artifact_id=artifact_id,
                    path=scan.path,
                    verdict=scan.verdict,
                    detail=json.dumps(scan.detail),
                    scanned_at=scan.scanned_at,
                )
            )
        self.s.flush()

    def scans(self, artifact_id: str) -> list[FileScan]:
        rows = self.s.execute(
            select(
                FileScanRow.path, FileScanRow.verdict, FileScanRow.detail, FileScanRow.scanned_at
            )
            .where(FileScanRow.artifact_id == artifact_id)
            .order_by(FileScanRow.path)
        )
        return [FileScan(p, v, json.loads(d), as_utc(at)) for p, v, d, at in rows]

    # --- lifecycle and sensitivity --------------------------------------------------------
    def status(self, artifact_id: str) -> ArtifactStatus:
        t = ArtifactStatusRow
        row = self.s.execute(
            select(t.state, t.reason, t.changed_by, t.changed_at, t.sensitive).where(
                t.artifact_id == artifact_id
            )
        ).first()
        if row is None:
            return ArtifactStatus(artifact_id)
        state, reason, by, at, sensitive = row
        return ArtifactStatus(
            artifact_id, LifecycleState(state), reason, by, as_utc(at) if at else None, sensitive
        )

    def statuses(self, artifact_ids: Sequence[str]) -> dict[str, ArtifactStatus]:
        if not artifact_ids:
            return {}
        rows = self.s.scalars(
            select(ArtifactStatusRow).where(ArtifactStatusRow.artifact_id.in_(list(artifact_ids)))
        )
        return {r.artifact_id: _status(r) for r in rows}

    def not_active(self) -> dict[str, ArtifactStatus]:
        rows = self.s.scalars(
            select(ArtifactStatusRow).where(ArtifactStatusRow.state != LifecycleState.active.value)
        )
        return {r.artifact_id: _status(r) for r in rows}

    def set_state(
        self, artifact_id: str, state: LifecycleState, reason: str, by: str
    ) -> ArtifactStatus:
        row = self.s.get(ArtifactStatusRow, artifact_id)
        if row is None:
            row = ArtifactStatusRow(artifact_id=artifact_id, sensitive=False)
            self.s.add(row)
        row.state = state.value
        row.reason = reason
        row.changed_by = by
        row.changed_at = datetime.now(UTC)
        self.s.flush()
        return _status(row)

    def set_sensitive(self, artifact_id: str, sensitive: bool) -> ArtifactStatus:
        row = self.s.get(ArtifactStatusRow, artifact_id)
        if row is None:
            row = ArtifactStatusRow(
                artifact_id=artifact_id, state=LifecycleState.active.value, reason=""
            )
            self.s.add(row)
        row.sensitive = sensitive
        self.s.flush()
        return _status(row)

    # --- monitors -----------------------------------------------------------------------
    def monitor(self, artifact_id: str) -> Monitor | None:
        row = self.s.get(MonitorRow, artifact_id)
        if row is None:
            return None
        return Monitor(
            row.artifact_id, row.program, row.sha256, row.uploaded_by, as_utc(row.uploaded_at)
        )

    def set_monitor(self, monitor: Monitor) -> None:
        self.s.merge(
            MonitorRow(
                artifact_id=monitor.artifact_id,
                program=monitor.program,
                sha256=monitor.sha256,
                uploaded_by=monitor.uploaded_by,
                uploaded_at=monitor.uploaded_at,
            )
        )
        self.s.flush()

    def delete_monitor(self, artifact_id: str) -> bool:
        result = self.s.execute(delete(MonitorRow).where(MonitorRow.artifact_id == artifact_id))
        return bool(getattr(result, "rowcount", 0))

    # --- download history and interest ---------------------------------------------------
    def add_download(self, event: DownloadEvent) -> None:
        self.s.add(
            DownloadEventRow(
                artifact_id=event.artifact_id,
                user_name=event.user_name,
                at=event.at,
                part=event.part[:1100],
                allowed=event.allowed,
                reason=event.reason,
                exit_code=event.exit_code,
                first_line=event.first_line,
            )
        )
        self.s.flush()

    def downloads(self, artifact_id: str | None = None, limit: int = 10000) -> list[DownloadEvent]:
        stmt = select(DownloadEventRow)
        if artifact_id is not None:
            stmt = stmt.where(DownloadEventRow.artifact_id == artifact_id)
        rows = self.s.scalars(stmt.order_by(DownloadEventRow.seq.desc()).limit(limit))
        out = [
            DownloadEvent(
                r.artifact_id,
                r.user_name,
                as_utc(r.at),
                r.part,
                r.allowed,
                r.reason,
                r.exit_code,
                r.first_line,
            )
            for r in rows
        ]
        out.reverse()
        return out

    def add_interest(self, events: Iterable[InterestEvent]) -> None:
        # One Core executemany on the table, not ORM objects nor the ORM's bulk path: a batch of
        # 500 through the unit of work held the GIL for tens of milliseconds while reads queued
        # (issue 10's read tail), and the bulk path was still 5 % of the read profile.
        rows = [
            {"artifact_id": e.artifact_id, "user_name": e.user_name, "kind": e.kind, "at": e.at}
            for e in events
        ]
        if rows:
            self.s.execute(insert(_INTEREST), rows)

    def artifact_index(self) -> list[tuple[str, str, str, datetime, str | None, str | None]]:
        """(id, name, type, created_at, created_by, hub_key) of every artifact."""
        rows = self.s.execute(
            select(
                ArtifactRow.id,
                ArtifactRow.name,
                ArtifactRow.type,
                ArtifactRow.created_at,
                ArtifactRow.created_by,
                ArtifactRow.hub_key,
            ).order_by(ArtifactRow.seq)
        )
        return [(a, n, t, as_utc(c), b, h) for a, n, t, c, b, h in rows]

    def interest(self, limit: int = 500_000) -> list[InterestEvent]:
        rows = self.s.scalars(
            select(InterestEventRow).order_by(InterestEventRow.seq.desc()).limit(limit)
        )
        out = [InterestEvent(r.artifact_id, r.user_name, r.kind, as_utc(r.at)) for r in rows]
        out.reverse()
        return out
