"""Downloads (our design; every artifact's ``download_url`` points here).

``GET /download/{id}`` streams a zip of the whole bundle, or of one part with ``?part=weights``,
``card``, ``datasets`` or ``code``. ``GET /download/{id}/files/{path}`` serves one file with
``Range`` and ``HEAD`` support: zero-copy from local files, or a redirect to a presigned object
store URL when bundles live in S3 (never for a sensitive model, whose monitor must see every
download). Every GET is recorded in the audit trail; the service's download gate refuses
quarantined artifacts and runs sensitive models' monitors before any byte is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool

from tmr.api.artifacts import IdPath
from tmr.api.deps import RegistryDep, UserDep
from tmr.errors import TmrError
from tmr.services.downloads import PARTS, DownloadService, parse_range

router = APIRouter(tags=["downloads"])

PartQuery = Annotated[str, Query(description=f"one of {', '.join(PARTS)}")]


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(filename)}"


class PartSize(BaseModel):
    part: str
    files: int
    bytes: int = Field(description="sum of the files' sizes (the zip adds a small overhead)")


@router.get(
    "/download/{id}/parts",
    response_model=list[PartSize],
    responses={400: {}, 403: {}, 404: {}},
    summary="Each download part of an artifact with its file count and size",
)
async def download_parts(registry: RegistryDep, user: UserDep, id: IdPath) -> list[PartSize]:
    sizes = await run_in_threadpool(DownloadService(registry).part_sizes, id)
    return [PartSize(part=part, files=files, bytes=size) for part, files, size in sizes]


@router.get(
    "/download/{id}",
    operation_id="DownloadBundle",
    responses={
        200: {"content": {"application/zip": {}}},
        400: {},
        403: {"description": "bad token, or refused by the model's monitoring program"},
        404: {},
        423: {"description": "the artifact is quarantined (the reason is in the message)"},
    },
)
@router.head("/download/{id}", operation_id="DownloadBundleHead", include_in_schema=False)
async def download_bundle(
    request: Request, registry: RegistryDep, user: UserDep, id: IdPath, part: PartQuery = "all"
) -> Response:
    service = DownloadService(registry)
    head = request.method == "HEAD"
    plan = await run_in_threadpool(lambda: service.plan(id, part, user, head=head))
    headers = {
        "content-disposition": _disposition(plan.filename),
        "x-tmr-files": str(len(plan.files)),
    }
    if head:
        return Response(status_code=200, media_type="application/zip", headers=headers)
    await run_in_threadpool(service.record_download, plan.artifact, user, f"part={part}")
    return StreamingResponse(
        iterate_in_threadpool(service.zip_stream(plan)),
        media_type="application/zip",
        headers=headers,
    )


@router.get(
    "/download/{id}/files/{path:path}",
    operation_id="DownloadFile",
    responses={
        200: {},
        206: {},
        302: {},
        400: {},
        403: {"description": "bad token, or refused by the model's monitoring program"},
        404: {},
        416: {},
        423: {"description": "the artifact is quarantined (the reason is in the message)"},
    },
)
@router.head(
    "/download/{id}/files/{path:path}", operation_id="DownloadFileHead", include_in_schema=False
)
async def download_file(
    request: Request,
    registry: RegistryDep,
    user: UserDep,
    id: IdPath,
    path: Annotated[str, Path(max_length=1024)],
) -> Response:
    service = DownloadService(registry)
    head = request.method == "HEAD"
    rng = request.headers.get("range")
    opened = await run_in_threadpool(
        lambda: service.open_file(id, path, user, range_header=rng, head=head)
    )
    artifact, file, key = opened.artifact, opened.file, opened.key
    if not head:
        await run_in_threadpool(service.record_download, artifact, user, f"file={path}")
    filename = path.rsplit("/", 1)[-1]
    local = registry.blobs.local_path(key)
    if local is not None:
        return FileResponse(local, filename=filename, media_type="application/octet-stream")
    presigned = None if opened.no_presign else registry.blobs.presigned_url(key, 900, filename)
    if presigned:
        return RedirectResponse(presigned, status_code=302)
    return await _ranged_stream(request, registry, key, file.size, filename)


async def _ranged_stream(
    request: Request, registry: RegistryDep, key: str, size: int, filename: str
) -> Response:
    headers = {"accept-ranges": "bytes", "content-disposition": _disposition(filename)}
    start, end, status = 0, size - 1, 200
    header = request.headers.get("range")
    if header:
        parsed = parse_range(header, size)
        if parsed is None:
            return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
        start, end = parsed
        status = 206
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    headers["content-length"] = str(max(0, end - start + 1))
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    try:
        chunks = registry.blobs.iter_range(key, start, end)
    except TmrError:
        raise
    return StreamingResponse(
        iterate_in_threadpool(chunks),
        status_code=status,
        media_type="application/octet-stream",
        headers=headers,
    )
