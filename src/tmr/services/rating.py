"""Rating use cases: rate a snapshot with the metric runner, serve stored ratings and evidence."""

from __future__ import annotations

from typing import Any

from tmr.domain.artifact import Artifact, ArtifactType
from tmr.domain.rating import Rating
from tmr.domain.snapshot import Snapshot
from tmr.errors import NotFound
from tmr.services.keys import parent_key
from tmr.services.registry import Registry
from tmr.storage.db.artifacts import ArtifactRepository


def parent_scores(registry: Registry, snapshot: Snapshot) -> list[float]:
    """Net scores of the snapshot's declared parents that are in the registry and rated."""
    keys = [k for k in (parent_key(p.name) for p in snapshot.parents) if k]
    if not keys:
        return []
    with registry.db.read() as s:
        repo = ArtifactRepository(s)
        ids: list[str] = []
        for key in keys:
            ids += [a.id for a in repo.resolve_key(key, ArtifactType.model)]
        scores = repo.net_scores(ids)
    return [scores[i] for i in dict.fromkeys(ids) if i in scores]


def rate_snapshot(registry: Registry, snapshot: Snapshot, name: str) -> Rating:
    from tmr.metrics.runner import RatingInput, rate_model

    sandbox = None
    if registry.settings.sandbox_python:
        from tmr.metrics.sandbox import SandboxConfig

        sandbox = SandboxConfig(python=registry.settings.sandbox_python)
    return rate_model(
        RatingInput(
            snapshot=snapshot,
            name=name,
            parent_scores=parent_scores(registry, snapshot),
            sandbox=sandbox,
        )
    )


def stored_rating(registry: Registry, artifact_id: str) -> tuple[Artifact, Rating]:
    """The model and its stored rating (404 for an unknown id, a non-model, or no rating)."""
    with registry.db.read() as s:
        repo = ArtifactRepository(s)
        artifact = repo.get(artifact_id)
        if artifact is None or artifact.type != ArtifactType.model:
            raise NotFound(f"no model artifact with id {artifact_id}")
        stored = repo.rating(artifact_id)
    if stored is None:
        raise NotFound(f"model {artifact_id} has no rating yet")
    return artifact, Rating.model_validate(stored[1])


def explanation(registry: Registry, artifact_id: str) -> dict[str, Any]:
    """Evidence behind every metric, with the gate's decision exactly as ingestion makes it."""
    from tmr.metrics.runner import explain

    artifact, rating = stored_rating(registry, artifact_id)
    with registry.db.read() as s:
        source = ArtifactRepository(s).source(artifact_id) or "huggingface"
    decision = registry.gate.evaluate(rating, source)
    body = explain(rating)
    body["gate"] = {
        **registry.gate.describe(),
        "applies": decision.enabled,
        "accepted": decision.accepted,
        "would_accept": not decision.failures,
    }
    body["gate_failures"] = [
        {"metric": f.metric, "score": f.score, "reason": f.reason} for f in decision.failures
    ]
    return body
