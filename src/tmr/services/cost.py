"""Download cost in MB (10^6 bytes) of an artifact, alone or with everything it depends on.

Dependencies are the registered artifacts it needs to be used: its parent models (transitively,
from the lineage metadata), and the datasets and code linked from its card, each counted once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tmr.domain.artifact import Artifact, ArtifactType
from tmr.services.keys import hub_key_from_url
from tmr.services.lineage import LineageService
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database

MB = 1_000_000
MAX_DEPENDENCIES = 200


@dataclass(frozen=True)
class CostEntry:
    standalone_mb: float
    total_mb: float


def megabytes(size_bytes: int) -> float:
    return round(size_bytes / MB, 3)


class CostService:
    def __init__(self, db: Database, lineage: LineageService) -> None:
        self.db = db
        self.lineage = lineage

    def cost(self, type_: ArtifactType, artifact_id: str, dependency: bool) -> dict[str, CostEntry]:
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            root = repo.get_or_404(artifact_id, type_)
            own = megabytes(root.size_bytes)
            if not dependency:
                return {root.id: CostEntry(own, own)}
            deps = self._dependencies(repo, root)
        entries = {
            root.id: CostEntry(own, round(own + sum(megabytes(d.size_bytes) for d in deps), 3))
        }
        for dep in deps:
            mb = megabytes(dep.size_bytes)
            entries[dep.id] = CostEntry(mb, mb)
        return entries

    def _dependencies(self, repo: ArtifactRepository, root: Artifact) -> list[Artifact]:
        found: dict[str, Artifact] = {}
        frontier = [root]
        while frontier and len(found) < MAX_DEPENDENCIES:
            current = frontier.pop()
            deps: list[Artifact] = []
            if current.type == ArtifactType.model:
                deps += [p for p, _ in self.lineage.parents_of(repo, current.id)]
            snapshot = repo.snapshot(current.id)
            if snapshot is not None:
                for url in snapshot.linked_dataset_urls + snapshot.linked_code_urls:
                    key = hub_key_from_url(url)
                    if key:
                        deps += repo.resolve_key(key)
            for dep in deps:
                if dep.id != root.id and dep.id not in found:
                    found[dep.id] = dep
                    frontier.append(dep)
        return list(found.values())
