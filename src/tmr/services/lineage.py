"""Lineage graphs of registered models, from declared parents (config.json, model card).

Each edge is ``declared`` (metadata names the parent) or ``verified`` (the child's config and
weights agree with the parent's: :mod:`tmr.metrics.lineage_edges`). Edges are resolved at query
time from stored parent references and hub keys, so a graph is always
current: registering or deleting a parent or a child later changes it with no recomputation. The
graph is the whole family (ancestors, descendants and their relatives), so every member of a
family gets the same graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tmr.domain.artifact import Artifact, ArtifactType
from tmr.errors import MalformedMetadata
from tmr.metrics.lineage_edges import verify_edge
from tmr.services.keys import key_candidates
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database

MAX_FAMILY = 500


@dataclass(frozen=True)
class LineageNode:
    artifact_id: str
    name: str
    source: str
    repository_url: str


@dataclass(frozen=True)
class LineageEdge:
    parent_id: str
    child_id: str
    source: str
    trust: str = "declared"  # "verified" when the child's files agree with the parent's
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineageGraph:
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class LineageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def parents_of(self, repo: ArtifactRepository, artifact_id: str) -> list[tuple[Artifact, str]]:
        out = []
        for _, key, source in repo.parent_refs([artifact_id]):
            for parent in repo.resolve_key(key, ArtifactType.model):
                if parent.id != artifact_id:
                    out.append((parent, source))
        return out

    def children_of(self, repo: ArtifactRepository, artifact_id: str) -> list[tuple[Artifact, str]]:
        key = repo.hub_key(artifact_id)
        if not key:
            return []
        out = []
        for child_id, _, source in repo.children_refs(key_candidates(key)):
            child = repo.get(child_id)
            if child is not None and child.type == ArtifactType.model and child.id != artifact_id:
                out.append((child, source))
        return out

    def graph(self, artifact_id: str) -> LineageGraph:
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            root = repo.get_or_404(artifact_id, ArtifactType.model)
            problem = repo.config_problem(artifact_id)  # never the whole snapshot
            if problem is not None:
                raise MalformedMetadata(
                    f"lineage of {artifact_id} cannot be computed: config.json is malformed "
                    f"({problem})"
                )
            nodes: dict[str, Artifact] = {root.id: root}
            node_source: dict[str, str] = {}
            edges: dict[tuple[str, str], str] = {}
            frontier = [root.id]
            while frontier and len(nodes) < MAX_FAMILY:
                current = frontier.pop()
                for parent, source in self.parents_of(repo, current):
                    edges[(parent.id, current)] = source
                    node_source.setdefault(parent.id, source)
                    if parent.id not in nodes:
                        nodes[parent.id] = parent
                        frontier.append(parent.id)
                for child, source in self.children_of(repo, current):
                    edges[(current, child.id)] = source
                    node_source.setdefault(current, source)
                    if child.id not in nodes:
                        nodes[child.id] = child
                        frontier.append(child.id)
            snapshots = {aid: repo.snapshot(aid) for aid in {a for e in edges for a in e}}
        checked = {(p, c): verify_edge(snapshots.get(c), snapshots.get(p)) for (p, c) in edges}
        return LineageGraph(
            nodes=[
                LineageNode(a.id, a.name, node_source.get(a.id, _own_source(edges, a.id)), a.url)
                for a in nodes.values()
            ],
            edges=[LineageEdge(p, c, src, *checked[(p, c)]) for (p, c), src in edges.items()],
        )


def _own_source(edges: dict[tuple[str, str], str], artifact_id: str) -> str:
    for (_, child), source in edges.items():
        if child == artifact_id:
            return source
    return "registry"
