"""The registry version (storage/db/versions.py) moves exactly when a transaction that changes
what the read caches hold commits, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tmr.domain.artifact import User
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade
from tmr.storage.db.users import UserRepository
from tmr.storage.db.versions import changed_table, read_version


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'v.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    database = Database(url)
    upgrade(database.engine)
    yield database
    database.dispose()


def _number(db: Database) -> int:
    with db.read() as s:
        return read_version(s)


def test_watched_writes_bump_it_once_per_transaction_and_others_do_not(db: Database) -> None:
    start, local = _number(db), db.writes.local_commits
    with db.transaction() as s:  # two watched writes, one transaction: one bump
        users = UserRepository(s)
        users.upsert(User("v-one", False, frozenset({"search"})), "hash")
        users.upsert(User("v-two", False, frozenset({"search"})), "hash")
    assert _number(db) == start + 1 and db.writes.local_commits == local + 1

    with db.transaction() as s:  # a token row only: not something a read cache holds
        UserRepository(s).add_token("d" * 64, "v-one", datetime.now(UTC), 10)
    with db.read() as s:
        UserRepository(s).get("v-one")
    assert _number(db) == start + 1 and db.writes.local_commits == local + 1

    with pytest.raises(RuntimeError), db.transaction() as s:  # rolled back: nothing moves
        UserRepository(s).upsert(User("v-three", False, frozenset()), "hash")
        raise RuntimeError("abandon")
    assert _number(db) == start + 1 and db.writes.local_commits == local + 1


def test_the_tag_reads_the_number_only_when_it_is_due(db: Database) -> None:
    db.version.staleness = 60.0
    first = db.version.current()
    assert db.version.tag() == first
    with db.transaction() as s:
        UserRepository(s).upsert(User("v-four", False, frozenset()), "hash")
    moved = db.version.tag()  # this process's own commit shows at once, without a read
    assert moved is not None and moved != first
    db.version.staleness = 0.0
    assert db.version.tag() is None  # due: the caller reads it
    assert db.version.poll()[0] == first[0] + 1


def test_statements_are_classified_by_the_table_they_write() -> None:
    assert changed_table('INSERT INTO artifacts (id) VALUES (?)') == "artifacts"
    assert changed_table('INSERT OR REPLACE INTO "users" (name) VALUES (?)') == "users"
    assert changed_table("UPDATE artifact_status SET state=?") == "artifact_status"
    assert changed_table("DELETE FROM file_scans WHERE artifact_id = ?") == "file_scans"
    assert changed_table("SELECT * FROM artifacts") is None
