"""The keyed audit chains on a real SQLite database: what verification catches and what it says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from tmr.domain.artifact import ArtifactType, AuditAction, AuditEntry
from tmr.domain.security import SecurityAction, SecurityEvent
from tmr.storage.db.audit import (
    GENESIS,
    AuditRepository,
    SecurityLogRepository,
    checkpoint_mac,
    entry_hash,
    event_hash,
    legacy_entry_hash,
    prepare_chains,
)
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade
from tmr.storage.db.tables import AuditCheckpointRow, AuditRow, SecurityEventRow

KEY = b"k" * 32
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade(database.engine)
    prepare_chains(database, KEY)
    yield database
    database.engine.dispose()


def entry(n: int, **changes: object) -> AuditEntry:
    base = AuditEntry(
        artifact_id=f"a{n % 3}",
        artifact_name=f"model-{n}",
        artifact_type=ArtifactType.model,
        user_name="alice",
        user_is_admin=False,
        action=AuditAction.CREATE,
        at=T0 + timedelta(seconds=n),
        detail=f"detail {n}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def event(n: int, **changes: object) -> SecurityEvent:
    base = SecurityEvent(
        action=SecurityAction.LOGIN,
        actor="alice",
        subject="alice",
        at=T0 + timedelta(seconds=n),
        detail=f"login {n}",
        client="127.0.0.1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def append_entries(db: Database, count: int) -> None:
    for n in range(count):
        with db.transaction() as s:
            AuditRepository(s, KEY).append(entry(n))


def append_events(db: Database, count: int) -> None:
    for n in range(count):
        with db.transaction() as s:
            SecurityLogRepository(s, KEY).append(event(n))


def audit_report(db: Database, key: bytes = KEY):  # type: ignore[no-untyped-def]
    with db.read() as s:
        return AuditRepository(s, key).verify()


def security_report(db: Database, key: bytes = KEY):  # type: ignore[no-untyped-def]
    with db.read() as s:
        return SecurityLogRepository(s, key).verify()


# --- the links themselves -------------------------------------------------------------------


def test_every_field_of_an_entry_is_covered_by_its_link() -> None:
    original = entry_hash(KEY, GENESIS, entry(1))
    variants = [
        entry(1, artifact_id="other"),
        entry(1, artifact_name="other"),
        entry(1, artifact_type=ArtifactType.dataset),
        entry(1, user_name="mallory"),
        entry(1, user_is_admin=True),
        entry(1, action=AuditAction.DELETE),
        entry(1, at=T0 + timedelta(seconds=2)),
        entry(1, detail=None),
    ]
    hashes = {entry_hash(KEY, GENESIS, v) for v in variants}
    assert original not in hashes and len(hashes) == len(variants)
    assert entry_hash(KEY, "1" * 64, entry(1)) != original  # the previous link counts
    assert entry_hash(b"other key", GENESIS, entry(1)) != original  # so does the key
    assert legacy_entry_hash(GENESIS, entry(1)) != original
    assert len(original) == 64 and int(original, 16) >= 0


def test_every_field_of_a_security_event_is_covered_by_its_link() -> None:
    original = event_hash(KEY, GENESIS, event(1))
    variants = [
        event(1, action=SecurityAction.LOGOUT),
        event(1, actor="mallory"),
        event(1, subject="bob"),
        event(1, at=T0),
        event(1, detail=None),
        event(1, client=None),
    ]
    hashes = {event_hash(KEY, GENESIS, v) for v in variants}
    assert original not in hashes and len(hashes) == len(variants)
    assert event_hash(KEY, "1" * 64, event(1)) != original
    assert event_hash(b"other", GENESIS, event(1)) != original


def test_checkpoint_mac_covers_stream_count_base_and_head() -> None:
    original = checkpoint_mac(KEY, "artifacts", 3, GENESIS, "a" * 64)
    assert checkpoint_mac(KEY, "security", 3, GENESIS, "a" * 64) != original
    assert checkpoint_mac(KEY, "artifacts", 4, GENESIS, "a" * 64) != original
    assert checkpoint_mac(KEY, "artifacts", 3, "b" * 64, "a" * 64) != original
    assert checkpoint_mac(KEY, "artifacts", 3, GENESIS, "c" * 64) != original
    assert checkpoint_mac(b"x", "artifacts", 3, GENESIS, "a" * 64) != original


# --- the artifacts' chain -------------------------------------------------------------------


def test_an_untouched_chain_verifies_with_its_count_and_head(db: Database) -> None:
    assert audit_report(db).intact and audit_report(db).entries == 0
    append_entries(db, 5)
    report = audit_report(db)
    assert report.intact and report.problem is None
    assert report.entries == 5 and report.stream == "artifacts"
    with db.read() as s:
        rows = list(s.scalars(select(AuditRow).order_by(AuditRow.seq)))
        assert report.head == rows[-1].hash
        assert rows[0].prev_hash == GENESIS
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert AuditRepository(s, KEY).verify_chain() is None


@pytest.mark.parametrize(
    "column, value",
    [
        ("artifact_id", "forged"),
        ("artifact_name", "forged"),
        ("artifact_type", "code"),
        ("user_name", "mallory"),
        ("user_is_admin", True),
        ("action", "DELETE"),
        ("at", T0 + timedelta(days=1)),
        ("detail", "forged"),
    ],
)
def test_an_edited_entry_is_named(db: Database, column: str, value: object) -> None:
    append_entries(db, 4)
    with db.transaction() as s:
        s.execute(update(AuditRow).where(AuditRow.seq == 3).values({column: value}))
    report = audit_report(db)
    assert not report.intact
    assert report.problem == "entry 3 was altered (its MAC does not verify)"
    assert report.entries == 3
    with db.read() as s:
        assert AuditRepository(s, KEY).verify_chain() == 3


def test_an_entry_recomputed_without_the_key_does_not_verify(db: Database) -> None:
    append_entries(db, 3)
    with db.transaction() as s:
        row = s.scalars(select(AuditRow).where(AuditRow.seq == 2)).one()
        row.detail = "forged"
        row.hash = legacy_entry_hash(row.prev_hash, entry(1, detail="forged"))
    assert audit_report(db).problem == "entry 2 was altered (its MAC does not verify)"


def test_a_removed_middle_entry_is_named(db: Database) -> None:
    append_entries(db, 4)
    with db.transaction() as s:
        s.execute(delete(AuditRow).where(AuditRow.seq == 2))
    report = audit_report(db)
    assert report.problem == "entry 3: an entry before it was removed"
    assert report.entries == 2


def test_removing_the_last_entries_or_everything_is_caught_by_the_checkpoint(
    db: Database,
) -> None:
    append_entries(db, 4)
    with db.transaction() as s:
        s.execute(delete(AuditRow).where(AuditRow.seq == 4))
    report = audit_report(db)
    assert report.problem == (
        "the log holds 3 entries but its checkpoint says 4: "
        "entries were removed from the end or the table was emptied"
    )
    assert report.entries == 3
    with db.transaction() as s:
        s.execute(delete(AuditRow))
    assert "holds 0 entries but its checkpoint says 4" in (audit_report(db).problem or "")


def test_a_forged_checkpoint_or_a_missing_one_is_caught(db: Database) -> None:
    append_entries(db, 2)
    with db.transaction() as s:
        s.execute(
            update(AuditCheckpointRow)
            .where(AuditCheckpointRow.stream == "artifacts")
            .values(count=1)
        )
    assert audit_report(db).problem == "the checkpoint was altered (bad MAC)"
    with db.transaction() as s:
        s.execute(delete(AuditCheckpointRow).where(AuditCheckpointRow.stream == "artifacts"))
    assert audit_report(db).problem == "the checkpoint row is missing"


def test_the_wrong_key_verifies_nothing(db: Database) -> None:
    append_entries(db, 2)
    assert audit_report(db, b"not the key").problem == "the checkpoint was altered (bad MAC)"


def test_a_reset_restarts_the_chain_from_the_old_head(db: Database) -> None:
    append_entries(db, 3)
    head = audit_report(db).head
    with db.transaction() as s:
        dropped = AuditRepository(s, KEY).delete_all()
    assert dropped == (3, head)
    report = audit_report(db)
    assert report.intact and report.entries == 0 and report.head == head
    with db.transaction() as s:
        AuditRepository(s, KEY).append(entry(9))
    with db.read() as s:
        first = s.scalars(select(AuditRow)).one()
    assert first.prev_hash == head  # the new chain continues from the old head
    assert audit_report(db).intact and audit_report(db).entries == 1


def test_trails_per_artifact_and_recent_entries(db: Database) -> None:
    append_entries(db, 7)
    with db.transaction() as s:
        AuditRepository(s, KEY).append(entry(7, action=AuditAction.DOWNLOAD))
    with db.read() as s:
        repo = AuditRepository(s, KEY)
        trail = repo.for_artifact("a1")
        assert [e.artifact_name for e in trail] == ["model-1", "model-4", "model-7"]
        assert trail[-1].action is AuditAction.DOWNLOAD and trail[0].at == T0 + timedelta(seconds=1)
        assert [e.artifact_name for e in repo.for_artifact("a1", limit=2)] == [
            "model-1",
            "model-4",
        ]
        recent = repo.recent(T0 + timedelta(seconds=6))
        assert [e.artifact_name for e in recent] == ["model-6", "model-7"]
        downloads = repo.recent(T0, AuditAction.DOWNLOAD)
        assert [e.action for e in downloads] == [AuditAction.DOWNLOAD]


def test_an_unkeyed_log_is_adopted_once_and_a_broken_one_is_left_alone(
    tmp_path: Path,
) -> None:
    def legacy_db(name: str, break_it: bool) -> Database:
        database = Database(f"sqlite:///{tmp_path / name}")
        upgrade(database.engine)
        prev = GENESIS
        with database.transaction() as s:
            for n in range(3):
                e = entry(n)
                digest = legacy_entry_hash(prev, e)
                s.add(
                    AuditRow(
                        artifact_id=e.artifact_id,
                        artifact_name=e.artifact_name,
                        artifact_type=e.artifact_type.value,
                        user_name=e.user_name,
                        user_is_admin=e.user_is_admin,
                        action=e.action.value,
                        at=e.at,
                        detail="edited" if break_it and n == 1 else e.detail,
                        prev_hash=prev,
                        hash=digest,
                    )
                )
                prev = digest
        return database

    good = legacy_db("good.db", break_it=False)
    with good.transaction() as s:
        assert AuditRepository(s, KEY).adopt_legacy() is True
    report = audit_report(good)
    assert report.intact and report.entries == 3
    with good.transaction() as s:
        assert AuditRepository(s, KEY).adopt_legacy() is False  # once only

    bad = legacy_db("bad.db", break_it=True)
    with bad.transaction() as s:
        assert AuditRepository(s, KEY).adopt_legacy() is False
    assert audit_report(bad).problem == "the checkpoint row is missing"


def test_prepare_chains_is_idempotent(db: Database) -> None:
    append_entries(db, 2)
    prepare_chains(db, KEY)
    prepare_chains(db, KEY)
    assert audit_report(db).intact and audit_report(db).entries == 2
    with db.read() as s:
        assert len(list(s.scalars(select(AuditCheckpointRow)))) == 2


# --- the security log -----------------------------------------------------------------------


def test_the_security_log_verifies_and_names_edits_and_removals(db: Database) -> None:
    append_events(db, 4)
    report = security_report(db)
    assert report.intact and report.entries == 4 and report.stream == "security"
    with db.transaction() as s:
        s.execute(update(SecurityEventRow).where(SecurityEventRow.seq == 2).values(actor="bob"))
    assert security_report(db).problem == "entry 2 was altered (its MAC does not verify)"
    with db.transaction() as s:
        s.execute(delete(SecurityEventRow).where(SecurityEventRow.seq == 2))
    assert security_report(db).problem == "entry 3: an entry before it was removed"


def test_security_events_are_truncated_before_they_are_chained(db: Database) -> None:
    with db.transaction() as s:
        SecurityLogRepository(s, KEY).append(
            event(1, actor="a" * 300, subject="s" * 600, client="c" * 80)
        )
    with db.read() as s:
        (stored,) = SecurityLogRepository(s, KEY).page()
    assert (len(stored.actor), len(stored.subject), len(stored.client or "")) == (256, 512, 64)
    assert security_report(db).intact


def test_security_log_pages_filters_and_counts(db: Database) -> None:
    append_events(db, 5)
    with db.transaction() as s:
        SecurityLogRepository(s, KEY).append(event(5, action=SecurityAction.LOGOUT))
    with db.read() as s:
        repo = SecurityLogRepository(s, KEY)
        assert repo.count() == 6
        first = repo.page(limit=2)
        assert [e.detail for e in first] == ["login 0", "login 1"]
        after = repo.page(after=first[-1].seq or 0, limit=10)
        assert [e.detail for e in after] == ["login 2", "login 3", "login 4", "login 5"]
        assert [e.action for e in repo.page(action=SecurityAction.LOGOUT)] == [
            SecurityAction.LOGOUT
        ]
        assert after[0].client == "127.0.0.1" and after[0].at == T0 + timedelta(seconds=2)
