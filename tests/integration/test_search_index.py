"""The search index follows the database: incrementally, across processes, on both backends.

Two ``SearchIndex`` objects on one database stand in for two replicas (each has its own engine
and index). Writes go through the same repositories and audit chain the services use, in one
transaction each, as registration, update, delete and reset do.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tmr.domain.artifact import Artifact, ArtifactType, AuditAction, AuditEntry, User
from tmr.domain.snapshot import Snapshot
from tmr.services.search import SearchIndex
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository, prepare_chains
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade

KEY = b"k" * 32
ADMIN = User(name="admin", is_admin=True)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def dbs(db_url: str) -> Iterator[tuple[Database, Database]]:
    a, b = Database(db_url), Database(db_url)
    upgrade(a.engine)
    prepare_chains(a, KEY)
    yield a, b
    a.dispose()
    b.dispose()


def _artifact(artifact_id: str, name: str) -> Artifact:
    now = datetime.now(UTC)
    return Artifact(
        id=artifact_id, name=name, type=ArtifactType("model"), url=f"https://example.com/{name}",
        created_at=now, updated_at=now, size_bytes=1, version=None, created_by="admin",
    )  # fmt: skip


def _snapshot(name: str) -> Snapshot:
    return Snapshot(source="web", url=f"https://example.com/{name}")


def register(db: Database, artifact_id: str, name: str, readme: str) -> None:
    artifact = _artifact(artifact_id, name)
    with db.transaction() as s:
        ArtifactRepository(s).add(
            artifact, source="web", hub_key=None, snapshot=_snapshot(name),
            search_text=f"{name}\n{readme}",
        )  # fmt: skip
        AuditRepository(s, KEY).append(AuditEntry.now(artifact, ADMIN, AuditAction.CREATE))


def update(db: Database, artifact_id: str, name: str, readme: str) -> None:
    with db.transaction() as s:
        ArtifactRepository(s).replace_contents(
            artifact_id, url="https://example.com/new", source="web", hub_key=None, version=None,
            size_bytes=1, snapshot=_snapshot(name), search_text=f"{name}\n{readme}",
        )  # fmt: skip
        entry = AuditEntry.now(_artifact(artifact_id, name), ADMIN, AuditAction.UPDATE)
        AuditRepository(s, KEY).append(entry)


def delete(db: Database, artifact_id: str) -> None:
    with db.transaction() as s:
        repo = ArtifactRepository(s)
        artifact = repo.get_or_404(artifact_id)
        repo.delete(artifact_id)
        AuditRepository(s, KEY).append(AuditEntry.now(artifact, ADMIN, AuditAction.DELETE))


def reset(db: Database) -> None:
    with db.transaction() as s:
        ArtifactRepository(s).delete_all()
        AuditRepository(s, KEY).delete_all()


def ids(index: SearchIndex, pattern: str) -> list[str]:
    return [h.id for h in index.search(pattern)]


def test_updates_and_deletes_are_applied_incrementally_and_seen_by_every_replica(dbs):
    db_a, db_b = dbs
    for i in range(40):
        register(db_a, f"a{i:03d}", f"model-{i}", f"an ordinary card number {i}")
    register(db_a, "bert", "bert-base", "BERT: a transformer encoder")
    one, two = SearchIndex(db_a), SearchIndex(db_b)
    assert ids(one, "(?i)transformer") == ids(two, "(?i)transformer") == ["bert"]
    assert len(ids(two, "ordinary card")) == 40

    # an update made through replica one: both answer from the new text, neither rebuilds
    update(db_a, "bert", "bert-base", "now a whisper speech model")
    for index in (one, two):
        assert ids(index, "(?i)transformer") == []
        assert ids(index, "whisper speech") == ["bert"]
        assert ids(index, "^bert-base$") == ["bert"]  # the name alone, anchored at both ends
    # a delete and a registration through replica two
    delete(db_b, "a007")
    register(db_b, "new", "fresh-model", "a fresh transformer")
    for index in (one, two):
        assert "a007" not in ids(index, "ordinary card")
        assert len(ids(index, "ordinary card")) == 39
        assert ids(index, "(?i)TRANSFORMER") == ["new"]
        assert ids(index, "card number 7$") == []
        assert ids(index, "card number 17$") == ["a017"]
    assert (one.builds, two.builds) == (1, 1)  # built once at start; the rest was incremental


def test_a_reset_empties_the_index_and_new_registrations_follow(dbs):
    db_a, db_b = dbs
    register(db_a, "x1", "first", "some text about llamas")
    index = SearchIndex(db_b)
    assert ids(index, "llamas") == ["x1"]
    reset(db_a)
    register(db_a, "x2", "second", "more about llamas")  # chains onto the old head
    assert ids(index, "llamas") == ["x2"]
    assert ids(index, "first") == []


def test_repeated_queries_are_answered_from_the_cache_until_the_registry_changes(dbs):
    db_a, _ = dbs
    register(db_a, "c1", "cached", "cache me if you can")
    index = SearchIndex(db_a)
    first = index.search("cache me")
    assert index.search("cache me") == first
    assert index._index is not None and "cache me" in index._index.cache
    register(db_a, "c2", "other", "cache me too")
    assert [h.id for h in index.search("cache me")] == ["c1", "c2"]


def test_rows_written_without_an_audit_entry_are_picked_up_too(dbs):
    db_a, _ = dbs
    index = SearchIndex(db_a)
    assert ids(index, "quiet") == []
    with db_a.transaction() as s:  # e.g. a bulk load straight into the table
        ArtifactRepository(s).add(
            _artifact("q1", "quiet"), source="web", hub_key=None, snapshot=_snapshot("quiet"),
            search_text="quiet\nloaded in bulk",
        )  # fmt: skip
    assert ids(index, "loaded in bulk") == ["q1"]
