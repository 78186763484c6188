"""Atomic groups (REQUIREMENTS §1.7), in three steps: open, append commands, execute.

``POST /groups`` opens an empty group; ``POST /groups/{group_id}/commands`` appends a register,
update or delete command (JSON), ``POST /groups/{group_id}/commands/upload`` an upload (multipart
zip); ``POST /groups/{group_id}/execute`` applies all of them in one transaction, or none;
``GET /groups/{group_id}`` is the status. Only the creator of a group or an administrator may
touch it; each command also needs what the single operation needs (services/groups.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Body, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from tmr.api import schemas
from tmr.api.deps import RegistryDep, ServicesDep, UserDep
from tmr.api.errors import redactor_for
from tmr.domain.artifact import ArtifactType
from tmr.domain.groups import CommandOp, Group, GroupCommand, GroupStatus
from tmr.errors import InvalidUpload, TooLarge

router = APIRouter(tags=["groups"])

GroupPath = Annotated[
    str, PathParam(pattern=schemas.ID_PATTERN, max_length=64, description="group id")
]
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "A malformed request or command (the message says what is wrong)."},
    401: {"description": "Not the group's creator or an administrator, or a missing permission."},
    403: {"description": "Missing, invalid or expired token."},
    404: {"description": "No such group (or no such artifact for an update or delete)."},
    409: {"description": "The group is not open (it executes once), or a duplicate."},
    410: {"description": "The group expired before it was executed."},
}


# --- bodies -----------------------------------------------------------------------------------
class RegisterCommand(BaseModel):
    """Register an artifact from a source URL (as ``POST /artifact/{type}``)."""

    op: Literal["register"]
    type: ArtifactType
    url: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(default=None, max_length=512)
    sensitive: bool = False


class UpdateCommand(BaseModel):
    """New contents for an artifact from a URL (as ``PUT /artifacts/{type}/{id}``)."""

    op: Literal["update"]
    id: str = Field(pattern=schemas.ID_PATTERN, max_length=64)
    url: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(default=None, max_length=512, description="must match, if given")
    type: ArtifactType | None = Field(default=None, description="must match, if given")


class DeleteCommand(BaseModel):
    """Delete an artifact (as ``DELETE /artifacts/{type}/{id}``)."""

    op: Literal["delete"]
    type: ArtifactType
    id: str = Field(pattern=schemas.ID_PATTERN, max_length=64)


Command = Annotated[RegisterCommand | UpdateCommand | DeleteCommand, Field(discriminator="op")]


class GroupCommandOut(BaseModel):
    position: int = Field(description="1-based order of execution")
    op: CommandOp
    type: ArtifactType
    id: str | None = Field(default=None, description="the artifact updated or deleted")
    url: str | None = None
    name: str | None = None
    filename: str | None = Field(default=None, description="the uploaded zip's file name")
    sensitive: bool = False


class GroupResultOut(BaseModel):
    position: int
    op: CommandOp
    artifact: schemas.ArtifactMetadata


class GroupOut(BaseModel):
    id: str
    status: GroupStatus
    created_by: str
    created_at: datetime
    expires_at: datetime = Field(description="an open group not executed by then expires (410)")
    updated_at: datetime
    reason: str | None = Field(default=None, description="why it failed or expired")
    commands: list[GroupCommandOut] = Field(default_factory=list)
    results: list[GroupResultOut] = Field(
        default_factory=list, description="what each command did, once committed"
    )


def command_out(c: GroupCommand) -> GroupCommandOut:
    return GroupCommandOut(
        position=c.position,
        op=c.op,
        type=c.type,
        id=c.artifact_id,
        url=c.url,
        name=c.name,
        filename=c.filename,
        sensitive=c.sensitive,
    )


def group_out(g: Group, redact: Callable[[str], str] = str) -> GroupOut:
    """The group as answered; ``redact`` keeps deployment internals out of a stored reason."""
    return GroupOut(
        id=g.id,
        status=g.status,
        created_by=g.created_by,
        created_at=g.created_at,
        expires_at=g.expires_at,
        updated_at=g.updated_at,
        reason=redact(g.reason) if g.reason else g.reason,
        commands=[command_out(c) for c in g.commands],
        results=[
            GroupResultOut(
                position=r.position,
                op=r.op,
                artifact=schemas.ArtifactMetadata(
                    name=r.artifact_name, id=r.artifact_id, type=r.type
                ),  # fmt: skip
            )
            for r in g.results
        ],
    )


# --- routes -----------------------------------------------------------------------------------
@router.post(
    "/groups",
    response_model=GroupOut,
    status_code=201,
    responses={401: ERRORS[401], 403: ERRORS[403]},
    summary="Open an empty atomic group (step 1 of 3).",
    operation_id="GroupOpen",
)
def open_group(services: ServicesDep, user: UserDep) -> GroupOut:
    return group_out(services.groups.open(user))


@router.get(
    "/groups",
    response_model=list[GroupOut],
    responses={401: ERRORS[401], 403: ERRORS[403]},
    summary="The caller's 100 newest groups (an administrator's: everyone's), without commands.",
    operation_id="GroupList",
)
def list_groups(request: Request, services: ServicesDep, user: UserDep) -> list[GroupOut]:
    redact = _redactor(request)
    return [group_out(g, redact) for g in services.groups.list(user)]


@router.get(
    "/groups/{group_id}",
    response_model=GroupOut,
    responses={k: ERRORS[k] for k in (400, 401, 403, 404)},
    summary="A group's status, commands and (once committed) results.",
    operation_id="GroupGet",
)
def get_group(
    request: Request, services: ServicesDep, user: UserDep, group_id: GroupPath
) -> GroupOut:
    return group_out(services.groups.get(group_id, user), _redactor(request))


def _redactor(request: Request) -> Callable[[str], str]:
    redactor = redactor_for(request.scope)
    return redactor.text if redactor is not None else str


@router.post(
    "/groups/{group_id}/commands",
    response_model=GroupCommandOut,
    status_code=201,
    responses={**ERRORS, 413: {"description": "The group holds the most commands allowed."}},
    summary="Append a register, update or delete command to an open group (step 2 of 3).",
    operation_id="GroupAppend",
)
def append_command(
    services: ServicesDep,
    user: UserDep,
    group_id: GroupPath,
    command: Annotated[Command, Body()],
) -> GroupCommandOut:
    service = services.groups
    if isinstance(command, RegisterCommand):
        name = command.name.strip() if command.name and command.name.strip() else None
        added = service.append_register(
            group_id, user, command.type, command.url, name, command.sensitive
        )
    elif isinstance(command, UpdateCommand):
        added = service.append_update(
            group_id, user, command.id, command.url, command.name, command.type
        )
    else:
        added = service.append_delete(group_id, user, command.type, command.id)
    return command_out(added)


@router.post(
    "/groups/{group_id}/commands/upload",
    response_model=GroupCommandOut,
    status_code=201,
    responses={**ERRORS, 413: {"description": "Too large, or the group is full."}},
    summary="Append an upload (a zip laid out like a Hugging Face repository) to an open group.",
    operation_id="GroupAppendUpload",
)
def append_upload(
    registry: RegistryDep,
    services: ServicesDep,
    user: UserDep,
    group_id: GroupPath,
    type: Annotated[ArtifactType, Form(description="artifact type")],
    file: Annotated[UploadFile, File(description="zip of the repository")],
    name: Annotated[str | None, Form(max_length=512)] = None,
    sensitive: Annotated[bool, Form()] = False,
) -> GroupCommandOut:
    filename = Path(file.filename or "upload.zip").name
    if not filename:
        raise InvalidUpload("the upload has no file name")
    work = Path(tempfile.mkdtemp(prefix="group-upload-", dir=registry.work_dir))
    try:
        zip_path = work / "bundle.zip"
        with zip_path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        limit = registry.settings.max_upload_bytes
        if zip_path.stat().st_size > limit:
            raise TooLarge(f"upload exceeds the limit of {limit} bytes")
        chosen = name.strip() if name and name.strip() else None
        added = services.groups.append_upload(
            group_id, user, type, zip_path, filename, chosen, sensitive
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return command_out(added)


@router.post(
    "/groups/{group_id}/execute",
    response_model=GroupOut,
    responses={
        **ERRORS,
        424: {"description": "The ingest gate refused a model (nothing was changed)."},
        502: {"description": "An upstream failed (nothing was changed)."},
        503: {"description": "A store failed (nothing was changed)."},
    },
    summary="Execute a group: every change becomes visible together, or none (step 3 of 3).",
    operation_id="GroupExecute",
)
async def execute_group(services: ServicesDep, user: UserDep, group_id: GroupPath) -> GroupOut:
    done = await run_in_threadpool(services.group_execution.execute, group_id, user)
    return group_out(done)
