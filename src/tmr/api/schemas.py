"""Request and response bodies, named after the components of the 3.4.7 contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tmr.domain.artifact import ArtifactType

ID_PATTERN = r"^[a-zA-Z0-9\-]+$"
Permission = Literal["upload", "search", "download", "admin"]
DEFAULT_PERMISSIONS: tuple[Permission, ...] = ("search", "download")


class ArtifactMetadata(BaseModel):
    name: str
    id: str = Field(pattern=ID_PATTERN)
    type: ArtifactType


class ArtifactData(BaseModel):
    url: str = Field(min_length=1, max_length=4096)
    download_url: str | None = None
    name: str | None = Field(default=None, max_length=512)

    model_config = ConfigDict(extra="allow")


class Artifact(BaseModel):
    metadata: ArtifactMetadata
    data: ArtifactData


class ArtifactQuery(BaseModel):
    name: str = Field(min_length=1, max_length=512)
    types: list[ArtifactType] | None = None


class ArtifactVersionQuery(BaseModel):
    version: str = Field(min_length=1, max_length=64,
                         description="1.2.3, 1.2.3-2.1.0, ~1.2.0 or ^1.2.0")
    name: str | None = Field(default=None, max_length=512)
    types: list[ArtifactType] | None = None


class VersionedArtifact(ArtifactMetadata):
    version: str


class ArtifactRegEx(BaseModel):
    regex: str


class User(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    is_admin: bool


class UserAuthenticationInfo(BaseModel):
    password: str = Field(max_length=1024)


class AuthenticationRequest(BaseModel):
    user: User
    secret: UserAuthenticationInfo


class ArtifactAuditEntry(BaseModel):
    user: User
    date: str
    artifact: ArtifactMetadata
    action: Literal["CREATE", "UPDATE", "DOWNLOAD", "RATE", "AUDIT"]


class ArtifactCostEntry(BaseModel):
    standalone_cost: float | None = None
    total_cost: float

    model_config = ConfigDict(json_schema_extra={"required": ["total_cost"]})


class ArtifactLineageNode(BaseModel):
    artifact_id: str
    name: str
    source: str
    metadata: dict[str, Any] | None = None


class ArtifactLineageEdge(BaseModel):
    from_node_artifact_id: str
    to_node_artifact_id: str
    relationship: str


class ArtifactLineageGraph(BaseModel):
    nodes: list[ArtifactLineageNode]
    edges: list[ArtifactLineageEdge]


class SimpleLicenseCheckRequest(BaseModel):
    github_url: str = Field(min_length=1, max_length=2048)


class SizeScore(BaseModel):
    raspberry_pi: float
    jetson_nano: float
    desktop_pc: float
    aws_server: float


class ModelRating(BaseModel):
    name: str
    category: str
    net_score: float
    net_score_latency: float
    ramp_up_time: float
    ramp_up_time_latency: float
    bus_factor: float
    bus_factor_latency: float
    performance_claims: float
    performance_claims_latency: float
    license: float
    license_latency: float
    dataset_and_code_score: float
    dataset_and_code_score_latency: float
    dataset_quality: float
    dataset_quality_latency: float
    code_quality: float
    code_quality_latency: float
    reproducibility: float
    reproducibility_latency: float
    reviewedness: float
    reviewedness_latency: float
    tree_score: float
    tree_score_latency: float
    size_score: SizeScore
    size_score_latency: float


class TracksResponse(BaseModel):
    plannedTracks: list[str]  # noqa: N815 - the contract's spelling


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=8, max_length=1024)
    is_admin: bool = False
    permissions: list[Permission] = Field(default_factory=lambda: list(DEFAULT_PERMISSIONS))


class UserOut(BaseModel):
    name: str
    is_admin: bool
    permissions: list[str]
    disabled: bool = False


class StatusOut(BaseModel):
    status: str
    detail: str | None = None


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class PasswordReset(BaseModel):
    new_password: str = Field(min_length=8, max_length=1024)


class TokenOut(BaseModel):
    id: str
    issued_at: str
    expires_at: str
    calls_left: int
    current: bool = Field(
        default=False, description="the token this request carries (signing out revokes it)"
    )


class SecurityEventOut(BaseModel):
    seq: int
    at: str
    action: str
    actor: str
    subject: str
    detail: str | None = None
    client: str | None = None


class HealthIssue(BaseModel):
    code: str
    severity: Literal["info", "warning", "error"]
    summary: str
    details: str | None = None


class HealthTimelineEntry(BaseModel):
    bucket: str
    value: float
    unit: str | None = None


class HealthLogReference(BaseModel):
    label: str
    url: str
    tail_available: bool | None = None
    last_updated_at: str | None = None


class HealthComponentDetail(BaseModel):
    id: str
    display_name: str | None = None
    status: Literal["ok", "degraded", "critical", "unknown"]
    observed_at: str
    description: str | None = None
    metrics: dict[str, int | float | str | bool] | None = None
    issues: list[HealthIssue] | None = None
    timeline: list[HealthTimelineEntry] | None = None
    logs: list[HealthLogReference] | None = None


class HealthComponentCollection(BaseModel):
    components: list[HealthComponentDetail]
    generated_at: str
    window_minutes: int | None = None
