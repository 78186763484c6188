"""Artifact endpoints of the contract: register, read, update, delete, enumerate, search, audit,
cost, and reset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, cast

from fastapi import APIRouter, Body, Path, Query, Request, Response

from tmr.api import schemas
from tmr.api.deps import DownloadLinks, LinksDep, RegistryDep, ServicesDep, UserDep, run_read
from tmr.api.protection_schemas import ListedArtifact
from tmr.api.watched import while_client_waits
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.domain.files import NameQuery
from tmr.domain.protections import ArtifactStatus, FileScan
from tmr.errors import BadRequest
from tmr.services.protections import AncestorWarning, ProtectionService
from tmr.services.search import Hit

router = APIRouter(tags=["artifacts"])

IdPath = Annotated[str, Path(pattern=schemas.ID_PATTERN, max_length=64, description="artifact id")]
TypePath = Annotated[ArtifactType, Path(description="artifact type")]


def metadata(a: Artifact) -> schemas.ArtifactMetadata:
    return schemas.ArtifactMetadata(name=a.name, id=a.id, type=a.type)


SEARCH_RECORD_MAX = 100  # appearances recorded per search (a broad regex lists everything)


def listed(
    protections: ProtectionService,
    user: User,
    found: Sequence[Artifact] | Sequence[Hit],
    searched: bool = True,
) -> list[ListedArtifact]:
    """Listing entries, flagged when deprecated/quarantined or below such an ancestor. For a
    search (by name, regex, or a named enumerate query; not the "*" listing) the appearances
    are recorded for the package-confusion audit."""
    service = protections
    if searched:
        shown = cast("Sequence[Artifact]", found[:SEARCH_RECORD_MAX])
        service.record_interest(user, shown, "search")
    flags = service.flags([a.id for a in found])
    return [
        ListedArtifact(name=a.name, id=a.id, type=a.type, **flags.get(a.id, {}))  # type: ignore[arg-type]
        for a in found
    ]


def envelope(a: Artifact, links: DownloadLinks) -> schemas.Artifact:
    return schemas.Artifact(
        metadata=metadata(a), data=schemas.ArtifactData(url=a.url, download_url=links.bundle(a.id))
    )


def record_security(
    protections: ProtectionService, user: User, a: Artifact
) -> dict[str, object] | None:
    """What the artifact's record shows beyond the contract: lifecycle state, sensitivity,
    ancestor warnings and weight-scan verdicts (only when there is something to show). Reading
    the record counts as a view for the package-confusion audit."""
    protections.record_interest(user, [a], "view")
    return security_section(protections, a)


def security_section(protections: ProtectionService, a: Artifact) -> dict[str, object] | None:
    return security_of(*protections.record_view(a.id))


def security_of(
    status: ArtifactStatus, scans: Sequence[FileScan], ancestors: Sequence[AncestorWarning]
) -> dict[str, object] | None:
    """The record's security section (None when there is nothing to show); the same for every
    reader, so the read cache (api/fastpath.py) keeps it per registry version."""
    warnings = [w.text() for w in ancestors]
    if status.state.value == "active" and not status.sensitive and not scans and not warnings:
        return None
    return {
        "lifecycle": {"state": status.state.value, "reason": status.reason},
        "sensitive": status.sensitive,
        "warnings": warnings,
        "weight_scans": [
            {"path": s.path, "verdict": s.verdict, "unsafe": s.detail.get("unsafe", [])}
            for s in scans
        ],
    }


def check_url(url: str) -> str:
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise BadRequest(f"url must be an http(s) URL of a source to ingest; got {url!r}")
    return url


@router.post(
    "/artifacts",
    response_model=list[ListedArtifact],
    response_model_exclude_none=True,
    responses={400: {}, 403: {}, 413: {"description": "Too many artifacts returned."}},
    summary="Get the artifacts from the registry. (BASELINE)",
    operation_id="ArtifactsList",
)
async def list_artifacts(
    registry: RegistryDep,
    services: ServicesDep,
    user: UserDep,
    response: Response,
    queries: Annotated[list[schemas.ArtifactQuery], Body()],
    offset: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ListedArtifact]:
    parsed = [NameQuery(q.name, tuple(q.types or ())) for q in queries]
    found, next_offset = await run_read(
        registry, services.catalog.enumerate, parsed, offset
    )
    if next_offset:
        response.headers["offset"] = next_offset
    searched = any(q.name != "*" for q in parsed)
    return await run_read(registry, listed, services.protections, user, found, searched)


@router.delete(
    "/reset",
    responses={401: {}, 403: {}},
    summary="Reset the registry. (BASELINE)",
    operation_id="RegistryReset",
)
def reset(services: ServicesDep, user: UserDep) -> dict[str, str]:
    services.catalog.reset(user)
    return {"status": "reset"}


@router.get(
    "/artifacts/{artifact_type}/{id}",
    response_model=schemas.Artifact,
    responses={400: {}, 403: {}, 404: {}},
    summary="Interact with the artifact with this id. (BASELINE)",
    operation_id="ArtifactRetrieve",
)
async def get_artifact(
    registry: RegistryDep,
    services: ServicesDep,
    user: UserDep,
    links: LinksDep,
    artifact_type: TypePath,
    id: IdPath,
) -> schemas.Artifact:
    found = await run_read(registry, services.catalog.get, artifact_type, id)
    record = envelope(found, links)
    security = await run_read(registry, record_security, services.protections, user, found)
    if security:
        record.data.security = security  # type: ignore[attr-defined]
    return record


@router.put(
    "/artifacts/{artifact_type}/{id}",
    response_model=schemas.Artifact,
    responses={400: {}, 401: {}, 403: {}, 404: {}, 424: {}},
    summary="Update this content of the artifact. (BASELINE)",
    operation_id="ArtifactUpdate",
)
async def update_artifact(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    links: LinksDep,
    artifact_type: TypePath,
    id: IdPath,
    body: schemas.Artifact,
) -> schemas.Artifact:
    if body.metadata.id != id:
        raise BadRequest(f"metadata.id {body.metadata.id!r} does not match the path id {id!r}")
    if body.metadata.type != artifact_type:
        raise BadRequest(
            f"metadata.type {body.metadata.type.value!r} does not match the path type "
            f"{artifact_type.value!r}"
        )
    url = check_url(body.data.url)
    updated = await while_client_waits(
        request,
        lambda: services.ingest.update_url(artifact_type, id, body.metadata.name, url, user),
    )
    return envelope(updated, links)


@router.delete(
    "/artifacts/{artifact_type}/{id}",
    responses={400: {}, 401: {}, 403: {}, 404: {}},
    summary="Delete this artifact. (NON-BASELINE)",
    operation_id="ArtifactDelete",
)
def delete_artifact(
    services: ServicesDep, user: UserDep, artifact_type: TypePath, id: IdPath
) -> dict[str, str]:
    services.catalog.delete(artifact_type, id, user)
    return {"status": "deleted", "id": id}


@router.get(
    "/artifact/byName/{name}",
    response_model=list[ListedArtifact],
    response_model_exclude_none=True,
    responses={400: {}, 403: {}, 404: {}},
    summary="List artifact metadata for this name. (NON-BASELINE)",
    operation_id="ArtifactByNameGet",
)
async def by_name(
    registry: RegistryDep,
    services: ServicesDep,
    user: UserDep,
    name: Annotated[str, Path(max_length=512)],
) -> list[ListedArtifact]:
    found = await run_read(registry, services.catalog.by_name, name)
    return await run_read(registry, listed, services.protections, user, found)


@router.post(
    "/artifact/byRegEx",
    response_model=list[ListedArtifact],
    response_model_exclude_none=True,
    responses={400: {}, 403: {}, 404: {}},
    summary="Get any artifacts fitting the regular expression (BASELINE).",
    operation_id="ArtifactByRegExGet",
)
def by_regex(
    services: ServicesDep, user: UserDep, body: schemas.ArtifactRegEx
) -> list[ListedArtifact]:
    return listed(services.protections, user, services.catalog.regex(body.regex))


@router.get(
    "/artifact/{artifact_type}/{id}/audit",
    response_model=list[schemas.ArtifactAuditEntry],
    responses={400: {}, 401: {}, 403: {}, 404: {}},
    summary="Retrieve audit entries for this artifact. (NON-BASELINE)",
    operation_id="ArtifactAuditGet",
)
def audit(
    services: ServicesDep, user: UserDep, artifact_type: TypePath, id: IdPath
) -> list[schemas.ArtifactAuditEntry]:
    entries = services.catalog.audit(artifact_type, id, user)
    return [
        schemas.ArtifactAuditEntry(
            user=schemas.User(name=e.user_name, is_admin=e.user_is_admin),
            date=e.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            artifact=schemas.ArtifactMetadata(
                name=e.artifact_name, id=e.artifact_id, type=e.artifact_type
            ),
            action=e.action.value,  # type: ignore[arg-type]
        )
        for e in entries
    ]


@router.get(
    "/artifact/{artifact_type}/{id}/cost",
    response_model=dict[str, schemas.ArtifactCostEntry],
    response_model_exclude_none=True,
    responses={400: {}, 403: {}, 404: {}, 500: {}},
    summary="Get the cost of an artifact (BASELINE)",
)
def cost(
    services: ServicesDep,
    user: UserDep,
    artifact_type: TypePath,
    id: IdPath,
    dependency: bool = False,
) -> dict[str, schemas.ArtifactCostEntry]:
    entries = services.cost.cost(artifact_type, id, dependency)
    return {
        key: schemas.ArtifactCostEntry(
            standalone_cost=e.standalone_mb if dependency else None, total_cost=e.total_mb
        )
        for key, e in entries.items()
    }


@router.post(
    "/artifact/byVersion",
    response_model=list[schemas.VersionedArtifact],
    responses={400: {}, 403: {}, 404: {}},
    summary="Artifacts whose version matches an exact, range, tilde or caret query.",
    operation_id="ArtifactByVersion",
)
def by_version(
    services: ServicesDep, user: UserDep, body: schemas.ArtifactVersionQuery
) -> list[schemas.VersionedArtifact]:
    found = services.catalog.by_version(body.version, body.name, tuple(body.types or ()))
    return [
        schemas.VersionedArtifact(name=a.name, id=a.id, type=a.type, version=a.version or "")
        for a in found
    ]


# Registered last: the literal paths /artifact/byRegEx and /artifact/byName win over it.
@router.post(
    "/artifact/{artifact_type}",
    response_model=schemas.Artifact,
    status_code=201,
    responses={400: {}, 403: {}, 404: {}, 409: {}, 424: {}, 502: {}},
    summary="Register a new artifact. (BASELINE)",
    operation_id="ArtifactCreate",
)
async def create_artifact(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    links: LinksDep,
    artifact_type: TypePath,
    body: schemas.ArtifactData,
) -> schemas.Artifact:
    name = body.name.strip() if isinstance(body.name, str) and body.name.strip() else None
    sensitive = (body.model_extra or {}).get("sensitive", False)
    if not isinstance(sensitive, bool):
        raise BadRequest("'sensitive' must be true or false")
    url = check_url(body.url)
    created = await while_client_waits(
        request,
        lambda: services.ingest.register_url(artifact_type, url, name, user, sensitive=sensitive),
    )
    return envelope(created, links)
