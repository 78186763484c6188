"""Client-side deadlines for PostgreSQL connections, which libpq does not have.

libpq bounds the connect (``connect_timeout``) and, through TCP keepalives and
``TCP_USER_TIMEOUT``, a peer that stops acknowledging. A peer that acknowledges but never answers
(a partitioned proxy or load balancer, a hung server) is not caught by either, and
``statement_timeout`` is enforced by the very server that does not answer. So every statement,
commit, rollback and pre-checkout ping is armed with a deadline here; one watchdog thread per
process shuts down the socket of a connection whose deadline passed, which makes libpq fail the
wait at once ("server closed the connection unexpectedly"), SQLAlchemy invalidate the
connection, and the unit of work answer 503.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

log = logging.getLogger("tmr.db")

# A statement (or commit) gets 6 s, a pre-checkout ping 2 s: with the 3 s connect timeout a
# request that meets a partitioned database fails within 2 + 3 s, one that is cut mid-statement
# within 6 s; both well under 10 s.
STATEMENT_SECONDS = 6.0
PING_SECONDS = 2.0


class Watchdog:
    """Connections armed with a deadline; a daemon thread cuts those that overstay."""

    def __init__(self, tick: float = 0.1) -> None:
        self._tick = tick
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, Any]] = {}
        self._thread: threading.Thread | None = None

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        with self._lock:
            self._armed[id(dbapi_connection)] = (time.monotonic() + seconds, dbapi_connection)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tmr-db-deadlines", daemon=True
                )
                self._thread.start()

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_connection), None)

    def _run(self) -> None:
        while True:
            time.sleep(self._tick)
            now = time.monotonic()
            with self._lock:
                late = [key for key, (due, _) in self._armed.items() if due <= now]
                cut = [self._armed.pop(key)[1] for key in late]
            for dbapi_connection in cut:
                log.warning("database did not answer within its deadline: connection cut")
                cut_socket(dbapi_connection)


def cut_socket(dbapi_connection: Any) -> None:
    """Shut down the connection's socket under libpq's feet (its pending wait fails at once)."""
    with contextlib.suppress(Exception):
        fd = dbapi_connection.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


WATCHDOG = Watchdog()


def _bounded(call: Any, seconds: float) -> Any:
    def bounded(dbapi_connection: Any) -> Any:
        WATCHDOG.arm(dbapi_connection, seconds)
        try:
            return call(dbapi_connection)
        finally:
            WATCHDOG.disarm(dbapi_connection)

    return bounded


def install(engine: Engine, statement_seconds: float = STATEMENT_SECONDS) -> None:
    """Arm every statement, commit and rollback of ``engine``, and replace ``pool_pre_ping``
    by a ping under a deadline (a stale pooled connection is replaced, a hung one too)."""

    def arm(conn: Any, *_: Any) -> None:
        WATCHDOG.arm(conn.connection.dbapi_connection, statement_seconds)

    def disarm(conn: Any, *_: Any) -> None:
        WATCHDOG.disarm(conn.connection.dbapi_connection)

    event.listen(engine, "before_cursor_execute", arm)
    event.listen(engine, "after_cursor_execute", disarm)
    dialect: Any = engine.dialect  # commits and rollbacks (also the pool's reset on return)
    for name in ("do_commit", "do_rollback"):
        setattr(dialect, name, _bounded(getattr(dialect, name), statement_seconds))

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        dbapi_connection = getattr(context.connection, "connection", None)
        if dbapi_connection is not None:
            with contextlib.suppress(Exception):
                WATCHDOG.disarm(dbapi_connection.dbapi_connection)

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["tmr_fresh"] = True

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop("tmr_fresh", False):
            return
        WATCHDOG.arm(dbapi_connection, PING_SECONDS)
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool replaces the connection
            raise DisconnectionError("stale database connection") from exc
        finally:
            WATCHDOG.disarm(dbapi_connection)
        if not alive:
            raise DisconnectionError("stale database connection")

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            WATCHDOG.disarm(dbapi_connection)
