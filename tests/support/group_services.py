"""A registry and its services built like the app builds them (``tmr.composition``), pointed at
the upstream replays with the ingest gate off, for tests that drive the atomic-group services
(``GroupService``, ``GroupExecution``, ``sweep_groups``) directly; and small readers of what the
stores hold (artifacts, audit entries, blob keys) to compare before and after a group."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.zips import hf_zip
from tmr.composition import Registry, Services, build_registry, build_services
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.storage.db.tables import ArtifactRow, AuditRow, SecurityEventRow

ADMIN = User("ece30861defaultadminuser", True)
ALICE = User("alice", False)
BOB = User("bob", False)

BERT = "https://huggingface.co/google-bert/bert-base-uncased"
SQUAD = "https://huggingface.co/datasets/rajpurkar/squad"
MISSING = "https://huggingface.co/nobody-here/no-such-model"


@dataclass
class Parts:
    registry: Registry
    services: Services
    tmp: Path

    def upload(self, name: str, user: User = ADMIN, type_: str = "dataset") -> Artifact:
        """Register a small zip the way ``POST /artifact/{type}/upload`` does."""
        zip_path = self.zip(name)
        dest = self.tmp / f"extract-{name}"
        return self.services.uploads.register(
            ArtifactType(type_), zip_path, dest, zip_path.name, name, user
        )

    def zip(self, name: str, body: bytes | None = None) -> Path:
        path = self.tmp / f"{name}.zip"
        path.write_bytes(body if body is not None else hf_zip(name=name))
        return path

    def artifacts(self) -> dict[str, str]:
        """id → name of every artifact."""
        with self.registry.db.read() as s:
            return {row[0]: row[1] for row in s.execute(select(ArtifactRow.id, ArtifactRow.name))}

    def audit_details(self) -> list[tuple[str, str | None]]:
        """(action, detail) of every audit entry, oldest first."""
        with self.registry.db.read() as s:
            rows = s.execute(select(AuditRow.action, AuditRow.detail).order_by(AuditRow.seq))
            return [tuple(row) for row in rows]  # type: ignore[misc]

    def security_events(self) -> list[tuple[str, str, str, str | None]]:
        with self.registry.db.read() as s:
            rows = s.execute(
                select(
                    SecurityEventRow.action,
                    SecurityEventRow.actor,
                    SecurityEventRow.subject,
                    SecurityEventRow.detail,
                ).order_by(SecurityEventRow.seq)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    def keys(self, prefix: str = "") -> set[str]:
        return {b.key for b in self.registry.blobs.list(prefix)}

    def state(self) -> tuple[dict[str, str], set[str], int]:
        """Artifacts, artifact blob keys and the number of audit entries: what a group that
        fails must leave exactly as they were."""
        return self.artifacts(), self.keys("artifacts/"), len(self.audit_details())


def replay_settings(hf_replay: str, github_replay: str) -> dict[str, object]:
    """Settings for a registry of atomic-group tests: upstreams are the replays (on loopback,
    so private upstreams are allowed), the ingest gate off, upstream calls bounded to 5 s."""
    return dict(
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
        upstream_timeout_seconds=5,
    )


@pytest.fixture
def parts_for(
    make_settings: Any, hf_replay: str, github_replay: str, tmp_path: Path
) -> Iterator[Callable[..., Parts]]:
    """``parts_for(**settings)``: a registry + services on the test's storage pair."""
    made: list[Registry] = []

    def build(**overrides: object) -> Parts:
        values = replay_settings(hf_replay, github_replay)
        values.update(overrides)
        registry = build_registry(make_settings(**values))
        made.append(registry)
        scratch = tmp_path / f"scratch-{len(made)}"
        scratch.mkdir()
        return Parts(registry, build_services(registry), scratch)

    yield build
    for registry in made:
        registry.db.dispose()
