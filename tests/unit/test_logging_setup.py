"""Structured logging: JSON lines carrying the request id, and the in-memory ring the admins' log
viewer (GET /health/logs) filters by level, route, request id and component."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmr.api.health import LOG_SCOPES
from tmr.logging_setup import RING, LogRing, LogScope, configure_logging, request_id_var


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "tmr.log"
    configure_logging(2, str(path), buffer_lines=1000)
    try:
        yield path
    finally:
        configure_logging(0, None)


def _emit(logger: str, level: int, msg: str, request_id: str, **fields: object) -> None:
    token = request_id_var.set(request_id)
    try:
        logging.getLogger(logger).log(level, msg, extra={"fields": fields} if fields else None)
    finally:
        request_id_var.reset(token)


def test_lines_go_to_the_file_as_json_with_the_request_id(log_file: Path) -> None:
    rid = secrets.token_hex(4)
    _emit("tmr.downloads", logging.INFO, "materialised %s", rid, route="/download/{id}")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tmr.api").exception("handler failed")
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    first = lines[-2]
    assert first["msg"] == "materialised %s" and first["level"] == "info"
    assert first["logger"] == "tmr.downloads" and first["request_id"] == rid
    assert first["route"] == "/download/{id}"
    assert lines[-1]["level"] == "error" and "ValueError: boom" in lines[-1]["exc"]
    assert lines[-1]["request_id"] is None
    # the ring holds the same structured lines, numbered
    assert RING.query(request_id=rid) == [{**first, "seq": RING.query(request_id=rid)[0]["seq"]}]


def test_debug_lines_only_at_level_two(tmp_path: Path) -> None:
    path = tmp_path / "info.log"
    configure_logging(1, str(path))
    try:
        logging.getLogger("tmr.x").debug("hidden")
        logging.getLogger("tmr.x").info("shown")
    finally:
        configure_logging(0, None)
    assert [json.loads(line)["msg"] for line in path.read_text().splitlines()] == ["shown"]


def test_ring_queries_filter_newest_first(log_file: Path) -> None:
    rid = secrets.token_hex(4)
    _emit("tmr.http", logging.INFO, "GET ok", rid, route="/artifacts/{artifact_type}/{id}",
          path="/artifacts/model/1")  # fmt: skip
    _emit("tmr.downloads", logging.WARNING, "slow bundle", rid, route="/download/{id}")
    _emit("tmr.storage.db", logging.ERROR, "db hiccup", rid)
    _emit("tmr.ingest", logging.DEBUG, "fetching", rid)

    def msgs(**query: object) -> list[str]:
        return [line["msg"] for line in RING.query(request_id=rid, **query)]  # type: ignore[arg-type]

    assert msgs() == ["fetching", "db hiccup", "slow bundle", "GET ok"]
    assert msgs(min_level="warning") == ["db hiccup", "slow bundle"]
    assert msgs(min_level="error") == ["db hiccup"]
    assert msgs(route="/download") == ["slow bundle"]
    assert msgs(route="/artifacts/model/1") == ["GET ok"]  # the raw path matches too
    assert msgs(limit=2) == ["fetching", "db hiccup"]
    assert msgs(scope=LOG_SCOPES["downloads"]) == ["slow bundle"]
    assert msgs(scope=LOG_SCOPES["database"]) == ["db hiccup"]
    assert msgs(scope=LOG_SCOPES["ingest"]) == ["fetching", "GET ok"]  # by logger and by route
    assert RING.query(request_id=secrets.token_hex(4)) == []


def test_scope_matches_by_route_prefix_or_logger_prefix() -> None:
    scope = LogScope(routes=("/download",), loggers=("tmr.downloads",))
    assert scope.matches({"route": "/download/{id}", "logger": "tmr.http"})
    assert scope.matches({"route": None, "logger": "tmr.downloads.pull"})
    assert not scope.matches({"route": "/artifacts", "logger": "tmr.http"})
    assert not LogScope(routes=("/download",)).matches({"logger": "tmr.downloads"})


def test_ring_keeps_the_newest_lines_and_can_shrink() -> None:
    ring = LogRing(capacity=3)
    for i in range(5):
        ring.emit(logging.LogRecord("tmr.t", logging.INFO, __file__, 1, f"line {i}", None, None))
    assert [line["msg"] for line in ring.lines()] == ["line 2", "line 3", "line 4"]
    assert [line["seq"] for line in ring.lines()] == [3, 4, 5]
    ring.resize(2)
    assert [line["msg"] for line in ring.query()] == ["line 4", "line 3"]
    # an unknown level name in a line counts as info
    ring.emit(logging.LogRecord("tmr.t", 25, __file__, 1, "custom", None, None))
    assert [line["msg"] for line in ring.query(min_level="info")] == ["custom", "line 4"]
    assert ring.query(min_level="warning") == []
