"""Engine and session factory chosen by database URL (sqlite:///… or postgresql://…)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from tmr.errors import BadRequest, StorageUnavailable
from tmr.storage.db import deadline
from tmr.storage.db.versions import RegistryVersion, WriteWatch

log = logging.getLogger("tmr.db")

_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


def normalise_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _SCHEMES:
        valid = ", ".join(sorted({s.split("+")[0] + "://" for s in _SCHEMES}))
        raise ValueError(f"unsupported database URL {url!r}; valid schemes: {valid}")
    return f"{_SCHEMES[scheme]}://{rest}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URL (None for memory or other databases)."""
    if not url.startswith("sqlite:///"):
        return None
    raw = url[len("sqlite:///") :].split("?", 1)[0]
    if not raw or raw == ":memory:":
        return None
    return Path(raw if raw.startswith("/") else raw)


def make_engine(url: str, read_only: bool = False) -> Engine:
    """An engine for ``url``; ``read_only`` makes the database itself refuse every write."""
    path = sqlite_path(url)
    if read_only and path is not None:
        if not path.exists():
            raise StorageUnavailable(f"no database at {path}")
        url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            if not read_only:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if read_only:
        engine = create_engine(
            url,
            connect_args={**PG_CONNECT_ARGS, "options": "-c default_transaction_read_only=on"},
            poolclass=NullPool,
        )
    else:
        engine = create_engine(
            url,
            pool_size=10,
            max_overflow=20,
            pool_timeout=5,  # a request waits at most 5 s for a pooled connection
            connect_args=PG_CONNECT_ARGS,
        )
    deadline.install(engine)  # also the pre-checkout ping (pool_pre_ping has no deadline)
    return engine


# Bounded waits on every PostgreSQL connection (libpq parameters): a refused or unreachable
# server fails the connect within 3 s; TCP keepalives and the TCP user timeout drop a connection
# whose peer stopped acknowledging (a dead host or a cut link) within seconds instead of the
# kernel's 15 minutes. A peer that acknowledges but never answers is not caught by these: the
# statement deadlines of storage/db/deadline.py are.
PG_CONNECT_ARGS: dict[str, object] = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 3,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 8000,
}


class Database:
    """Owns the engine and hands out one transaction per unit of work."""

    def __init__(self, url: str, read_only: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, read_only)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and its busy handler sleeps with backoff, which turns
        # write contention into second-long tails; writers of this process queue on a lock
        # instead. PostgreSQL needs no such lock.
        self._write_lock: threading.Lock | None = (
            threading.Lock() if self.engine.dialect.name == "sqlite" else None
        )
        # Transactions that change what read caches hold bump the registry version
        # (storage/db/versions.py); ``writes.local_commits`` counts this process's own.
        self.writes = WriteWatch(self.engine)
        self.version = RegistryVersion(self.read, self.writes)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _writer(self) -> AbstractContextManager[object]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits once at the end, or rolls back everything on any error."""
        with self._writer(), self._unit_of_work() as session:
            yield session
            changed = self.writes.before_commit(session)
        if changed:
            self.writes.committed()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work: never queues behind writers (SQLite WAL readers don't)."""
        with self._unit_of_work() as session:
            yield session

    @contextmanager
    def _unit_of_work(self) -> Iterator[Session]:
        try:
            session = self._sessions()
        except OperationalError as exc:  # pragma: no cover - connection pool failure
            log.warning("database unreachable: %s", exc.orig)
            raise StorageUnavailable(f"database unavailable ({self.dialect})") from exc
        try:
            yield session
            session.commit()
        except DataError as exc:  # e.g. a NUL character, which PostgreSQL text cannot hold
            session.rollback()
            raise BadRequest(
                "the request holds a value the database cannot store (for example a NUL "
                "character); nothing was written"
            ) from exc
        except OperationalError as exc:
            session.rollback()
            log.warning("database error: %s", exc.orig)  # details stay in the log, not the answer
            raise StorageUnavailable(
                f"database unavailable ({self.dialect}); nothing was written"
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def check(self) -> None:
        from sqlalchemy import text

        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            log.warning("database unreachable: %s", exc.orig)
            raise StorageUnavailable(f"database unavailable ({self.dialect})") from exc

    def dispose(self) -> None:
        self.engine.dispose()
