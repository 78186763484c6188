"""The registry version: one number every replica reads, bumped by every transaction that changes
what the read caches hold (artifacts and their files, lineage, scans, lifecycle and sensitivity,
monitors, users).

Nothing has to remember to bump it: an engine hook notes each INSERT, UPDATE or DELETE on a
watched table, and :meth:`WriteWatch.before_commit` adds ``version = version + 1`` to that same
transaction, so the number moves exactly when such a change commits (a rolled-back change moves
nothing). Writes that no cached read depends on (audit entries, download history, token leases,
activity, search/view statistics) leave it alone, so a busy download stream does not empty the
caches.

The number is kept as a named row of the shared-state table ``leases`` (name
``registry-version``, the number in ``expires_at``, exact up to 2**53), read by its primary key;
no migration was needed for it. ``lease_name`` never produces that name.

:class:`RegistryVersion` is what read caches compare against: the number as this process last
read it, with this process's own registry-changing commits. A cached entry carries the tag
current when its data was *about to be* read and is served only while the tag is unchanged.
This process's own writes change the tag at once; another replica's change it when the number
is read again, at most ``staleness`` seconds after the previous read (``TMR_READ_CACHE_SECONDS``,
default 0.5 s; 0 reads it for every request). A write on one replica is therefore visible on
every other within that bound plus one primary-key read.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Engine, Table, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tmr.storage.db.tables import LeaseRow

VERSION_ROW = "registry-version"
WATCHED = frozenset(
    {
        "artifacts",
        "artifact_files",
        "parent_refs",
        "file_scans",
        "artifact_status",
        "monitors",
        "users",
    }
)
_CHANGED = "tmr_registry_changed"
_WRITE = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE
)
_TABLE: Table = LeaseRow.__table__  # type: ignore[assignment]


def changed_table(statement: str) -> str | None:
    """The table an INSERT/UPDATE/DELETE statement writes, else None."""
    head = statement[:7].upper()
    if not head.startswith(("INSERT", "UPDATE", "DELETE")):
        return None
    match = _WRITE.match(statement)
    return match.group(1).lower() if match else None


class WriteWatch:
    """Bumps the registry version in transactions that changed a watched table, and counts this
    process's own such commits (``local_commits``), which its caches see at once."""

    def __init__(self, engine: Engine) -> None:
        self.local_commits = 0
        self._lock = threading.Lock()
        event.listen(engine, "begin", self._on_begin)
        event.listen(engine, "before_cursor_execute", self._on_execute)

    @staticmethod
    def _on_begin(conn: Any) -> None:
        conn.info.pop(_CHANGED, None)

    @staticmethod
    def _on_execute(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if changed_table(statement) in WATCHED:
            conn.info[_CHANGED] = True

    def before_commit(self, session: Session) -> bool:
        """Add the version bump to ``session``'s transaction when it changed a watched table;
        whether it did. Flushes pending ORM objects first so their statements are seen."""
        if not session.in_transaction():
            return False
        session.flush()
        conn = session.connection()
        if not conn.info.pop(_CHANGED, False):
            return False
        bump(session)
        return True

    def committed(self) -> None:
        with self._lock:
            self.local_commits += 1


def ensure_row(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(_TABLE)
        .values(name=VERSION_ROW, holder="registry", expires_at=0.0)
        .on_conflict_do_nothing()
    )


def bump(session: Session) -> None:
    result = session.execute(
        update(_TABLE)
        .where(_TABLE.c.name == VERSION_ROW)
        .values(expires_at=_TABLE.c.expires_at + 1)
    )
    if not getattr(result, "rowcount", 1):
        ensure_row(session)
        bump(session)


def read_version(session: Session) -> int:
    value = session.scalar(select(_TABLE.c.expires_at).where(_TABLE.c.name == VERSION_ROW))
    return int(value or 0)


Tag = tuple[int, int]


class RegistryVersion:
    def __init__(
        self,
        read: Callable[[], AbstractContextManager[Session]],
        writes: WriteWatch,
        staleness: float = 0.5,
    ) -> None:
        self._session = read
        self._writes = writes
        self.staleness = staleness
        self._read: tuple[int, float] = (0, float("-inf"))  # (database number, monotonic time)

    def tag(self) -> Tag | None:
        """The current tag, or None when the database's number is due to be read (``poll``)."""
        number, at = self._read
        if time.monotonic() - at >= self.staleness:
            return None
        return number, self._writes.local_commits

    def poll(self) -> Tag:
        """Read the database's number (one primary-key read) and return the current tag."""
        local = self._writes.local_commits  # before the read: a commit meanwhile shows later
        with self._session() as s:
            number = read_version(s)
        self._read = (number, time.monotonic())
        return number, local

    def current(self) -> Tag:
        """The current tag, reading the database's number when it is due."""
        return self.tag() or self.poll()
