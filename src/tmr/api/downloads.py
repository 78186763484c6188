"""Downloads (our design; every artifact's ``download_url`` points here).

``GET /download/{id}`` serves the zip of the whole bundle, or of one part with ``?part=weights``,
``card``, ``datasets`` or ``code``; ``GET /download/{id}/files/{path}`` one file. Both support
``Range`` and ``HEAD`` and are served as static files: zero-copy from local files, or a redirect
to a presigned object-store URL when bundles live in S3 (never for a sensitive model, whose
monitor must see every download). A request carries either a token or a signed link (the
``download_url`` of an artifact: user, expiry and HMAC signature in the query). The service's
download gate refuses quarantined artifacts and runs sensitive models' monitors before any byte
is sent, whichever way the request was authorised; every GET is recorded in the audit trail
under its user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool

from tmr.api.artifacts import IdPath
from tmr.api.deps import (
    AUTH_HEADER_DOC,
    LinksDep,
    RegistryDep,
    ServicesDep,
    current_user,
    services_of,
)
from tmr.api.permissions import DOWNLOAD, require
from tmr.composition import Registry
from tmr.domain.artifact import User
from tmr.domain.files import PARTS
from tmr.errors import NotFound
from tmr.services.downloads import parse_range

router = APIRouter(tags=["downloads"])

ZIP = "application/zip"
PartQuery = Annotated[str, Query(description=f"one of {', '.join(PARTS)}")]
AuthHeader = Annotated[
    str | None,
    Header(
        alias="X-Authorization",
        description=AUTH_HEADER_DOC + " Not needed with a signed link (user, expires, signature).",
    ),
]
SignedUser = Annotated[
    str | None, Query(max_length=256, description="signed links: the user the link was issued to")
]
SignedExpiry = Annotated[
    str | None, Query(max_length=20, description="signed links: expiry, epoch seconds")
]
Signature = Annotated[
    str | None, Query(max_length=128, description="signed links: HMAC-SHA256 of the link")
]
DOWNLOAD_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/zip": {}}},
    206: {"description": "the requested byte range"},
    302: {"description": "redirect to a presigned object-store URL (S3 deployments)"},
    400: {},
    401: {"description": "the user (of the token or the signed link) may not download"},
    403: {
        "description": "missing/invalid token, a tampered or expired signed link, or refused "
        "by the model's monitoring program"
    },
    404: {},
    416: {},
    423: {"description": "the artifact is quarantined (the reason is in the message)"},
}


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(filename)}"


class PartSize(BaseModel):
    part: str
    files: int
    bytes: int = Field(description="sum of the files' sizes (the zip adds a small overhead)")
    download_url: str = Field(
        description="a signed, expiring link to this part's zip (no token needed; the web "
        "interface navigates to it so the browser streams the file to disk)"
    )


@router.get(
    "/download/{id}/parts",
    response_model=list[PartSize],
    responses={400: {}, 403: {}, 404: {}},
    summary="Each download part of an artifact with its file count and size",
)
async def download_parts(
    services: ServicesDep, links: LinksDep, id: IdPath
) -> list[PartSize]:
    sizes = await run_in_threadpool(services.downloads.part_sizes, id)
    return [
        PartSize(part=part, files=files, bytes=size, download_url=links.bundle(id, part))
        for part, files, size in sizes
    ]


async def _who(
    request: Request,
    registry: Registry,
    artifact_id: str,
    part: str,
    user: str | None,
    expires: str | None,
    signature: str | None,
) -> User:
    """The user a download is for: a signed link's user (checked here, with that user's
    ``download`` permission), else the token's (checked by the access middleware)."""
    if signature is None:
        return await current_user(request)
    grant = registry.signer.verify(artifact_id, part, user, expires, signature)
    found = await run_in_threadpool(services_of(request).downloads.signed_user, grant.user)
    require(found, DOWNLOAD)
    state = request.scope.setdefault("state", {})
    state["user"] = found.name
    state["tmr_user"] = found
    return found


