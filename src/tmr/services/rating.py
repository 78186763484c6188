"""Rating use cases: rate a snapshot with the metric runner, serve stored ratings and evidence."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from tmr.config import Settings
from tmr.domain.artifact import Artifact, ArtifactType
from tmr.domain.rating import Rating
from tmr.domain.snapshot import Snapshot
from tmr.errors import NotFound
from tmr.metrics.gate import GatePolicy
from tmr.metrics.sandbox import SandboxConfig
from tmr.services.keys import parent_key
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database

MAX_ANCESTORS = 50


def ancestor_ids(repo: ArtifactRepository, start: list[str]) -> list[str]:
    """Registered ancestors reachable from the models ``start`` (themselves included), nearest
    first, each once (declared lineage may loop)."""
    seen: list[str] = []
    frontier = list(dict.fromkeys(start))
    while frontier and len(seen) < MAX_ANCESTORS:
        current = frontier.pop(0)
        if current in seen:
            continue
        seen.append(current)
        frontier += [p for p in registered_parents(repo, current) if p not in seen]
    return seen


def ancestor_licenses(repo: ArtifactRepository, start: list[str]) -> list[tuple[str, str | None]]:
    """(name, declared license) of every registered ancestor from ``start`` on, nearest first."""
    from tmr.services.license_check import model_license

    out: list[tuple[str, str | None]] = []
    for aid in ancestor_ids(repo, start):
        artifact, snapshot = repo.get(aid), repo.snapshot(aid)
        if artifact is not None and snapshot is not None:
            out.append((artifact.name, model_license(snapshot)))
    return out


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


def sandbox_config(settings: Settings) -> SandboxConfig | None:
    """The sandbox is the default when the needed Python is there: ``TMR_SANDBOX_PYTHON`` if set,
    else this interpreter when it has the libraries model cards' examples use
    (:data:`SANDBOX_LIBRARIES`); ``TMR_SANDBOX=off`` judges statically."""
    if settings.sandbox_mode.strip().lower() in {"off", "0", "false", "no", "static"}:
        return None
    if settings.sandbox_python:
        return SandboxConfig(python=settings.sandbox_python)
    if all(importlib.util.find_spec(lib) is not None for lib in SANDBOX_LIBRARIES):
        return SandboxConfig(python=sys.executable)
    return None


# Without these a card's example cannot load its model, so running it would only measure what
# this interpreter lacks: the static judge is then the better witness.
SANDBOX_LIBRARIES = ("huggingface_hub", "transformers")


class RatingService:
    """Rates snapshots with the metric runner; serves stored ratings and their evidence with the
    gate's decision, judged by the same policy ingestion uses."""

    def __init__(self, db: Database, gate: GatePolicy, sandbox: SandboxConfig | None) -> None:
        self.db = db
        self.gate = gate
        self.sandbox = sandbox

    def rate(
        self, snapshot: Snapshot, name: str, local_files: dict[str, Path] | None = None
    ) -> Rating:
        """Rate ``snapshot``; ``local_files`` (the model's small files already on disk) are staged
        as an offline Hugging Face cache when the sandbox runs the card's examples."""
        from tmr.metrics.runner import RatingInput, rate_model

        return rate_model(
            RatingInput(
                snapshot=snapshot,
                name=name,
                parent_scores=self.parent_scores(snapshot),
                ancestor_licenses=self._ancestor_licenses(snapshot),
                sandbox=self.sandbox,
                local_files=dict(local_files or {}),
            )
        )

    def parent_scores(self, snapshot: Snapshot) -> list[float]:
        """Current net scores of the snapshot's declared parents that are registered and rated."""
        keys = [k for k in (parent_key(p.name) for p in snapshot.parents) if k]
        if not keys:
            return []
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            ids: list[str] = []
            for key in keys:
                ids += [a.id for a in repo.resolve_key(key, ArtifactType.model)]
            memo: dict[str, Rating | None] = {}
            ratings = [current_rating(repo, i, memo, ()) for i in dict.fromkeys(ids)]
        return [r.net_score for r in ratings if r is not None]

    def declared_parent_ids(self, snapshot: Snapshot) -> list[str]:
        """Registered models the snapshot's declared parents resolve to."""
        keys = [k for k in (parent_key(p.name) for p in snapshot.parents) if k]
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            ids = [a.id for key in keys for a in repo.resolve_key(key, ArtifactType.model)]
        return list(dict.fromkeys(ids))

    def _ancestor_licenses(self, snapshot: Snapshot) -> list[tuple[str, str | None]]:
        parents = self.declared_parent_ids(snapshot)
        if not parents:
            return []
        with self.db.read() as s:
            return ancestor_licenses(ArtifactRepository(s), parents)

    def stored(self, artifact_id: str) -> tuple[Artifact, Rating]:
        """The model and its stored rating (404 for an unknown id, a non-model, or no rating)."""
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            artifact = repo.get_or_404(artifact_id, ArtifactType.model)
            rating = current_rating(repo, artifact_id, {}, ())
        if rating is None:
            raise NotFound(f"model {artifact_id} has no rating yet")
        return artifact, rating

    def explanation(self, artifact_id: str) -> dict[str, Any]:
        """Evidence behind every metric, with the gate's decision exactly as ingestion makes it."""
        from tmr.metrics.runner import explain

        _, rating = self.stored(artifact_id)
        with self.db.read() as s:
            source = ArtifactRepository(s).source(artifact_id) or "huggingface"
        decision = self.gate.evaluate(rating, source)
        body = explain(rating)
        body["gate"] = {
            **self.gate.describe(),
            "applies": decision.enabled,
            "accepted": decision.accepted,
            "would_accept": not decision.failures,
        }
        body["gate_failures"] = [
            {"metric": f.metric, "score": f.score, "reason": f.reason} for f in decision.failures
        ]
        return body
