"""Unauthenticated endpoints: heartbeat, component health and planned tracks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from tmr.api.deps import RegistryDep
from tmr.api.schemas import HealthComponentCollection, TracksResponse
from tmr.services import health

router = APIRouter(tags=["health"])

TRACKS = [
    "Performance track",
    "Access control track",
    "High assurance track",
    "Other Security track",
]


@router.get("/health", summary="Heartbeat check (BASELINE)", operation_id="RegistryHealthHeartbeat")
async def heartbeat(registry: RegistryDep) -> dict[str, Any]:
    return await run_in_threadpool(health.summary, registry)


@router.get(
    "/health/components",
    response_model=HealthComponentCollection,
    response_model_exclude_none=True,
    summary="Get component health details (NON-BASELINE)",
    operation_id="RegistryHealthComponents",
)
async def components(
    registry: RegistryDep,
    windowMinutes: Annotated[int, Query(ge=5, le=1440)] = 60,  # noqa: N803 - contract name
    includeTimeline: bool = False,  # noqa: N803
) -> dict[str, Any]:
    return await run_in_threadpool(health.components, registry, windowMinutes, includeTimeline)


@router.get(
    "/tracks",
    response_model=TracksResponse,
    summary="Get the list of tracks a student has planned to implement in their code",
    responses={500: {}},
)
def tracks() -> TracksResponse:
    return TracksResponse(plannedTracks=TRACKS)
