"""Health: heartbeat, component health and planned tracks (public); the log viewer's lines and
the download workload (administrators)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from tmr.api.deps import BaseUrlDep, RegistryDep, ServicesDep, UserDep, run_read
from tmr.api.schemas import HealthComponentCollection, TracksResponse
from tmr.errors import NotFound
from tmr.logging_setup import RING, LogScope
from tmr.services.catalog import CatalogService
from tmr.services.downloads import DownloadService
from tmr.services.token_budget import LEASE_CALLS
from tmr.services.workload import WorkloadJobs, WorkloadSpec

router = APIRouter(tags=["health"])

TRACKS = [
    "Performance track",
    "Access control track",
    "High assurance track",
    "Other Security track",
]


@router.get("/health", summary="Heartbeat check (BASELINE)", operation_id="RegistryHealthHeartbeat")
async def heartbeat(services: ServicesDep) -> dict[str, Any]:
    return await run_in_threadpool(services.health.summary)


@router.get(
    "/health/components",
    response_model=HealthComponentCollection,
    response_model_exclude_none=True,
    summary="Get component health details (NON-BASELINE)",
    operation_id="RegistryHealthComponents",
)
async def components(
    services: ServicesDep,
    base: BaseUrlDep,
    windowMinutes: Annotated[int, Query(ge=5, le=1440)] = 60,  # noqa: N803 - contract name
    includeTimeline: bool = False,  # noqa: N803
) -> dict[str, Any]:
    report = await run_in_threadpool(services.health.components, windowMinutes, includeTimeline)
    lines = RING.lines()
    updated = lines[-1]["ts"] if lines else None
    for component in report["components"]:
        ref: dict[str, Any] = {
            "label": f"{component.get('display_name', component['id'])} log (administrators)",
            "url": f"{base}/health/logs?component={component['id']}",
            "tail_available": True,
        }
        if updated:
            ref["last_updated_at"] = updated
        component["logs"] = [ref]
    return report


@router.get(
    "/health/dashboard",
    summary="Per-minute series per component and a per-route table (the health dashboard)",
)
async def dashboard(
    services: ServicesDep,
    windowMinutes: Annotated[int, Query(ge=5, le=1440)] = 60,  # noqa: N803 - as in components
) -> dict[str, Any]:
    return await run_in_threadpool(services.health.dashboard, windowMinutes)


LOG_SCOPES = {
    "api": LogScope(routes=("/",), loggers=("tmr.http", "tmr.api")),
    "database": LogScope(loggers=("tmr.storage.db",)),
    "blob-store": LogScope(loggers=("tmr.storage.blobs", "tmr.storage.bundles")),
    "ingest": LogScope(
        routes=("/artifact/{artifact_type}", "/artifacts/{artifact_type}/{id}"),
        loggers=("tmr.ingest", "tmr.sources", "tmr.metrics"),
    ),
    "downloads": LogScope(routes=("/download",), loggers=("tmr.downloads",)),
    "monitors": LogScope(
        routes=("/artifact/model/{id}/monitor", "/artifact/model/{id}/sensitive"),
        loggers=("tmr.protections", "tmr.monitor"),
    ),
}
Component = Literal["api", "database", "blob-store", "ingest", "downloads", "monitors"]
Level = Literal["debug", "info", "warning", "error", "critical"]


class LogLines(BaseModel):
    lines: list[dict[str, Any]] = Field(
        description="newest first; each the JSON object written to the log stream"
    )
    buffered: int = Field(description="lines this process keeps in memory (TMR_LOG_BUFFER)")


@router.get(
    "/health/logs",
    response_model=LogLines,
    responses={400: {}, 401: {}, 403: {}},
    summary="Recent structured log lines of this process (administrators)",
)
def logs(
    user: UserDep,
    level: Level | None = None,
    route: Annotated[str | None, Query(max_length=256)] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    component: Component | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> LogLines:
    lines = RING.query(
        min_level=level,
        route=route,
        request_id=request_id,
        scope=LOG_SCOPES[component] if component else None,
        limit=limit,
    )
    return LogLines(lines=lines, buffered=len(RING.lines()))


class WorkloadRequest(BaseModel):
    artifact_id: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9\-]+$", max_length=64)
    artifact_name: str = Field(
        default="Tiny-LLM", min_length=1, max_length=512,
        description="used when artifact_id is absent: the first artifact with this exact name",
    )
    clients: int = Field(default=100, ge=1, le=500)
    downloads_per_client: int = Field(default=1, ge=1, le=100)
    part: Literal["all", "weights", "card", "datasets", "code"] = "all"


def _loopback_base(request: Request) -> str:
    server = request.scope.get("server")
    if not server or server[1] is None:
        return str(request.base_url).rstrip("/")
    host = server[0]
    host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{server[1]}"


def _jobs(request: Request) -> WorkloadJobs:
    return request.app.state.workloads  # type: ignore[no-any-return]


@router.post(
    "/health/workload",
    status_code=202,
    responses={400: {}, 401: {}, 403: {}, 404: {}, 409: {}},
    summary="Start the download-performance workload against this registry (administrators)",
)
async def start_workload(
    request: Request, registry: RegistryDep, user: UserDep, body: WorkloadRequest
) -> dict[str, Any]:
    artifact_id = body.artifact_id
    catalog = CatalogService(registry)
    if artifact_id is None:
        try:
            found = await run_read(registry, catalog.by_name, body.artifact_name)
        except NotFound:
            found = []
        if not found:
            raise NotFound(
                f"no artifact named {body.artifact_name!r}: register it first, or give an id"
            )
        artifact_id = found[0].id
    else:
        await run_in_threadpool(DownloadService(registry).part_sizes, artifact_id)
    spec = WorkloadSpec(artifact_id, body.clients, body.downloads_per_client, body.part)
    # Concurrent first requests each lease a block of calls, so the budget covers one block per
    # client on top of the downloads.
    calls = spec.clients * (spec.downloads_per_client + LEASE_CALLS) + 10
    token = await run_in_threadpool(registry.auth.issue_token, user.name, calls)
    # The workload talks to this very server over loopback HTTP, as real clients would.
    base = _loopback_base(request)
    return _jobs(request).start(spec, base, token).view()


@router.get(
    "/health/workload",
    responses={401: {}, 403: {}, 404: {}},
    summary="Progress or result of the latest workload run (administrators)",
)
def workload_status(request: Request, user: UserDep) -> dict[str, Any]:
    job = _jobs(request).current
    if job is None:
        raise NotFound("no workload has run in this process yet")
    return job.view()


@router.get(
    "/tracks",
    response_model=TracksResponse,
    summary="Get the list of tracks a student has planned to implement in their code",
    responses={500: {}},
)
def tracks() -> TracksResponse:
    return TracksResponse(plannedTracks=TRACKS)
