"""Health: heartbeat, component health and planned tracks (public); the log viewer's lines and
the download workload (administrators)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from tmr.api.deps import BaseUrlDep, RegistryDep, ServicesDep, UserDep
from tmr.api.errors import redactor_for
from tmr.api.schemas import HealthComponentCollection, TracksResponse
from tmr.errors import NotFound
from tmr.logging_setup import RING, LogScope
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
    request: Request,
    services: ServicesDep,
    base: BaseUrlDep,
    windowMinutes: Annotated[int, Query(ge=5, le=1440)] = 60,  # noqa: N803 - contract name
    includeTimeline: bool = False,  # noqa: N803
) -> dict[str, Any]:
    report = await run_in_threadpool(services.health.components, windowMinutes, includeTimeline)
    lines = RING.lines()
    updated = lines[-1]["ts"] if lines else None
    redactor = redactor_for(request.scope)  # issue details name no host, bucket or path
    for component in report["components"]:
        if redactor is not None:
            component["issues"] = redactor.value(component["issues"])
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
    """The reference experiment (REQUIREMENTS §1.7) by default; smaller runs for a quick look."""

    models: int = Field(
        default=500, ge=1, le=2000,
        description="registry size: models are uploaded first when the registry has fewer",
    )  # fmt: skip
    clients: int = Field(default=100, ge=1, le=500, description="concurrent clients")
    seconds: float = Field(default=10.0, ge=1, le=120, description="length of the timed run")


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
    """Runs ``tmr bench downloads``' registry side against this server in a background thread
    (seeding it to ``models`` models, Tiny-LLM among them, when it has fewer); poll
    ``GET /health/workload`` for progress and the result."""
    spec = WorkloadSpec(body.models, body.clients, body.seconds)
    # Its own token, so the run does not spend the administrator's: the uploads, the paged
    # enumeration, a lease block per client, and up to 2000 flows a second; revoked at the end.
    calls = spec.models + 100 + spec.clients * (LEASE_CALLS + 1) + int(spec.seconds * 2000)
    token = await run_in_threadpool(registry.auth.issue_token, user.name, calls)

    def revoke() -> None:
        registry.accounts.logout(user, token)

    # The workload talks to this very server over loopback HTTP, as real clients would.
    base = _loopback_base(request)
    return _jobs(request).start(spec, base, token, on_done=revoke).view()


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
