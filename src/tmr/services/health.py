"""Health: liveness summary and per-component diagnostics over a trailing window."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from tmr import __version__
from tmr.errors import TmrError
from tmr.services.activity import ActivityLog, RequestRecord
from tmr.storage.blobs import BlobStore
from tmr.storage.db.engine import Database


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latency_stats(records: list[RequestRecord]) -> dict[str, Any]:
    if not records:
        return {"requests": 0, "errors": 0}
    lat = sorted(r.latency_ms for r in records)
    return {
        "requests": len(records),
        "errors": sum(1 for r in records if r.status >= 500),
        "client_errors": sum(1 for r in records if 400 <= r.status < 500),
        "latency_ms_mean": round(statistics.fmean(lat), 2),
        "latency_ms_p50": round(lat[len(lat) // 2], 2),
        "latency_ms_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
    }


def _timeline(records: list[RequestRecord], minutes: int) -> list[dict[str, Any]]:
    bucket_s = max(60, minutes * 60 // 30)
    now = time.time()
    start = now - minutes * 60
    counts = Counter(int((r.at - start) // bucket_s) for r in records)
    return [
        {"bucket": iso(start + i * bucket_s), "value": counts.get(i, 0), "unit": "requests"}
        for i in range(int(minutes * 60 // bucket_s))
    ]


def _ingests(records: list[RequestRecord]) -> list[RequestRecord]:
    return [
        r
        for r in records
        if r.method in ("POST", "PUT") and r.route.startswith(("/artifact/{", "/artifacts/{"))
    ]


def _downloads(records: list[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if r.method == "GET" and r.route.startswith("/download/{id}")]


def _percentile(ordered: list[float], q: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2) if ordered else 0.0


class HealthService:
    """Liveness and per-component diagnostics from the activity log and live store checks."""

    def __init__(
        self,
        activity: ActivityLog,
        db: Database,
        blobs: BlobStore,
        blob_scheme: str,
        count_artifacts: Callable[[], int],
        monitor_runtime: Callable[[], dict[str, str | int | float | bool]],
        started_at: float,
    ) -> None:
        self.activity = activity
        self.db = db
        self.blobs = blobs
        self.blob_scheme = blob_scheme
        self.count_artifacts = count_artifacts
        self.monitor_runtime = monitor_runtime
        self.started_at = started_at

    def dashboard(self, minutes: int) -> dict[str, Any]:
        """Per-minute series per component (requests, errors, p50/p99 latency) and a per-route
        table over the window: what the health dashboard draws."""
        records = self.activity.window(minutes)
        bucket_s = 60 if minutes <= 180 else minutes * 60 // 180
        now = time.time()
        count = max(1, minutes * 60 // bucket_s)
        start = now - count * bucket_s
        groups = {"api": records, "ingest": _ingests(records), "downloads": _downloads(records)}
        series: dict[str, dict[str, list[float]]] = {}
        for name, group in groups.items():
            buckets: list[list[RequestRecord]] = [[] for _ in range(count)]
            for r in group:
                i = int((r.at - start) // bucket_s)
                if 0 <= i < count:
                    buckets[i].append(r)
            lat = [sorted(x.latency_ms for x in b) for b in buckets]
            series[name] = {
                "requests": [len(b) for b in buckets],
                "errors": [sum(1 for x in b if x.status >= 500) for b in buckets],
                "p50_ms": [_percentile(v, 0.5) for v in lat],
                "p99_ms": [_percentile(v, 0.99) for v in lat],
            }
        by_route: dict[str, list[RequestRecord]] = {}
        for r in records:
            by_route.setdefault(f"{r.method} {r.route}", []).append(r)
        routes = []
        for key, group in sorted(by_route.items(), key=lambda kv: -len(kv[1])):
            ordered = sorted(x.latency_ms for x in group)
            routes.append(
                {
                    "route": key,
                    "requests": len(group),
                    "errors": sum(1 for x in group if x.status >= 500),
                    "client_errors": sum(1 for x in group if 400 <= x.status < 500),
                    "p50_ms": _percentile(ordered, 0.5),
                    "p99_ms": _percentile(ordered, 0.99),
                }
            )
        return {
            "window_minutes": minutes,
            "bucket_seconds": bucket_s,
            "buckets": [iso(start + i * bucket_s) for i in range(count)],
            "series": series,
            "routes": routes,
            "totals": {
                "requests": len(records),
                "errors": sum(1 for r in records if r.status >= 500),
                "ingests": len(groups["ingest"]),
                "downloads": len(groups["downloads"]),
            },
            "generated_at": iso(now),
        }

    def summary(self) -> dict[str, Any]:
        try:
            count: int | None = self.count_artifacts()
            status = "ok"
        except TmrError:
            count, status = None, "degraded"
        return {
            "status": status,
            "uptime_seconds": int(time.time() - self.started_at),
            "artifact_count": count,
            "version": __version__,
            "checked_at": iso(time.time()),
        }

    def components(self, window_minutes: int, include_timeline: bool) -> dict[str, Any]:
        """Every component's status. The two stores are checked at the same time (each check
        is bounded: storage/db/deadline.py, the S3 client's timeouts), and the shared activity,
        which lives in the database, is read only when the database answered, so the report
        comes within the slowest single check even while both stores are partitioned."""
        now = iso(time.time())
        with ThreadPoolExecutor(2, thread_name_prefix="tmr-health") as checks:
            database_check = checks.submit(
                _store_component, "database", "Metadata database", self.db.check,
                self.db.dialect, now,
            )  # fmt: skip
            blob_check = checks.submit(
                _store_component, "blob-store", "Bundle object store", self.blobs.check,
                self.blob_scheme, now,
            )  # fmt: skip
            database, blob_store = database_check.result(), blob_check.result()
        records: list[RequestRecord] = []
        if database["status"] == "ok":
            try:
                records = self.activity.window(window_minutes)
            except TmrError:  # the database went away since its check; reported as it was
                records = []
        per_route = Counter(f"{r.method} {r.route}" for r in records)
        api = _latency_stats(records)
        api_metrics: dict[str, Any] = dict(api)
        api_metrics["unique_clients"] = len({r.client for r in records if r.client})
        api_metrics["replicas"] = len({r.replica for r in records if r.replica})
        for route, n in per_route.most_common(25):
            api_metrics[f"route {route}"] = n
        out = [
            _component(
                "api",
                "REST API",
                "Serves the contract's endpoints.",
                records,
                api_metrics,
                window_minutes,
                include_timeline,
                now,
            ),
            database,
            blob_store,
        ]
        ingests = _ingests(records)
        out.append(
            _component(
                "ingest",
                "Ingest pipeline",
                "Fetches upstream snapshots, rates and stores new artifacts.",
                ingests,
                _latency_stats(ingests),
                window_minutes,
                include_timeline,
                now,
            )
        )
        downloads = _downloads(records)
        out.append(
            _component(
                "downloads",
                "Downloads",
                "Streams bundles and parts.",
                downloads,
                _latency_stats(downloads),
                window_minutes,
                include_timeline,
                now,
            )
        )
        out.append(self._monitor_component(now))
        return {"components": out, "generated_at": now, "window_minutes": window_minutes}

    def _monitor_component(self, now: str) -> dict[str, Any]:
        runtime = self.monitor_runtime()
        issues = []
        if runtime["node_version"] == "none":
            issues.append(
                {
                    "code": "monitors-no-node",
                    "severity": "error",
                    "summary": "no Node.js found: downloads of sensitive models with a program "
                    "are refused",
                    "details": "Install Node.js 24 (bash scripts/test installs npm's node@24) "
                    "or set TMR_NODE_BINARY.",
                }
            )
        return {
            "id": "monitors",
            "display_name": "Sensitive-model monitors",
            "status": "degraded" if issues else "ok",
            "observed_at": now,
            "description": "Runs sensitive models' JavaScript monitoring programs before "
            "downloads.",
            "metrics": runtime,
            "issues": issues,
        }


def _component(
    cid: str,
    name: str,
    description: str,
    records: list[RequestRecord],
    metrics: dict[str, Any],
    minutes: int,
    timeline: bool,
    now: str,
) -> dict[str, Any]:
    errors = sum(1 for r in records if r.status >= 500)
    issues = []
    if errors:
        issues.append(
            {
                "code": f"{cid}-server-errors",
                "severity": "error",
                "summary": f"{errors} server errors in the last {minutes} minutes",
                "details": "See the request log lines with status >= 500.",
            }
        )
    body: dict[str, Any] = {
        "id": cid,
        "display_name": name,
        "status": "degraded" if errors else "ok",
        "observed_at": now,
        "description": description,
        "metrics": metrics,
        "issues": issues,
    }
    if timeline:
        body["timeline"] = _timeline(records, minutes)
    return body


def _store_component(cid: str, name: str, check: Any, backend: str, now: str) -> dict[str, Any]:
    started = time.perf_counter()
    issues = []
    try:
        check()
        status = "ok"
    except TmrError as exc:
        status = "critical"
        issues.append(
            {
                "code": f"{cid}-unreachable",
                "severity": "error",
                "summary": f"{name} is unreachable",
                "details": exc.message,
            }
        )
    return {
        "id": cid,
        "display_name": name,
        "status": status,
        "observed_at": now,
        "description": f"{name} ({backend})",
        "metrics": {
            "backend": backend,
            "check_ms": round((time.perf_counter() - started) * 1000, 2),
        },
        "issues": issues,
    }
