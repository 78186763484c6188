"""Protections as the registry knows them: lifecycle states, scan verdicts, sensitive models'
monitors and download history."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class LifecycleState(enum.StrEnum):
    active = "active"
    deprecated = "deprecated"
    quarantined = "quarantined"


@dataclass(frozen=True)
class ArtifactStatus:
    artifact_id: str
    state: LifecycleState = LifecycleState.active
    reason: str = ""
    changed_by: str | None = None
    changed_at: datetime | None = None
    sensitive: bool = False


@dataclass(frozen=True)
class FileScan:
    path: str
    verdict: str  # safe | unsafe | not_pickle (files the scanner does not cover have no scan)
    detail: dict[str, Any]
    scanned_at: datetime


@dataclass(frozen=True)
class Monitor:
    artifact_id: str
    program: str
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class DownloadEvent:
    artifact_id: str
    user_name: str
    at: datetime
    part: str
    allowed: bool
    reason: str | None = None
    exit_code: int | None = None
    first_line: str | None = None


@dataclass(frozen=True)
class InterestEvent:
    artifact_id: str
    user_name: str
    kind: str  # "search" (appeared in search results) or "view" (read by id)
    at: datetime
