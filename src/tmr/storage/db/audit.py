"""Repository for the audit trail: an append-only, hash-chained log.

Each entry's hash covers its content and the previous entry's hash, so editing or removing a past
entry breaks every later hash; ``verify_chain`` finds the first broken link.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tmr.domain.artifact import ArtifactType, AuditAction, AuditEntry
from tmr.storage.db.artifacts import as_utc
from tmr.storage.db.tables import AuditRow

GENESIS = "0" * 64


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    material = "\x1f".join(
        [
            prev_hash,
            entry.artifact_id,
            entry.artifact_name,
            entry.artifact_type.value,
            entry.user_name,
            "1" if entry.user_is_admin else "0",
            entry.action.value,
            as_utc(entry.at).isoformat(),
            entry.detail or "",
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _to_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        artifact_id=row.artifact_id,
        artifact_name=row.artifact_name,
        artifact_type=ArtifactType(row.artifact_type),
        user_name=row.user_name,
        user_is_admin=row.user_is_admin,
        action=AuditAction(row.action),
        at=as_utc(row.at),
        detail=row.detail,
    )


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def append(self, entry: AuditEntry) -> None:
        # Serialise appenders on PostgreSQL so two writers never chain onto the same parent.
        if self.s.bind is not None and self.s.bind.dialect.name == "postgresql":
            from sqlalchemy import text

            self.s.execute(text("SELECT pg_advisory_xact_lock(730861)"))
        prev = self.s.scalar(select(AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1))
        prev_hash = prev or GENESIS
        self.s.add(
            AuditRow(
                artifact_id=entry.artifact_id,
                artifact_name=entry.artifact_name,
                artifact_type=entry.artifact_type.value,
                user_name=entry.user_name,
                user_is_admin=entry.user_is_admin,
                action=entry.action.value,
                at=entry.at,
                detail=entry.detail,
                prev_hash=prev_hash,
                hash=entry_hash(prev_hash, entry),
            )
        )
        self.s.flush()

    def for_artifact(self, artifact_id: str, limit: int = 10000) -> list[AuditEntry]:
        rows = self.s.scalars(
            select(AuditRow)
            .where(AuditRow.artifact_id == artifact_id)
            .order_by(AuditRow.seq)
            .limit(limit)
        )
        return [_to_entry(r) for r in rows]

    def recent(self, since: datetime, action: AuditAction | None = None) -> list[AuditEntry]:
        stmt = select(AuditRow).where(AuditRow.at >= since)
        if action is not None:
            stmt = stmt.where(AuditRow.action == action.value)
        return [_to_entry(r) for r in self.s.scalars(stmt.order_by(AuditRow.seq))]

    def verify_chain(self) -> int | None:
        """The seq of the first entry whose hash does not verify, or None when all do."""
        prev_hash = GENESIS
        for row in self.s.scalars(select(AuditRow).order_by(AuditRow.seq)):
            if row.prev_hash != prev_hash or row.hash != entry_hash(prev_hash, _to_entry(row)):
                return row.seq
            prev_hash = row.hash
        return None

    def delete_all(self) -> None:
        self.s.execute(delete(AuditRow))
