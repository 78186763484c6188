"""What the search index reads: the compact search texts and the registry's change log.

The index (services/search.py) never loads snapshots. It reads ``(seq, id, name, type,
search_text)`` in batches at start-up, then follows the artifacts audit chain, which every
registration, update and delete appends to in the same transaction as the change, serialised
(one writer on SQLite, an advisory lock on PostgreSQL), so its order is the commit order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tmr.storage.db.audit import ARTIFACTS, GENESIS
from tmr.storage.db.tables import ArtifactRow, AuditCheckpointRow, AuditRow


@dataclass(frozen=True)
class RegistryVersion:
    """Changes whenever an artifact is added, updated or deleted, or the registry is reset."""

    chain_count: int  # entries in the artifacts audit chain
    chain_base: str  # changes on a reset (the chain restarts from its old head)
    chain_head: str  # changes on every entry
    top_seq: int  # highest artifact row: catches rows written without an audit entry


@dataclass(frozen=True)
class SearchRow:
    seq: int
    id: str
    name: str
    type: str
    text: str


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    artifact_id: str
    action: str
    prev_hash: str
    hash: str


_COLUMNS = (ArtifactRow.seq, ArtifactRow.id, ArtifactRow.name, ArtifactRow.type)


class SearchRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def version(self) -> RegistryVersion:
        """One small query: the chain's checkpoint row and the highest artifact seq."""
        top = select(func.max(ArtifactRow.seq)).scalar_subquery()
        row = self.s.execute(
            select(
                AuditCheckpointRow.count, AuditCheckpointRow.base, AuditCheckpointRow.head, top
            ).where(AuditCheckpointRow.stream == ARTIFACTS)
        ).first()
        if row is None:  # no chain yet (a database migrated but never opened by a registry)
            top_seq = self.s.scalar(select(func.max(ArtifactRow.seq)))
            return RegistryVersion(0, GENESIS, GENESIS, int(top_seq or 0))
        count, base, head, top_seq = row
        return RegistryVersion(int(count), str(base), str(head), int(top_seq or 0))

    def last_entry(self) -> tuple[int, str] | None:
        """(seq, hash) of the newest entry of the artifacts chain, if any."""
        row = self.s.execute(
            select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
        ).first()
        return (int(row[0]), str(row[1])) if row else None

    def entries_after(self, seq: int) -> list[ChainEntry]:
        rows = self.s.execute(
            select(
                AuditRow.seq, AuditRow.artifact_id, AuditRow.action, AuditRow.prev_hash,
                AuditRow.hash,
            )  # fmt: skip
            .where(AuditRow.seq > seq)
            .order_by(AuditRow.seq)
        )
        return [ChainEntry(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def rows_after(self, seq: int, limit: int) -> list[SearchRow]:
        """Up to ``limit`` rows past ``seq``, in seq order (for loading in batches)."""
        rows = self.s.execute(
            select(*_COLUMNS, ArtifactRow.search_text)
            .where(ArtifactRow.seq > seq)
            .order_by(ArtifactRow.seq)
            .limit(limit)
        )
        return [SearchRow(int(r[0]), r[1], r[2], r[3], r[4] or "") for r in rows]

    def rows_for(self, artifact_ids: Sequence[str]) -> list[SearchRow]:
        """The rows of those ids that exist (one query per 500 ids)."""
        found: list[SearchRow] = []
        for k in range(0, len(artifact_ids), 500):
            chunk = list(artifact_ids[k : k + 500])
            rows = self.s.execute(
                select(*_COLUMNS, ArtifactRow.search_text).where(ArtifactRow.id.in_(chunk))
            )
            found.extend(SearchRow(int(r[0]), r[1], r[2], r[3], r[4] or "") for r in rows)
        return found
