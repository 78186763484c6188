"""Bodies of the protection endpoints (lifecycle, sensitive models, monitors, download history,
weight scans, package-confusion audit). Not part of the 3.4.7 contract."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tmr.api.schemas import ArtifactMetadata

State = Literal["active", "deprecated", "quarantined"]


class LifecycleFlag(BaseModel):
    state: State
    reason: str


class ListedArtifact(ArtifactMetadata):
    """ArtifactMetadata as listed, flagged when it is not active or an ancestor is not."""

    lifecycle: LifecycleFlag | None = Field(
        default=None, description="present when the artifact is deprecated or quarantined"
    )
    warnings: list[str] | None = Field(
        default=None, description="one per deprecated or quarantined ancestor in the lineage"
    )


class LifecycleChange(BaseModel):
    state: State
    reason: str = Field(default="", max_length=2000)


class SensitiveChange(BaseModel):
    sensitive: bool


class WeightScan(BaseModel):
    path: str
    verdict: Literal["safe", "unsafe", "not_pickle"]
    unsafe: list[str] = Field(description="the globals off the allow-list, where they occur")
    globals: list[str] = Field(description="every global the pickle would import")
    notes: list[str]
    scanned_at: str


class ProtectionStatus(BaseModel):
    id: str
    name: str
    type: str
    state: State
    reason: str
    changed_by: str | None
    changed_at: str | None
    sensitive: bool
    has_monitor: bool
    warnings: list[str]
    weight_scans: list[WeightScan]


class MonitorUpload(BaseModel):
    program: str = Field(
        min_length=1,
        description="JavaScript run as `node PROGRAM MODEL_NAME "
        "UPLOADER DOWNLOADER ZIP_PATH`; exit 0 allows the download",
    )


class MonitorProgram(BaseModel):
    artifact_id: str
    program: str
    sha256: str
    uploaded_by: str
    uploaded_at: str


class DownloadRecord(BaseModel):
    user: str
    date: str
    part: str
    allowed: bool
    reason: str | None
    exit_code: int | None
    first_line: str | None


class ConfusionFinding(BaseModel):
    artifact: ArtifactMetadata
    score: float = Field(ge=0, le=1)
    looks_like: ArtifactMetadata | None
    reasons: list[str]


class ConfusionAudit(BaseModel):
    threshold: float
    findings: list[ConfusionFinding]
