"""Artifacts as the registry knows them, independent of storage and transport."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class ArtifactType(enum.StrEnum):
    model = "model"
    dataset = "dataset"
    code = "code"


class AuditAction(enum.StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DOWNLOAD = "DOWNLOAD"
    RATE = "RATE"
    AUDIT = "AUDIT"
    REJECT = "REJECT"
    LIFECYCLE = "LIFECYCLE"  # state changed (detail: "quarantined: reason")
    SENSITIVE = "SENSITIVE"  # marked or unmarked sensitive
    MONITOR = "MONITOR"  # monitoring program uploaded, replaced or deleted
    REFUSE = "REFUSE"  # a download refused (quarantine or monitor)
    DELETE = "DELETE"


@dataclass(frozen=True)
class Artifact:
    id: str
    name: str
    type: ArtifactType
    url: str
    created_at: datetime
    updated_at: datetime
    size_bytes: int = 0
    version: str | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    artifact_id: str
    artifact_name: str
    artifact_type: ArtifactType
    user_name: str
    user_is_admin: bool
    action: AuditAction
    at: datetime
    detail: str | None = None

    @classmethod
    def now(
        cls, artifact: Artifact, user: User, action: AuditAction, detail: str | None = None
    ) -> AuditEntry:
        """An entry for ``user`` doing ``action`` on ``artifact`` at the current UTC time."""
        return cls(
            artifact_id=artifact.id,
            artifact_name=artifact.name,
            artifact_type=artifact.type,
            user_name=user.name,
            user_is_admin=user.is_admin,
            action=action,
            at=datetime.now(UTC),
            detail=detail,
        )


@dataclass(frozen=True)
class User:
    name: str
    is_admin: bool
    permissions: frozenset[str] = field(default_factory=frozenset)
    disabled: bool = False


@dataclass(frozen=True)
class TokenInfo:
    """What a user may see of one of their tokens (never the secret)."""

    id: str
    user_name: str
    issued_at: datetime
    expires_at: datetime
    calls_left: int
    token_hash: str = field(repr=False, default="")


def may_change(user: User, artifact: Artifact) -> bool:
    """Ownership: the user who registered an artifact, or an administrator."""
    return user.is_admin or (artifact.created_by is not None and artifact.created_by == user.name)
