"""What every metric receives: the fetched snapshot plus facts only the registry knows.

``parent_scores`` are the net scores of the model's parents already in the registry (lineage is
resolved by the caller, not by metrics); ``sandbox`` optionally allows reproducibility to execute
card code in an isolated interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tmr.domain.snapshot import GitHubRepo, Snapshot
from tmr.metrics.sandbox import SandboxConfig


@dataclass
class RatingInput:
    snapshot: Snapshot
    name: str
    parent_scores: list[float] = field(default_factory=list)
    # (name, declared license) of every registered ancestor, nearest first.
    ancestor_licenses: list[tuple[str, str | None]] = field(default_factory=list)
    sandbox: SandboxConfig | None = None
    # The model's files already on disk (uploads, small files fetched at registration), by path.
    local_files: dict[str, Path] = field(default_factory=dict)

    def code_repos(self) -> list[GitHubRepo]:
        """The GitHub repositories behind the model: its own (if it came from GitHub) first,
        then the linked code repositories."""
        repos = [s.github for s in self.snapshot.linked_of("code") if s.github is not None]
        if self.snapshot.github is not None:
            repos.insert(0, self.snapshot.github)
        return repos
