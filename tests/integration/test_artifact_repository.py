"""How a declared parent's key finds registered artifacts (both databases): a bare legacy name
matches ``anything/name`` of the same kind, never a GitHub repository or a dataset of that name;
an empty list of ids asks nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tmr.domain.artifact import Artifact, ArtifactType
from tmr.domain.snapshot import Snapshot
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade


@pytest.fixture
def db(backend, make_settings) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    settings = make_settings(**backend)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    upgrade(database.engine)
    yield database
    database.dispose()


def add(db: Database, artifact_id: str, type_: str, hub_key: str) -> None:
    now = datetime.now(UTC)
    artifact = Artifact(
        id=artifact_id, name=hub_key.rsplit("/", 1)[-1], type=ArtifactType(type_),
        url=f"https://example.com/{hub_key}", created_at=now, updated_at=now, size_bytes=1,
        version=None, created_by="alice",
    )  # fmt: skip
    with db.transaction() as s:
        ArtifactRepository(s).add(
            artifact, source="web", hub_key=hub_key, snapshot=Snapshot(source="web", url="x"),
            search_text=hub_key,
        )  # fmt: skip


def test_a_bare_name_matches_hub_repositories_of_its_kind_only(db: Database) -> None:
    add(db, "1", "model", "google-bert/bert")
    add(db, "2", "code", "github/google-research/bert")
    add(db, "3", "dataset", "datasets/acme/bert")
    add(db, "4", "model", "acme/roberta")  # ends in "bert", is not "bert"
    add(db, "5", "model", "upload/bert")
    with db.read() as s:
        repo = ArtifactRepository(s)
        assert [a.id for a in repo.resolve_key("bert")] == ["1", "5"]
        assert [a.id for a in repo.resolve_key("bert", ArtifactType.model)] == ["1", "5"]
        assert [a.id for a in repo.resolve_key("datasets/bert")] == ["3"]
        assert [a.id for a in repo.resolve_key("google-bert/bert")] == ["1"]
        assert [a.id for a in repo.resolve_key("github/google-research/bert")] == ["2"]
        assert repo.parent_refs([]) == [] and repo.children_refs([]) == []
