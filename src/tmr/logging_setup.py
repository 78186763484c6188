"""Structured logging: one JSON object per line, each carrying the current request id.

LOG_LEVEL follows the earlier CLI: 0 silent, 1 info, 2 debug. LOG_FILE sends lines to a file
(appending) instead of standard error.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_LEVELS = {0: logging.CRITICAL + 10, 1: logging.INFO, 2: logging.DEBUG}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
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
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(level: int, log_file: str | None) -> None:
    root = logging.getLogger("tmr")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level, logging.INFO))
    root.propagate = False
    # huggingface_hub warns on stderr, outside our JSON lines, about cards whose `model-index`
    # it cannot parse; our performance_claims metric reads that metadata itself.
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
