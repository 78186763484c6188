"""The search index at its edges (SQLite and PostgreSQL): the last artifact of a scan buffer
deleted, a build read in several batches, and the pattern cache at its bound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_search_index import KEY, delete, register
from tmr.services import search
from tmr.services.search import SearchIndex
from tmr.storage.db.audit import prepare_chains
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = (
        f"sqlite:///{tmp_path / 'registry.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_database"))
    )
    database = Database(url)
    upgrade(database.engine)
    prepare_chains(database, KEY)
    yield database
    database.dispose()


def ids(index: SearchIndex, pattern: str) -> list[str]:
    return [h.id for h in index.search(pattern)]


def test_deleting_the_only_artifact_of_a_buffer_and_registering_again(db: Database) -> None:
    register(db, "solo", "solo-model", "a lonely transformer")
    index = SearchIndex(db)
    assert ids(index, "lonely") == ["solo"]
    delete(db, "solo")
    assert ids(index, "lonely") == []
    assert ids(index, "^solo") == []  # the emptied buffer is gone from the scan too
    register(db, "next", "next-model", "another lonely one")
    assert ids(index, "lonely") == ["next"]
    assert ids(index, "^next-model$") == ["next"]
    assert index.builds == 1  # all of it followed incrementally


def test_a_build_reads_the_registry_in_batches(db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search, "LOAD_BATCH", 2)
    for i in range(5):
        register(db, f"b{i}", f"batch-{i}", f"card {i} of five")
    index = SearchIndex(db)
    assert ids(index, "of five") == [f"b{i}" for i in range(5)]
    register(db, "b5", "batch-5", "card 5 of five")  # followed: rows after the top, batched too
    register(db, "b6", "batch-6", "card 6 of five")
    assert ids(index, "of five") == [f"b{i}" for i in range(7)]
    assert index.builds == 1


def test_the_pattern_cache_keeps_the_most_recent_patterns(db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search, "CACHE_PATTERNS", 3)
    register(db, "c1", "cached", "alpha beta gamma delta epsilon")
    index = SearchIndex(db)
    for word in ("alpha", "beta", "gamma", "alpha", "delta"):
        assert ids(index, word) == ["c1"]
    assert index._index is not None
    assert list(index._index.cache) == ["gamma", "alpha", "delta"]  # beta, least recent, went
    assert ids(index, "beta") == ["c1"]  # recomputed, still right
    assert list(index._index.cache) == ["alpha", "delta", "beta"]
