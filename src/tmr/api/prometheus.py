"""`GET /metrics` in the Prometheus text format (prometheus-client).

Request counts and latency histograms per route template (never per raw path, so the label set
stays bounded), plus ingest and download counters. Each app has its own collector registry, so
several apps in one process (the tests) do not collide; with several worker processes each one
reports its own traffic (scrape each, or run one worker per container).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

router = APIRouter(tags=["health"])

INGEST_ROUTES = {
    ("POST", "/artifact/{artifact_type}"),
    ("POST", "/artifact/{artifact_type}/upload"),
    ("PUT", "/artifacts/{artifact_type}/{id}"),
}
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tmr_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tmr_http_request_duration_seconds",
            "HTTP request latency by route template (until the response body is sent).",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.ingests = Counter(
            "tmr_ingests",
            "Registrations, uploads and updates by artifact type and outcome.",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.downloads = Counter(
            "tmr_downloads",
            "Downloads (bundles and single files) by outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )

    def observe(
        self, method: str, route: str, status: int, seconds: float, artifact_type: str | None
    ) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        outcome = "ok" if status < 400 else ("rejected" if status < 500 else "error")
        if (method, route) in INGEST_ROUTES:
            self.ingests.labels(artifact_type or "unknown", outcome).inc()
        elif method == "GET" and route.startswith("/download/{id}"):
            kind = "file" if "/files/" in route else "bundle"
            self.downloads.labels(kind, outcome).inc()


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request) -> Response:
    collected: HttpMetrics = request.app.state.http_metrics
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
