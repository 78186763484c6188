"""Work that must happen once across every replica: a database lease with expiry and heartbeat.

``once_across_replicas`` is how two API processes (on one machine or many, SQLite or PostgreSQL)
pulling the same large upstream file fetch it once: whoever takes the lease does the work while a
heartbeat thread renews it; the others poll until the work's result is visible, or until the lease
expires because its holder died (then one of them takes over). No server beyond the database.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tmr.storage.db.engine import Database
from tmr.storage.db.leases import LeaseRepository

log = logging.getLogger("tmr.leases")

T = TypeVar("T")

LEASE_SECONDS = 30.0
POLL_SECONDS = 0.2


def _holder() -> str:
    return f"{socket.gethostname()[:30]}:{secrets.token_hex(8)}"


def lease_name(*parts: str) -> str:
    """A fixed-length key for any name (paths can be long)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@contextmanager
def _heartbeat(db: Database, name: str, holder: str, ttl: float) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(ttl / 3):
            try:
                with db.transaction() as s:
                    if not LeaseRepository(s).renew(name, holder, time.time(), ttl):
                        log.warning("lease %s was taken over while held", name[:12])
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                log.exception("could not renew lease %s", name[:12])

    thread = threading.Thread(target=beat, name="tmr-lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def once_across_replicas(
    db: Database,
    name: str,
    done: Callable[[], T | None],
    work: Callable[[], T],
    ttl: float = LEASE_SECONDS,
    poll: float = POLL_SECONDS,
) -> T:
    """``done()`` if it has a result; else ``work()`` in exactly one process at a time.

    Every caller returns ``done()``'s result as soon as one process's ``work()`` made it visible.
    If the holder's ``work()`` fails, the lease is released and a waiting caller tries itself.
    """
    holder = _holder()
    while True:
        result = done()
        if result is not None:
            return result
        with db.transaction() as s:
            acquired = LeaseRepository(s).try_acquire(name, holder, time.time(), ttl)
        if acquired:
            try:
                result = done()  # finished between our check and the lease
                if result is not None:
                    return result
                with _heartbeat(db, name, holder, ttl):
                    return work()
            finally:
                with db.transaction() as s:
                    LeaseRepository(s).release(name, holder)
        time.sleep(poll)
