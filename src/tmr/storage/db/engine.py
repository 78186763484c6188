"""Engine and session factory chosen by database URL (sqlite:///… or postgresql://…)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from tmr.errors import StorageUnavailable

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
        return create_engine(
            url, connect_args={"options": "-c default_transaction_read_only=on"}, poolclass=NullPool
        )
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


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
            raise StorageUnavailable(f"database unreachable: {exc.orig}") from exc
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise StorageUnavailable(
                f"database error ({self.dialect}): {exc.orig}; nothing was written"
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
            raise StorageUnavailable(f"database unreachable ({self.dialect}): {exc.orig}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
