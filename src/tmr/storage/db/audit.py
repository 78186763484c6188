"""Repositories for the two audit chains: the artifacts' trails and the security log.

Both are append-only and keyed: each entry's ``hash`` is HMAC-SHA256(key, previous hash ‖ the
entry's fields), with the key in a secret file outside the database (``TMR_AUDIT_KEY_FILE``).
Someone who can write the database but not read the key cannot edit an entry and recompute the
chain. Each chain also has a checkpoint row (entry count, the chain's base and head, MACed with
the same key), advanced in the same transaction as every append, so removing the last entries or
emptying a table no longer matches the checkpoint. A reset empties the artifacts' chain but not
its history: the new base is the old head, and the security log (never reset) records it.

Verification only reads (``tmr audit-verify`` opens the database read-only).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tmr.domain.artifact import ArtifactType, AuditAction, AuditEntry
from tmr.domain.security import SecurityAction, SecurityEvent
from tmr.storage.db.artifacts import as_utc
from tmr.storage.db.engine import Database
from tmr.storage.db.tables import AuditCheckpointRow, AuditRow, SecurityEventRow

GENESIS = "0" * 64
ARTIFACTS = "artifacts"
SECURITY = "security"
_LOCKS = {ARTIFACTS: 730861, SECURITY: 730862}


def _mac(key: bytes, parts: Iterable[str]) -> str:
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def _entry_fields(prev_hash: str, entry: AuditEntry) -> list[str]:
    """What an entry's link in the chain covers, in order (both chain formats)."""
    return [
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


def entry_hash(key: bytes, prev_hash: str, entry: AuditEntry) -> str:
    return _mac(key, _entry_fields(prev_hash, entry))


def legacy_entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    """The unkeyed SHA-256 of logs written before the chain was keyed (adopted once)."""
    material = "\x1f".join(_entry_fields(prev_hash, entry))
    return hashlib.sha256(material.encode()).hexdigest()


def event_hash(key: bytes, prev_hash: str, event: SecurityEvent) -> str:
    return _mac(
        key,
        [
            "security",
            prev_hash,
            event.action.value,
            event.actor,
            event.subject,
            as_utc(event.at).isoformat(),
            event.detail or "",
            event.client or "",
        ],
    )


def checkpoint_mac(key: bytes, stream: str, count: int, base: str, head: str) -> str:
    return _mac(key, ["checkpoint", stream, str(count), base, head])


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


def _to_event(row: SecurityEventRow) -> SecurityEvent:
    return SecurityEvent(
        action=SecurityAction(row.action),
        actor=row.actor,
        subject=row.subject,
        at=as_utc(row.at),
        detail=row.detail,
        client=row.client,
        seq=row.seq,
    )


@dataclass(frozen=True)
class ChainReport:
    stream: str
    entries: int
    head: str
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


class _Chain:
    """What both chains share: serialised appends and the MACed checkpoint."""

    stream = ""

    def __init__(self, session: Session, key: bytes) -> None:
        self.s = session
        self.key = key

    def _lock(self) -> None:
        # Serialise appenders on PostgreSQL so two writers never chain onto the same parent
        # (SQLite has one writer at a time anyway).
        if self.s.bind is not None and self.s.bind.dialect.name == "postgresql":
            self.s.execute(text(f"SELECT pg_advisory_xact_lock({_LOCKS[self.stream]})"))

    def _checkpoint(self) -> AuditCheckpointRow:
        row = self.s.get(AuditCheckpointRow, self.stream)
        if row is None:
            row = AuditCheckpointRow(stream=self.stream, count=0, base=GENESIS, head=GENESIS)
            row.mac = checkpoint_mac(self.key, self.stream, 0, GENESIS, GENESIS)
            self.s.add(row)
            self.s.flush()
        return row

    def _advance(self, head: str, by: int = 1) -> None:
        row = self._checkpoint()
        row.count += by
        row.head = head
        row.mac = checkpoint_mac(self.key, self.stream, row.count, row.base, row.head)

    def _restart(self) -> tuple[int, str]:
        """Empty the chain on purpose (a reset): the new base is the old head."""
        row = self._checkpoint()
        dropped = (row.count, row.head)
        row.count, row.base = 0, row.head
        row.mac = checkpoint_mac(self.key, self.stream, 0, row.base, row.head)
        return dropped

    def ensure_checkpoint(self) -> None:
        self._lock()  # replicas starting together must not both insert the row
        self._checkpoint()

    def _check(self, hashes: Iterator[tuple[int, str, str, str]]) -> ChainReport:
        """hashes: (seq, stored prev, stored hash, recomputed hash) in order."""
        cp = self.s.get(AuditCheckpointRow, self.stream)
        if cp is None:
            return ChainReport(self.stream, 0, GENESIS, "the checkpoint row is missing")
        if not hmac.compare_digest(
            cp.mac, checkpoint_mac(self.key, self.stream, cp.count, cp.base, cp.head)
        ):
            return ChainReport(self.stream, 0, GENESIS, "the checkpoint was altered (bad MAC)")
        prev, count = cp.base, 0
        for seq, stored_prev, stored, recomputed in hashes:
            count += 1
            if stored_prev != prev:
                return ChainReport(
                    self.stream, count, prev, f"entry {seq}: an entry before it was removed"
                )
            if not hmac.compare_digest(stored, recomputed):
                return ChainReport(
                    self.stream, count, prev, f"entry {seq} was altered (its MAC does not verify)"
                )
            prev = stored
        if count != cp.count or prev != cp.head:
            return ChainReport(
                self.stream,
                count,
                prev,
                f"the log holds {count} entries but its checkpoint says {cp.count}: "
                "entries were removed from the end or the table was emptied",
            )
        return ChainReport(self.stream, count, prev)


class AuditRepository(_Chain):
    """The artifacts' audit trails (the contract's ``/artifact/{type}/{id}/audit``)."""

    stream = ARTIFACTS

    def append(self, entry: AuditEntry) -> None:
        self.append_many([entry])

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """``append`` for each entry, in order, with one checkpoint update and one flush (the
        download records' group commit writes a batch at a time)."""
        if not entries:
            return
        self._lock()
        prev_hash = self._checkpoint().head
        rows = []
        for entry in entries:
            digest = entry_hash(self.key, prev_hash, entry)
            rows.append(
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
                    hash=digest,
                )
            )
            prev_hash = digest
        for row in rows:  # one by one: the rows' sequence numbers follow the chain's order
            self.s.add(row)
        self._advance(prev_hash, by=len(rows))
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

    def verify(self) -> ChainReport:
        def hashes() -> Iterator[tuple[int, str, str, str]]:
            for row in self.s.scalars(select(AuditRow).order_by(AuditRow.seq)):
                yield (
                    row.seq,
                    row.prev_hash,
                    row.hash,
                    entry_hash(self.key, row.prev_hash, _to_entry(row)),
                )

        return self._check(hashes())

    def verify_chain(self) -> int | None:
        """The seq of the first entry that does not verify (kept for older callers)."""
        report = self.verify()
        if report.intact:
            return None
        return report.entries or 1

    def delete_all(self) -> tuple[int, str]:
        """Empty the trails (a reset); (entries dropped, their head) for the security log."""
        self._lock()
        self.s.execute(delete(AuditRow))
        return self._restart()

    def adopt_legacy(self) -> bool:
        """Re-seal an unkeyed log (written before keys) once, if it verifies as it is."""
        self._lock()
        if self.s.get(AuditCheckpointRow, self.stream) is not None:
            return False
        rows = list(self.s.scalars(select(AuditRow).order_by(AuditRow.seq)))
        prev = GENESIS
        for row in rows:
            if row.prev_hash != prev or row.hash != legacy_entry_hash(prev, _to_entry(row)):
                return False  # leave it: verification reports it
            prev = row.hash
        prev = GENESIS
        for row in rows:
            row.prev_hash = prev
            row.hash = entry_hash(self.key, prev, _to_entry(row))
            prev = row.hash
        self._checkpoint()
        self._advance(prev, by=len(rows))
        self.s.flush()
        return True


