"""Protection endpoints: lifecycle states, sensitive models and their monitoring programs,
per-artifact download history and weight-scan verdicts.

Changing anything needs the artifact's owner (who registered it) or an admin; reading a state,
a scan or a program needs a token; the download history is for the owner and admins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tmr.api import protection_schemas as ps
from tmr.api.artifacts import IdPath, TypePath
from tmr.api.deps import ServicesDep, UserDep
from tmr.api.schemas import ArtifactMetadata
from tmr.domain.artifact import ArtifactType
from tmr.domain.protections import FileScan, LifecycleState
from tmr.errors import NotFound
from tmr.services.protections import ProtectionService

router = APIRouter(tags=["protections"])

Z = "%Y-%m-%dT%H:%M:%SZ"


def weight_scan(scan: FileScan) -> ps.WeightScan:
    return ps.WeightScan(
        path=scan.path,
        verdict=scan.verdict,  # type: ignore[arg-type]
        unsafe=list(scan.detail.get("unsafe", [])),
        globals=list(scan.detail.get("globals", [])),
        notes=list(scan.detail.get("notes", [])),
        scanned_at=scan.scanned_at.strftime(Z),
    )


def _status(service: ProtectionService, artifact_id: str) -> ps.ProtectionStatus:
    artifact, status = service.status(artifact_id)
    _, monitor = (
        service.get_monitor(artifact_id) if artifact.type == ArtifactType.model else (None, None)
    )
    return ps.ProtectionStatus(
        id=artifact.id,
        name=artifact.name,
        type=artifact.type.value,
        state=status.state.value,
        reason=status.reason,
        changed_by=status.changed_by,
        changed_at=status.changed_at.strftime(Z) if status.changed_at else None,
        sensitive=status.sensitive,
        has_monitor=monitor is not None,
        warnings=[w.text() for w in service.warnings_for(artifact_id)],
        weight_scans=[weight_scan(s) for s in service.scans(artifact_id)],
    )


def _typed(service: ProtectionService, type_: ArtifactType, artifact_id: str) -> None:
    artifact, _ = service.status(artifact_id)
    if artifact.type != type_:
        raise NotFound(f"no {type_.value} artifact with id {artifact_id}")


@router.get(
    "/artifact/{artifact_type}/{id}/lifecycle",
    response_model=ps.ProtectionStatus,
    responses={400: {}, 403: {}, 404: {}},
    summary="Lifecycle state, sensitivity, ancestor warnings and weight-scan verdicts.",
    operation_id="ArtifactLifecycleGet",
)
def get_lifecycle(
    services: ServicesDep, user: UserDep, artifact_type: TypePath, id: IdPath
) -> ps.ProtectionStatus:
    service = services.protections
    _typed(service, artifact_type, id)
    return _status(service, id)


@router.put(
    "/artifact/{artifact_type}/{id}/lifecycle",
    response_model=ps.ProtectionStatus,
    responses={
        400: {},
        401: {"description": "not the owner or an admin"},
        403: {},
        404: {},
        409: {"description": "unsafe files keep the artifact quarantined"},
    },
    summary="Set the lifecycle state (active, deprecated, quarantined) with a reason.",
    operation_id="ArtifactLifecycleSet",
)
def set_lifecycle(
    services: ServicesDep,
    user: UserDep,
    artifact_type: TypePath,
    id: IdPath,
    body: ps.LifecycleChange,
) -> ps.ProtectionStatus:
    service = services.protections
    _typed(service, artifact_type, id)
    service.set_state(id, LifecycleState(body.state), body.reason, user)
    return _status(service, id)


@router.put(
    "/artifact/model/{id}/sensitive",
    response_model=ps.ProtectionStatus,
    responses={400: {}, 401: {"description": "not the owner or an admin"}, 403: {}, 404: {}},
    summary="Mark a model sensitive (its monitor judges every download) or not.",
    operation_id="ModelSensitiveSet",
)
def set_sensitive(
    services: ServicesDep, user: UserDep, id: IdPath, body: ps.SensitiveChange
) -> ps.ProtectionStatus:
    service = services.protections
    service.set_sensitive(id, body.sensitive, user)
    return _status(service, id)


@router.get(
    "/artifact/model/{id}/monitor",
    response_model=ps.MonitorProgram,
    responses={400: {}, 403: {}, 404: {"description": "no such model, or it has no program"}},
    summary="Read a sensitive model's JavaScript monitoring program.",
    operation_id="ModelMonitorGet",
)
def get_monitor(services: ServicesDep, user: UserDep, id: IdPath) -> ps.MonitorProgram:
    _, monitor = services.protections.get_monitor(id)
    if monitor is None:
        raise NotFound(f"model {id} has no monitoring program")
    return ps.MonitorProgram(
        artifact_id=monitor.artifact_id,
        program=monitor.program,
        sha256=monitor.sha256,
        uploaded_by=monitor.uploaded_by,
        uploaded_at=monitor.uploaded_at.strftime(Z),
    )


@router.put(
    "/artifact/model/{id}/monitor",
    response_model=ps.MonitorProgram,
    responses={
        400: {},
        401: {"description": "not the owner or an admin"},
        403: {},
        404: {},
        413: {},
    },
    summary="Upload or replace a model's monitoring program (marks the model sensitive).",
    description=(
        "Before every download of the model, the registry writes the exact bytes it would serve "
        "as a zip and runs `node PROGRAM MODEL_NAME UPLOADER_USERNAME DOWNLOADER_USERNAME "
        "ZIP_FILE_PATH`, contained (time and memory limits, scratch directory, no access to the "
        "registry's files, no network by default). Exit 0 allows the download; anything else "
        "refuses it with 403 and the program's stdout in the message."
    ),
    operation_id="ModelMonitorPut",
)
def put_monitor(
    services: ServicesDep, user: UserDep, id: IdPath, body: ps.MonitorUpload
) -> ps.MonitorProgram:
    services.protections.put_monitor(id, body.program, user)
    return get_monitor(services, user, id)


@router.delete(
    "/artifact/model/{id}/monitor",
    responses={400: {}, 401: {"description": "not the owner or an admin"}, 403: {}, 404: {}},
    summary="Delete a model's monitoring program (the model stays marked sensitive).",
    operation_id="ModelMonitorDelete",
)
def delete_monitor(services: ServicesDep, user: UserDep, id: IdPath) -> dict[str, str]:
    services.protections.delete_monitor(id, user)
    return {"status": "deleted", "id": id}


@router.get(
    "/artifact/{artifact_type}/{id}/downloads",
    response_model=list[ps.DownloadRecord],
    responses={400: {}, 401: {"description": "not the owner or an admin"}, 403: {}, 404: {}},
    summary="Download history: who, when, which part, allowed or refused and the monitor's "
    "exit code and first output line (owner and admins).",
    operation_id="ArtifactDownloadHistory",
)
def download_history(
    services: ServicesDep, user: UserDep, artifact_type: TypePath, id: IdPath
) -> list[ps.DownloadRecord]:
    service = services.protections
    _typed(service, artifact_type, id)
    return [
        ps.DownloadRecord(
            user=e.user_name,
            date=e.at.strftime(Z),
            part=e.part,
            allowed=e.allowed,
            reason=e.reason,
            exit_code=e.exit_code,
            first_line=e.first_line,
        )
        for e in service.history(id, user)
    ]


@router.get(
    "/artifacts/PackageConfusionAudit",
    response_model=ps.ConfusionAudit,
    responses={400: {}, 403: {}},
    summary="Artifacts that look like malicious look-alikes of popular ones, with score and "
    "reasons.",
    description=(
        "Signals: name similarity to a popular artifact (UTS #39 confusable skeletons, case, "
        "separator and digit swaps, added words such as -official or -v2, the original's owner "
        "folded in, edit distance), popularity asymmetry (new and little searched while the "
        "original is popular) and bot-inflated downloads (few accounts, regular intervals, "
        "bursts, downloads never preceded by a search or a view). Only artifacts scoring at "
        "least `threshold` are listed, highest first."
    ),
    operation_id="PackageConfusionAudit",
)
def package_confusion_audit(
    services: ServicesDep,
    user: UserDep,
    threshold: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
) -> ps.ConfusionAudit:
    results = services.protections.confusion_audit(threshold)
    return ps.ConfusionAudit(
        threshold=threshold,
        findings=[
            ps.ConfusionFinding(
                artifact=ArtifactMetadata(name=r.name, id=r.artifact_id, type=ArtifactType(r.type)),
                score=r.score,
                looks_like=ArtifactMetadata(
                    name=r.looks_like[1], id=r.looks_like[0], type=ArtifactType(r.looks_like[2])
                )
                if r.looks_like
                else None,
                reasons=r.reasons,
            )
            for r in results
        ],
    )
