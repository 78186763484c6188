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
    """Current net scores of the snapshot's declared parents that are in the registry and rated."""
    keys = [k for k in (parent_key(p.name) for p in snapshot.parents) if k]
    if not keys:
        return []
    with registry.db.read() as s:
        repo = ArtifactRepository(s)
        ids: list[str] = []
        for key in keys:
            ids += [a.id for a in repo.resolve_key(key, ArtifactType.model)]
        memo: dict[str, Rating | None] = {}
        ratings = [current_rating(repo, i, memo, ()) for i in dict.fromkeys(ids)]
    return [r.net_score for r in ratings if r is not None]


def registered_parents(repo: ArtifactRepository, artifact_id: str) -> list[str]:
    """Ids of the registered models this model's stored parent references resolve to."""
    ids: list[str] = []
    for _, key, _ in repo.parent_refs([artifact_id]):
        ids += [a.id for a in repo.resolve_key(key, ArtifactType.model) if a.id != artifact_id]
    return list(dict.fromkeys(ids))


def current_rating(
    repo: ArtifactRepository,
    artifact_id: str,
    memo: dict[str, Rating | None],
    path: tuple[str, ...],
) -> Rating | None:
    """The stored rating with tree_score (and so the net score) computed from the parents
    registered now, whose ratings are brought up to date the same way (``memo`` per read;
    ``path`` breaks cycles in declared lineage). Never stale, and a pure function of the
    database: concurrent reads of the same state give identical ratings."""
    if artifact_id in memo:
        return memo[artifact_id]
    stored = repo.rating(artifact_id)
    if stored is None:
        memo[artifact_id] = None
        return None
    rating = Rating.model_validate(stored[1])
    scores = []
    for parent in registered_parents(repo, artifact_id):
        if parent in path or parent == artifact_id:
            continue
        current = current_rating(repo, parent, memo, (*path, artifact_id))
        if current is not None:
            scores.append(current.net_score)
    from tmr.metrics.runner import with_parents

    memo[artifact_id] = with_parents(rating, scores)
    return memo[artifact_id]


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
        rating = current_rating(repo, artifact_id, {}, ())
    if rating is None:
        raise NotFound(f"model {artifact_id} has no rating yet")
    return artifact, rating


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