class SecurityLogRepository(_Chain):
    """Security events; never emptied, not even by a reset."""

    stream = SECURITY

    def append(self, event: SecurityEvent) -> None:
        event = replace(
            event,
            actor=event.actor[:256],
            subject=event.subject[:512],
            client=event.client[:64] if event.client else None,
        )
        self._lock()
        prev_hash = self._checkpoint().head
        digest = event_hash(self.key, prev_hash, event)
        self.s.add(
            SecurityEventRow(
                at=event.at,
                action=event.action.value,
                actor=event.actor,
                subject=event.subject,
                detail=event.detail,
                client=event.client,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        self._advance(digest)
        self.s.flush()

    def page(
        self, after: int = 0, limit: int = 100, action: SecurityAction | None = None
    ) -> list[SecurityEvent]:
        stmt = select(SecurityEventRow).where(SecurityEventRow.seq > after)
        if action is not None:
            stmt = stmt.where(SecurityEventRow.action == action.value)
        rows = self.s.scalars(stmt.order_by(SecurityEventRow.seq).limit(limit))
        return [_to_event(r) for r in rows]

    def count(self) -> int:
        return int(self.s.scalar(select(func.count()).select_from(SecurityEventRow)) or 0)

    def verify(self) -> ChainReport:
        def hashes() -> Iterator[tuple[int, str, str, str]]:
            for row in self.s.scalars(select(SecurityEventRow).order_by(SecurityEventRow.seq)):
                event = _to_event(row)
                yield row.seq, row.prev_hash, row.hash, event_hash(self.key, row.prev_hash, event)

        return self._check(hashes())


def prepare_chains(db: Database, key: bytes) -> None:
    """At start-up: adopt an unkeyed log once and make sure both checkpoints exist.

    Processes starting together may race to insert a checkpoint (SQLite takes its write lock
    only at the first write); the loser finds the winner's row on its second try.
    """
    for attempt in range(3):
        try:
            with db.transaction() as s:
                audit = AuditRepository(s, key)
                audit.adopt_legacy()
                audit.ensure_checkpoint()
                SecurityLogRepository(s, key).ensure_checkpoint()
            return
        except IntegrityError:
            if attempt == 2:
                raise
