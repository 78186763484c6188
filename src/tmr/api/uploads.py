"""Upload of the company's own artifacts as a zip laid out like a Hugging Face repository.

``POST /artifact/{artifact_type}/upload`` (multipart: ``file``, optional ``name``). The zip is
spooled to disk, never held in memory, extracted safely, rated like an ingested artifact and
stored atomically.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from tmr.api import schemas
from tmr.api.artifacts import TypePath, envelope
from tmr.api.deps import LinksDep, RegistryDep, ServicesDep, UserDep
from tmr.api.watched import while_client_waits
from tmr.composition import Registry
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.errors import InvalidUpload, TooLarge
from tmr.services.uploads import UploadService

router = APIRouter(tags=["uploads"])


@router.post(
    "/artifact/{artifact_type}/upload",
    response_model=schemas.Artifact,
    status_code=201,
    responses={400: {}, 403: {}, 413: {}, 424: {}},
    summary="Upload an artifact as a zip laid out like a Hugging Face repository.",
    operation_id="ArtifactUpload",
)
async def upload(
    request: Request,
    registry: RegistryDep,
    services: ServicesDep,
    user: UserDep,
    links: LinksDep,
    artifact_type: TypePath,
    file: Annotated[UploadFile, File(description="zip of the repository")],
    name: Annotated[str | None, Form(max_length=512)] = None,
    sensitive: Annotated[
        bool, Form(description="a model whose downloads its monitoring program must approve")
    ] = False,
    monitor: Annotated[
        UploadFile | None,
        File(description="JavaScript monitoring program (implies sensitive; models only)"),
    ] = None,
) -> schemas.Artifact:
    # A body over the limit never gets here: api/body_limit.py refuses it (413) while it streams.
    program = None
    if monitor is not None:
        raw = await monitor.read(registry.settings.monitor_program_max_bytes + 1)
        try:
            program = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidUpload("the monitoring program must be UTF-8 JavaScript text") from exc
    created = await while_client_waits(
        request,
        lambda: _store(
            registry, services.uploads, artifact_type, file, name, user, sensitive, program
        ),
    )
    return envelope(created, links)


def _store(
    registry: Registry,
    uploads: UploadService,
    type_: ArtifactType,
    file: UploadFile,
    name: str | None,
    user: User,
    sensitive: bool = False,
    program: str | None = None,
) -> Artifact:
    filename = Path(file.filename or "upload.zip").name
    if not filename:
        raise InvalidUpload("the upload has no file name")
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=registry.work_dir))
    try:
        zip_path = work / "bundle.zip"
        with zip_path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        if zip_path.stat().st_size > registry.settings.max_upload_bytes:
            raise TooLarge(
                f"upload exceeds the limit of {registry.settings.max_upload_bytes} bytes"
            )
        return uploads.register(
            type_,
            zip_path,
            work / "files",
            filename,
            name,
            user,
            sensitive=sensitive,
            monitor=program,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
