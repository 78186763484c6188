"""Atomic groups (REQUIREMENTS §1.7): a request opened empty, filled with commands, executed once.

A group is ``open`` while commands are appended, ``executing`` while one process prepares and
applies them, and then ``committed`` (every change visible) or ``failed`` (none, with the
reason). An open group nobody executes becomes ``expired`` at ``expires_at``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from tmr.domain.artifact import ArtifactType


class GroupStatus(enum.StrEnum):
    open = "open"
    executing = "executing"
    committed = "committed"
    failed = "failed"
    expired = "expired"


class CommandOp(enum.StrEnum):
    register = "register"  # register by URL (POST /artifact/{type})
    upload = "upload"  # register an uploaded zip (POST /artifact/{type}/upload)
    update = "update"  # new contents from a URL (PUT /artifacts/{type}/{id})
    delete = "delete"  # DELETE /artifacts/{type}/{id}


@dataclass(frozen=True)
class GroupCommand:
    position: int
    op: CommandOp
    type: ArtifactType
    artifact_id: str | None = None  # update, delete
    url: str | None = None  # register, update
    name: str | None = None  # register, upload (optional); update (must match when given)
    filename: str | None = None  # upload
    blob_key: str | None = None  # upload: the zip kept in the blob store until execution
    sensitive: bool = False  # register, upload: a model whose downloads a monitor approves


@dataclass(frozen=True)
class CommandResult:
    """What one command did once its group committed."""

    position: int
    op: CommandOp
    artifact_id: str
    artifact_name: str
    type: ArtifactType


@dataclass(frozen=True)
class Group:
    id: str
    created_by: str
    status: GroupStatus
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    reason: str | None = None
    commands: list[GroupCommand] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)

    def audit_detail(self) -> str:
        """The ``detail`` of every audit entry the group writes (shared by all of them)."""
        return f"group {self.id}"
