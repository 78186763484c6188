"""Health figures from the shared activity log (on each storage pair): the dashboard's series
and route table, the components' statuses and issues, and what is reported while the stores are
unreachable."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

from tmr.composition import build_registry, build_services
from tmr.services.activity import ActivityLog, RequestRecord
from tmr.services.health import HealthService
from tmr.services.protections import monitor_runtime
from tmr.storage.blobs.file import FileBlobStore
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database

READ = "/artifacts/{artifact_type}/{id}"


def _records(now: float) -> list[RequestRecord]:
    def rec(
        method: str, route: str, status: int, ms: float, client: str = "10.0.0.1"
    ) -> RequestRecord:
        return RequestRecord(now - 5, method, route, status, ms, "model", client)

    return [
        rec("GET", READ, 200, 10.0),
        rec("GET", READ, 200, 20.0, "10.0.0.2"),
        rec("GET", READ, 200, 30.0),
        rec("POST", "/artifact/{artifact_type}", 201, 100.0),
        rec("GET", "/download/{id}", 200, 5.0),
        rec("GET", "/download/{id}", 500, 7.0),
        rec("GET", "/health", 404, 1.0),
    ]


@pytest.fixture
def health(backend, make_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = make_settings(**backend, node_binary=str(tmp_path / "no-node"))
    registry = build_registry(settings)
    try:
        services = build_services(registry)
        for r in _records(time.time()):
            registry.activity.record(r)
        yield services.health
    finally:
        registry.activity.close()
        registry.db.dispose()


def test_dashboard_series_and_route_table(health: HealthService) -> None:
    d = health.dashboard(60)
    assert d["window_minutes"] == 60 and d["bucket_seconds"] == 60 and len(d["buckets"]) == 60
    assert d["totals"] == {"requests": 7, "errors": 1, "ingests": 1, "downloads": 2}
    api, ingest, downloads = (d["series"][k] for k in ("api", "ingest", "downloads"))
    assert sum(api["requests"]) == 7 and sum(api["errors"]) == 1
    assert sum(ingest["requests"]) == 1 and max(ingest["p50_ms"]) == 100.0
    assert sum(downloads["requests"]) == 2 and max(downloads["p99_ms"]) == 7.0
    assert downloads["requests"].index(2) == downloads["errors"].index(1)  # the same minute
    assert d["routes"][0] == {"route": f"GET {READ}", "requests": 3, "errors": 0,
                              "client_errors": 0, "p50_ms": 20.0, "p99_ms": 30.0}  # fmt: skip
    by_route = {r["route"]: r for r in d["routes"]}
    assert by_route["GET /download/{id}"]["errors"] == 1
    assert by_route["GET /health"]["client_errors"] == 1
    # over ten hours, buckets widen so there are at most 180
    wide = health.dashboard(600)
    assert wide["bucket_seconds"] == 200 and len(wide["buckets"]) == 180
    assert sum(wide["series"]["api"]["requests"]) == 7


def test_components_report_errors_and_a_missing_node(health: HealthService) -> None:
    report = health.components(60, include_timeline=True)
    by_id = {c["id"]: c for c in report["components"]}
    assert list(by_id) == ["api", "database", "blob-store", "ingest", "downloads", "monitors"]
    api = by_id["api"]
    assert api["status"] == "degraded"
    assert api["issues"] == [
        {
            "code": "api-server-errors",
            "severity": "error",
            "summary": "1 server errors in the last 60 minutes",
            "details": "See the request log lines with status >= 500.",
        }
    ]
    m = api["metrics"]
    assert (m["requests"], m["errors"], m["client_errors"]) == (7, 1, 1)
    assert m["latency_ms_p50"] == 10.0 and m["latency_ms_p99"] == 100.0
    assert m["unique_clients"] == 2 and m["replicas"] == 1
    assert m[f"route GET {READ}"] == 3
    assert len(api["timeline"]) == 30 and sum(p["value"] for p in api["timeline"]) == 7
    assert by_id["database"]["status"] == "ok" and by_id["blob-store"]["status"] == "ok"
    assert by_id["ingest"]["status"] == "ok" and by_id["ingest"]["metrics"]["requests"] == 1
    assert by_id["downloads"]["status"] == "degraded"
    assert by_id["downloads"]["issues"][0]["code"] == "downloads-server-errors"
    monitors = by_id["monitors"]
    assert monitors["status"] == "degraded" and monitors["metrics"]["node_version"] == "none"
    assert monitors["issues"][0]["summary"] == (
        "no Node.js found: downloads of sensitive models with a program are refused"
    )
    quiet = health.components(1, include_timeline=False)
    assert "timeline" not in quiet["components"][0]
    assert health.summary()["status"] == "ok" and health.summary()["artifact_count"] == 0


def test_unreachable_stores_are_critical_and_the_summary_degraded(
    make_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/nothing")  # nothing listens there

    def count() -> int:
        with db.read() as s:
            return ArtifactRepository(s).count()

    settings = make_settings()
    health = HealthService(ActivityLog(db), db, FileBlobStore(blocker / "blobs"), "file", count,
                           functools.partial(monitor_runtime, settings), time.time())  # fmt: skip
    try:
        by_id = {c["id"]: c for c in health.components(60, False)["components"]}
        database, blobs = by_id["database"], by_id["blob-store"]
        assert database["status"] == "critical" and database["description"] == (
            "Metadata database (postgresql)"
        )
        assert database["issues"][0]["summary"] == "Metadata database is unreachable"
        assert database["issues"][0]["details"] == "database unavailable (postgresql)"
        assert blobs["status"] == "critical"
        assert blobs["issues"][0]["code"] == "blob-store-unreachable"
        assert blobs["issues"][0]["details"].startswith(
            "the file blob store's folder cannot be used ("
        )
        assert by_id["api"]["metrics"]["requests"] == 0  # the activity was not read
        summary = health.summary()
        assert summary["status"] == "degraded" and summary["artifact_count"] is None
    finally:
        db.dispose()


def test_activity_lost_after_the_database_check_counts_as_none(
    health: HealthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tmr.errors import StorageUnavailable

    def gone(minutes: int) -> list[RequestRecord]:
        raise StorageUnavailable("database unavailable (sqlite)")

    monkeypatch.setattr(health.activity, "window", gone)
    by_id = {c["id"]: c for c in health.components(60, False)["components"]}
    assert by_id["database"]["status"] == "ok"
    assert by_id["api"]["status"] == "ok" and by_id["api"]["metrics"]["requests"] == 0
