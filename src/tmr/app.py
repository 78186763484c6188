"""create_app(settings): wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from tmr import __version__, web
from tmr.api import (
    accounts,
    artifacts,
    auth,
    downloads,
    groups,
    health,
    models,
    prometheus,
    protections,
    uploads,
)
from tmr.api.body_limit import BodyLimitMiddleware
from tmr.api.errors import error_response, install_error_handlers
from tmr.api.fastpath import FastArtifactReads, FastSignedDownloads
from tmr.api.lifecycle import lifespan_for
from tmr.api.middleware import RequestLogMiddleware
from tmr.api.permissions import AccessControlMiddleware, check_table
from tmr.api.workload_runner import reference_workload
from tmr.composition import Registry, build_registry, build_services
from tmr.config import Settings, load_settings
from tmr.domain.security import SecurityAction
from tmr.logging_setup import configure_logging
from tmr.services.workload import WorkloadJobs

DESCRIPTION = """The Trustworthy Model Registry: models, datasets and code, each rated for trust.

Implements every path of the ECE 461 Phase 2 contract (3.4.7) plus uploads, downloads, rating
explanations and user management. Authenticate with PUT /authenticate and send the token in
X-Authorization."""


def create_app(
    settings: Settings | None = None, registry: Registry | None = None, fast_reads: bool = True
) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_file, settings.log_buffer_lines)
    registry = registry or build_registry(settings)
    services = build_services(registry)
    app = FastAPI(
        title="Trustworthy Model Registry",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan_for(
            services.sweeper,
            registry.settings.sweep_interval_seconds,
            registry.auth,
            registry.activity,
            registry.search,
        ),
        # FastAPI's own OpenTelemetry hooks look up the global providers on every request
        # (about 4 % of a cached read's CPU, issue 10); the registry exports its figures through
        # /metrics (Prometheus) and /health instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.registry = registry
    app.state.services = services
    app.state.workloads = WorkloadJobs(reference_workload)
    app.state.http_metrics = prometheus.HttpMetrics()
    install_error_handlers(app)
    for module in (
        health,
        auth,
        accounts,
        artifacts,
        models,
        uploads,
        downloads,
        protections,
        groups,
        prometheus,
    ):
        app.include_router(module.router)
    web.mount(app)
    check_table(app.routes)
    if fast_reads:  # inside the access middleware: the token and permission are checked first
        app.add_middleware(
            FastArtifactReads,
            registry=registry,
            protections=services.protections,
            routes=app.routes,
        )
        app.add_middleware(
            FastSignedDownloads,
            registry=registry,
            downloads=services.downloads,
            routes=app.routes,
        )
    # Outside it: authorisation runs after CORS preflights and inside the request log (ids).
    app.add_middleware(
        AccessControlMiddleware,
        routes=app.routes,
        cached=registry.auth.cached_user,
        authenticate=registry.auth.user_for_token,
        render=error_response,
        on_denied=lambda user, need, method, path: registry.security.record(
            SecurityAction.DENIED, user.name, f"{method} {path}", f"needs {need!r}"
        ),
    )
    # Outside it: an oversized body is refused before authentication or any read.
    app.add_middleware(
        BodyLimitMiddleware,
        json_limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes,
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["offset", "x-request-id", "content-range"],
        )
    app.add_middleware(
        RequestLogMiddleware, activity=registry.activity, metrics=app.state.http_metrics
    )
    return app