@router.get("/download/{id}", operation_id="DownloadBundle", responses=DOWNLOAD_RESPONSES)
@router.head("/download/{id}", operation_id="DownloadBundleHead", include_in_schema=False)
async def download_bundle(
    request: Request,
    registry: RegistryDep,
    id: IdPath,
    part: PartQuery = "all",
    x_authorization: AuthHeader = None,
    user: SignedUser = None,
    expires: SignedExpiry = None,
    signature: Signature = None,
) -> Response:
    """The zip of the artifact's bundle or one part, built once and then served as a static
    file (``Range``, ``HEAD``; zero-copy from local files, a presigned redirect from S3)."""
    who = await _who(request, registry, id, part, user, expires, signature)
    service = services_of(request).downloads
    head = request.method == "HEAD"
    bundle = await run_in_threadpool(lambda: service.bundle(id, part, who, head=head))
    if bundle.checked is not None:  # the exact zip the model's monitor approved
        return StreamingResponse(
            iterate_in_threadpool(bundle.checked),
            media_type=ZIP,
            headers={"content-disposition": _disposition(bundle.filename)},
        )
    try:
        return _serve(request, registry, bundle.key, bundle.size, bundle.filename, ZIP,
                      bundle.no_presign)  # fmt: skip
    except NotFound:  # the materialised zip vanished (another replica rebuilt it): once more
        service.forget(bundle.key)
        again = await run_in_threadpool(lambda: service.bundle(id, part, who, head=True))
        return _serve(request, registry, again.key, again.size, again.filename, ZIP,
                      again.no_presign)  # fmt: skip


@router.get(
    "/download/{id}/files/{path:path}", operation_id="DownloadFile", responses=DOWNLOAD_RESPONSES
)
@router.head(
    "/download/{id}/files/{path:path}", operation_id="DownloadFileHead", include_in_schema=False
)
async def download_file(
    request: Request,
    registry: RegistryDep,
    id: IdPath,
    path: Annotated[str, Path(max_length=1024)],
    x_authorization: AuthHeader = None,
    user: SignedUser = None,
    expires: SignedExpiry = None,
    signature: Signature = None,
) -> Response:
    """One file of the artifact, with ``Range`` and ``HEAD``."""
    who = await _who(request, registry, id, f"file:{path}", user, expires, signature)
    service = services_of(request).downloads
    head = request.method == "HEAD"
    rng = request.headers.get("range")
    opened = await run_in_threadpool(
        lambda: service.open_file(id, path, who, range_header=rng, head=head)
    )
    filename = path.rsplit("/", 1)[-1]
    return _serve(request, registry, opened.key, opened.file.size, filename,
                  "application/octet-stream", opened.no_presign)  # fmt: skip


def _serve(
    request: Request,
    registry: Registry,
    key: str,
    size: int,
    filename: str,
    media_type: str,
    no_presign: bool,
) -> Response:
    """A stored blob as a static file: ``FileResponse`` for local files (sent zero-copy by the
    ASGI server: api/zerocopy.py under uvicorn, path-send under granian), a presigned redirect
    from S3 (not for sensitive models), else a ranged stream. A ``HEAD`` is answered here from
    the recorded size: a presigned URL is signed for GET, so S3 would refuse the HEAD (403)."""
    local = registry.blobs.local_path(key)
    if local is not None:
        return FileResponse(local, filename=filename, media_type=media_type)
    head = request.method == "HEAD"
    presigned = None if no_presign or head else registry.blobs.presigned_url(key, 900, filename)
    if presigned:
        return RedirectResponse(presigned, status_code=302)
    return _ranged_stream(request, registry, key, size, filename, media_type)


def _ranged_stream(
    request: Request, registry: Registry, key: str, size: int, filename: str, media_type: str
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
    chunks = registry.blobs.iter_range(key, start, end)
    return StreamingResponse(
        iterate_in_threadpool(chunks), status_code=status, media_type=media_type, headers=headers
    )
