"""Record of recent requests, for /health/components and the dashboard, shared by all replicas.

Every API process buffers the requests it serves and appends them to the database as one row (a
compact JSON batch) per ``flush_seconds``, from a short-lived timer thread that exists only while
something is pending, so no request waits for a write (recording and writing cost about 5 us of
CPU per request on SQLite, 9 us on PostgreSQL). Reading a window flushes this process's buffer
first and then reads every replica's batches, so the figures are the same whichever replica
answers (up to the other replicas' last ``flush_seconds``). Batches older than 24 hours, and the
oldest beyond 200 000 records, are pruned once a minute. Without a database (tools, some tests)
the log is in memory.
Ingests, downloads and errors are counted per route template, never per raw path.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import deque

from tmr.domain.activity import RequestRecord
from tmr.storage.db.activity import ActivityRepository
from tmr.storage.db.engine import Database

__all__ = ["ActivityLog", "RequestRecord", "replica_id"]

log = logging.getLogger("tmr.activity")

MAX_PENDING = 50_000
PRUNE_EVERY_SECONDS = 60.0


def replica_id() -> str:
    """Names this process in the shared figures: host, pid and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class ActivityLog:
    def __init__(
        self,
        db: Database | None = None,
        flush_seconds: float = 1.0,
        max_entries: int = 200_000,
        max_age_seconds: float = 86_400,
    ) -> None:
        self._db = db
        self._flush_seconds = flush_seconds
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._memory: deque[RequestRecord] = deque(maxlen=max_entries)
        self._pending: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last_prune = 0.0
        self._closed = False
        self.replica = replica_id()

    @property
    def shared(self) -> bool:
        return self._db is not None

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            if self._db is None:
                self._memory.append(rec)
                cutoff = rec.at - self._max_age
                while self._memory and self._memory[0].at < cutoff:
                    self._memory.popleft()
                return
            if len(self._pending) < MAX_PENDING:
                self._pending.append(rec)
            if self._timer is None and not self._closed:
                self._timer = threading.Timer(self._flush_seconds, self._timed_flush)
                self._timer.daemon = True
                self._timer.start()

    def _timed_flush(self) -> None:
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - health bookkeeping must never take a request down
            log.warning("could not write request activity", exc_info=True)

    def flush(self) -> None:
        """Write this process's pending records (and prune now and then)."""
        if self._db is None:
            return
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                self._timer = None
            now = time.time()
            prune = now - self._last_prune >= PRUNE_EVERY_SECONDS
            if not batch and not prune:
                return
            with self._db.transaction() as s:
                repo = ActivityRepository(s)
                repo.append(self.replica, batch)
                if prune:
                    repo.prune(now - self._max_age, self._max_entries)
            if prune:
                self._last_prune = now

    def window(self, minutes: int) -> list[RequestRecord]:
        cutoff = time.time() - minutes * 60
        if self._db is None:
            with self._lock:
                return [
                    RequestRecord(r.at, r.method, r.route, r.status, r.latency_ms,
                                  r.artifact_type, r.client, self.replica)
                    for r in self._memory
                    if r.at >= cutoff
                ]
        self.flush()
        with self._db.read() as s:
            return ActivityRepository(s).since(cutoff)

    def close(self) -> None:
        """Stop the timer and write what is pending (at shutdown)."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self._timed_flush()
