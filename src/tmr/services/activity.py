"""In-process record of recent requests, for /health/components and the dashboard.

Each API process keeps the last 24 hours (bounded to 200 000 entries) in memory; a replica reports
its own traffic. Ingests, downloads and errors are counted per route template, never per raw path.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    at: float
    method: str
    route: str
    status: int
    latency_ms: float
    artifact_type: str | None
    client: str | None


class ActivityLog:
    def __init__(self, max_entries: int = 200_000, max_age_seconds: float = 86_400) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=max_entries)
        self._lock = threading.Lock()
        self._max_age = max_age_seconds
        self.last_error: tuple[float, str] | None = None

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._records.append(rec)
            cutoff = rec.at - self._max_age
            while self._records and self._records[0].at < cutoff:
                self._records.popleft()

    def note_error(self, message: str) -> None:
        self.last_error = (time.time(), message)

    def window(self, minutes: int) -> list[RequestRecord]:
        cutoff = time.time() - minutes * 60
        with self._lock:
            return [r for r in self._records if r.at >= cutoff]
