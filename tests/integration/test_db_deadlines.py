"""PostgreSQL deadlines (storage/db/deadline.py) against a real server: a statement the server
does not answer in time is cut and the unit of work answers 503; a pooled connection the server
dropped is replaced at checkout, so the next request does not fail."""

from __future__ import annotations

import functools
import logging
import time

import pytest
from sqlalchemy import text

from tests.conftest import _pg_admin
from tmr.errors import StorageUnavailable
from tmr.storage.db import deadline
from tmr.storage.db.engine import Database


def test_a_statement_past_its_deadline_is_cut_and_answers_503(
    pg_database: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that does not answer: pg_sleep stands for the hung peer; a 0.5 s deadline
    # stands for the 6 s one.
    monkeypatch.setattr(
        deadline, "install", functools.partial(deadline.install, statement_seconds=0.5)
    )
    db = Database(pg_database)
    try:
        began = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="tmr.db"),
            pytest.raises(StorageUnavailable) as caught,
            db.transaction() as s,
        ):
            s.execute(text("SELECT pg_sleep(20)"))
        assert time.monotonic() - began < 10  # cut by the watchdog, not the 20 s sleep
        assert caught.value.message == "database unavailable (postgresql); nothing was written"
        assert caught.value.status_code == 503
        messages = [r.getMessage() for r in caplog.records]
        assert "database did not answer within its deadline: connection cut" in messages
        with db.read() as s:  # the cut connection was thrown away: the next unit of work works
            assert s.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()


def test_a_pooled_connection_the_server_dropped_is_replaced_at_checkout(pg_database: str) -> None:
    db = Database(pg_database)
    try:
        with db.read() as s:
            first = s.execute(text("SELECT pg_backend_pid()")).scalar()
        _pg_admin(f"SELECT pg_terminate_backend({int(first)})")  # type: ignore[arg-type]
        with db.read() as s:  # the stale connection fails its ping and is replaced
            second = s.execute(text("SELECT pg_backend_pid()")).scalar()
        assert second != first
    finally:
        db.dispose()


# --- the engine factory around them --------------------------------------------------------


def test_unsupported_database_urls_name_the_valid_schemes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as caught:
        Database("mysql://db/tmr")
    assert str(caught.value) == (
        "unsupported database URL 'mysql://db/tmr'; valid schemes: postgres://, postgresql://, "
        "sqlite://"
    )
    with pytest.raises(StorageUnavailable, match="^no database at "):
        Database(f"sqlite:///{tmp_path}/missing.db", read_only=True)  # never created by a reader


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_read_only_database_reads_but_refuses_writes(kind: str, tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    url = (
        f"sqlite:///{tmp_path}/tmr.db"
        if kind == "sqlite"
        else request.getfixturevalue("pg_database")
    )
    writer = Database(url)
    with writer.transaction() as s:
        s.execute(text("CREATE TABLE notes (body TEXT)"))
        s.execute(text("INSERT INTO notes VALUES ('kept')"))
    reader = Database(url, read_only=True)
    try:
        with reader.read() as s:
            assert s.execute(text("SELECT body FROM notes")).scalar() == "kept"
        with pytest.raises(Exception) as caught, reader.transaction() as s:  # the database refuses
            s.execute(text("INSERT INTO notes VALUES ('refused')"))
        if kind == "sqlite":  # "attempt to write a readonly database"
            assert isinstance(caught.value, StorageUnavailable)
            assert caught.value.message == "database unavailable (sqlite); nothing was written"
        else:
            assert "cannot execute INSERT in a read-only transaction" in str(caught.value)
        with writer.read() as s:
            assert s.execute(text("SELECT count(*) FROM notes")).scalar() == 1
    finally:
        reader.dispose()
        writer.dispose()


def test_a_value_postgresql_cannot_store_is_a_bad_request(pg_database: str) -> None:
    from tmr.errors import BadRequest

    db = Database(pg_database)
    try:
        with db.transaction() as s:
            s.execute(text("CREATE TABLE notes (body TEXT)"))
        with pytest.raises(BadRequest) as caught, db.transaction() as s:
            s.execute(text("INSERT INTO notes VALUES (:body)"), {"body": "nul\x00inside"})
        assert caught.value.message == (
            "the request holds a value the database cannot store (for example a NUL character); "
            "nothing was written"
        )
        with db.read() as s:
            assert s.execute(text("SELECT count(*) FROM notes")).scalar() == 0
    finally:
        db.dispose()
