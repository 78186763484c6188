"""One served request as the health figures count it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    at: float
    method: str
    route: str
    status: int
    latency_ms: float
    artifact_type: str | None
    client: str | None
    replica: str = ""
