"""Model-only endpoints: rating, rating explanation, lineage graph and license check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from tmr.api import schemas
from tmr.api.artifacts import IdPath
from tmr.api.deps import ServicesDep, UserDep
from tmr.api.protections import weight_scan
from tmr.domain.artifact import AuditAction
from tmr.services.lineage import LineageGraph

router = APIRouter(tags=["models"])


@router.get(
    "/artifact/model/{id}/rate",
    response_model=schemas.ModelRating,
    responses={400: {}, 403: {}, 404: {}, 500: {}},
    summary="Get ratings for this model artifact. (BASELINE)",
    operation_id="ModelArtifactRate",
)
def rate(services: ServicesDep, user: UserDep, id: IdPath) -> dict[str, Any]:
    model, rating = services.rating.stored(id)
    services.catalog.record(model, user, AuditAction.RATE)
    return rating.to_model_rating()


@router.get(
    "/artifact/model/{id}/rate/explain",
    responses={400: {}, 403: {}, 404: {}},
    summary="Evidence and a sentence behind each metric of this model's rating.",
    operation_id="ModelArtifactRateExplain",
)
def explain(services: ServicesDep, user: UserDep, id: IdPath) -> dict[str, Any]:
    body = services.rating.explanation(id)
    service = services.protections
    _, status = service.status(id)
    body["lifecycle"] = {"state": status.state.value, "reason": status.reason}
    body["warnings"] = [w.text() for w in service.warnings_for(id)]
    body["weight_scans"] = [weight_scan(s).model_dump() for s in service.scans(id)]
    return body


@router.get(
    "/artifact/model/{id}/lineage",
    response_model=schemas.ArtifactLineageGraph,
    responses={400: {}, 403: {}, 404: {}},
    summary="Retrieve the lineage graph for this artifact. (BASELINE)",
    operation_id="ArtifactLineageGet",
)
def lineage(services: ServicesDep, user: UserDep, id: IdPath) -> schemas.ArtifactLineageGraph:
    graph = services.lineage.graph(id)
    flags = services.protections.flags([n.artifact_id for n in graph.nodes])
    return schemas.ArtifactLineageGraph(
        nodes=[
            schemas.ArtifactLineageNode(
                artifact_id=n.artifact_id,
                name=n.name,
                source=n.source,
                metadata={
                    "repository_url": n.repository_url,
                    **flags.get(n.artifact_id, {}),
                    **_parent_edges(graph, n.artifact_id),
                },
            )
            for n in graph.nodes
        ],
        edges=[
            schemas.ArtifactLineageEdge(
                from_node_artifact_id=e.parent_id,
                to_node_artifact_id=e.child_id,
                relationship="base_model",
            )
            for e in graph.edges
        ],
    )


def _parent_edges(graph: LineageGraph, artifact_id: str) -> dict[str, Any]:
    """A child node's edges to its parents, each ``declared`` or ``verified`` with evidence (the
    contract's edge schema has no room for it; node metadata is free-form)."""
    parents = [
        {
            "artifact_id": e.parent_id,
            "edge": e.trust,
            "declared_in": e.source,
            "evidence": e.evidence,
        }
        for e in graph.edges
        if e.child_id == artifact_id
    ]
    return {"parents": parents} if parents else {}


@router.post(
    "/artifact/model/{id}/license-check",
    response_model=bool,
    responses={400: {}, 403: {}, 404: {}, 502: {}},
    summary="Assess license compatibility for fine-tune and inference usage. (BASELINE)",
    operation_id="ArtifactLicenseCheck",
)
async def license_check(
    services: ServicesDep,
    user: UserDep,
    id: Annotated[str, Path(pattern=schemas.ID_PATTERN, max_length=64)],
    body: schemas.SimpleLicenseCheckRequest,
) -> bool:
    decision = await run_in_threadpool(services.license_check.check, id, body.github_url)
    return bool(decision.allowed)
