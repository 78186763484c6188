"""Structured logging: one JSON object per line, each carrying the current request id.

LOG_LEVEL follows the earlier CLI: 0 silent, 1 info, 2 debug. LOG_FILE sends lines to a file
(appending) instead of standard error. The most recent lines are also kept in memory (a ring of
TMR_LOG_BUFFER lines per process) for the admins' log viewer (GET /health/logs).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_LEVELS = {0: logging.CRITICAL + 10, 1: logging.INFO, 2: logging.DEBUG}


def _body(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
        "request_id": request_id_var.get(),
    }
    extra = getattr(record, "fields", None)
    if isinstance(extra, dict):
        body.update(extra)
    if record.exc_info:
        body["exc"] = formatter.formatException(record.exc_info)
    return body


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_body(self, record), default=str)


class LogRing(logging.Handler):
    """The last N structured log lines of this process, newest last (bounded memory)."""

    def __init__(self, capacity: int = 5000) -> None:
        super().__init__()
        self._lines: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._guard = threading.Lock()
        self._seq = 0

    def resize(self, capacity: int) -> None:
        with self._guard:
            self._lines = deque(self._lines, maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            body = _body(self.formatter or logging.Formatter(), record)
            with self._guard:
                self._seq += 1
                body["seq"] = self._seq
                self._lines.append(json.loads(json.dumps(body, default=str)))
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)

    def lines(self) -> list[dict[str, Any]]:
        with self._guard:
            return list(self._lines)

    def query(
        self,
        *,
        min_level: str | None = None,
        route: str | None = None,
        request_id: str | None = None,
        scope: LogScope | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Newest first. `route` matches text in a line's route template or path; `scope`
        keeps the lines of one component."""
        floor = _level_number(min_level) if min_level else 0
        out: list[dict[str, Any]] = []
        for line in reversed(self.lines()):
            if _level_number(str(line.get("level", "info"))) < floor:
                continue
            if request_id and line.get("request_id") != request_id:
                continue
            if route and route not in f"{line.get('route') or ''} {line.get('path') or ''}":
                continue
            if scope is not None and not scope.matches(line):
                continue
            out.append(line)
            if len(out) >= limit:
                break
        return out


class LogScope:
    """The log lines of one component: by route template prefix or by logger name prefix."""

    def __init__(self, routes: tuple[str, ...] = (), loggers: tuple[str, ...] = ()) -> None:
        self.routes = routes
        self.loggers = loggers

    def matches(self, line: dict[str, Any]) -> bool:
        route = line.get("route")
        if self.routes and isinstance(route, str) and route.startswith(self.routes):
            return True
        return bool(self.loggers) and str(line.get("logger", "")).startswith(self.loggers)


def _level_number(name: str) -> int:
    value = logging.getLevelName(name.upper())
    return value if isinstance(value, int) else logging.INFO


RING = LogRing()


def configure_logging(level: int, log_file: str | None, buffer_lines: int = 5000) -> None:
    root = logging.getLogger("tmr")
    for old in list(root.handlers):
        root.removeHandler(old)
        if old is not RING:
            old.close()
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    RING.resize(buffer_lines)
    root.addHandler(RING)
    root.setLevel(_LEVELS.get(level, logging.INFO))
    root.propagate = False
    # huggingface_hub warns on stderr, outside our JSON lines, about cards whose `model-index`
    # it cannot parse; our performance_claims metric reads that metadata itself.
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
