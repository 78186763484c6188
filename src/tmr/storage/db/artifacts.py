"""Repository for artifacts, their files, their declared parents and their ratings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from tmr.domain.artifact import Artifact, ArtifactType
from tmr.domain.files import NameQuery, StoredFile
from tmr.domain.snapshot import Snapshot
from tmr.errors import NotFound
from tmr.storage.db.tables import ArtifactFileRow, ArtifactRow, ParentRefRow, RatingRow


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_artifact(row: ArtifactRow) -> Artifact:
    return Artifact(
        id=row.id,
        name=row.name,
        type=ArtifactType(row.type),
        url=row.url,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        size_bytes=row.size_bytes,
        version=row.version,
        created_by=row.created_by,
    )


def config_problem(snapshot: Snapshot) -> str | None:
    """The metadata problem recorded for config.json at registration (lineage needs it)."""
    if snapshot.hf is None:
        return None
    problems = snapshot.hf.extra_json.get("_problems")
    value = problems.get("config.json") if isinstance(problems, dict) else None
    return str(value) if value else None


class ArtifactRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # --- writes -------------------------------------------------------------------------
    def add(
        self,
        artifact: Artifact,
        *,
        source: str,
        hub_key: str | None,
        snapshot: Snapshot,
        search_text: str,
    ) -> None:
        self.s.add(
            ArtifactRow(
                id=artifact.id,
                name=artifact.name,
                type=artifact.type.value,
                url=artifact.url,
                source=source,
                hub_key=hub_key,
                version=artifact.version,
                size_bytes=artifact.size_bytes,
                snapshot=snapshot.model_dump_json(),
                search_text=search_text,
                config_problem=config_problem(snapshot),
                created_by=artifact.created_by,
                created_at=artifact.created_at,
                updated_at=artifact.updated_at,
            )
        )
        self.s.flush()

    def replace_contents(
        self,
        artifact_id: str,
        *,
        url: str,
        source: str,
        hub_key: str | None,
        version: str | None,
        size_bytes: int,
        snapshot: Snapshot,
        search_text: str,
    ) -> None:
        self.s.execute(
            update(ArtifactRow)
            .where(ArtifactRow.id == artifact_id)
            .values(
                url=url,
                source=source,
                hub_key=hub_key,
                version=version,
                size_bytes=size_bytes,
                snapshot=snapshot.model_dump_json(),
                search_text=search_text,
                config_problem=config_problem(snapshot),
                updated_at=datetime.now(UTC),
            )
        )
        self.s.execute(delete(ArtifactFileRow).where(ArtifactFileRow.artifact_id == artifact_id))
        self.s.execute(delete(ParentRefRow).where(ParentRefRow.artifact_id == artifact_id))
        self.s.execute(delete(RatingRow).where(RatingRow.artifact_id == artifact_id))

    def set_files(self, artifact_id: str, files: Iterable[StoredFile]) -> None:
        self.s.add_all(
            ArtifactFileRow(
                artifact_id=artifact_id,
                path=f.path,
                size=f.size,
                sha256=f.sha256,
                part=f.part,
                blob_key=f.blob_key,
            )
            for f in files
        )

    def set_blob_key(self, artifact_id: str, path: str, blob_key: str, sha256: str) -> None:
        self.s.execute(
            update(ArtifactFileRow)
            .where(ArtifactFileRow.artifact_id == artifact_id, ArtifactFileRow.path == path)
            .values(blob_key=blob_key, sha256=sha256)
        )

    def set_parents(self, artifact_id: str, parents: Iterable[tuple[str, str]]) -> None:
        seen: set[str] = set()
        for key, source in parents:
            if key not in seen:
                seen.add(key)
                self.s.add(ParentRefRow(artifact_id=artifact_id, parent_key=key, source=source))

    def set_rating(self, artifact_id: str, net_score: float, body: dict[str, Any]) -> None:
        self.s.merge(
            RatingRow(
                artifact_id=artifact_id,
                net_score=net_score,
                body=json.dumps(body),
                rated_at=datetime.now(UTC),
            )
        )

    def delete(self, artifact_id: str) -> None:
        for table in (ArtifactFileRow, ParentRefRow, RatingRow):
            self.s.execute(delete(table).where(table.artifact_id == artifact_id))
        self.s.execute(delete(ArtifactRow).where(ArtifactRow.id == artifact_id))

    def delete_all(self) -> None:
        for table in (ArtifactFileRow, ParentRefRow, RatingRow, ArtifactRow):
            self.s.execute(delete(table))

    # --- reads --------------------------------------------------------------------------
    def get(self, artifact_id: str) -> Artifact | None:
        row = self.s.scalar(select(ArtifactRow).where(ArtifactRow.id == artifact_id))
        return to_artifact(row) if row else None

    def get_or_404(self, artifact_id: str, type_: ArtifactType | None = None) -> Artifact:
        """The artifact (of ``type_`` when given), or :class:`NotFound` saying what was missing."""
        artifact = self.get(artifact_id)
        if artifact is None or (type_ is not None and artifact.type != type_):
            kind = f"{type_.value} artifact" if type_ is not None else "artifact"
            raise NotFound(f"no {kind} with id {artifact_id}")
        return artifact

    def existing(self, artifact_ids: Sequence[str]) -> set[str]:
        """Which of ``artifact_ids`` exist (one query per 500 ids)."""
        found: set[str] = set()
        for k in range(0, len(artifact_ids), 500):
            chunk = artifact_ids[k : k + 500]
            found.update(self.s.scalars(select(ArtifactRow.id).where(ArtifactRow.id.in_(chunk))))
        return found

    def exists(self, artifact_id: str) -> bool:
        return (
            self.s.scalar(select(ArtifactRow.seq).where(ArtifactRow.id == artifact_id)) is not None
        )

    def snapshot(self, artifact_id: str) -> Snapshot | None:
        raw = self.s.scalar(select(ArtifactRow.snapshot).where(ArtifactRow.id == artifact_id))
        return Snapshot.model_validate_json(raw) if raw else None

    def config_problem(self, artifact_id: str) -> str | None:
        """Why the artifact's config.json is unusable, if it is (a narrow column, no parse)."""
        return self.s.scalar(
            select(ArtifactRow.config_problem).where(ArtifactRow.id == artifact_id)
        )

    def by_name(self, name: str) -> list[Artifact]:
        rows = self.s.scalars(
            select(ArtifactRow).where(ArtifactRow.name == name).order_by(ArtifactRow.seq)
        )
        return [to_artifact(r) for r in rows]

    def find_duplicate(self, type_: ArtifactType, url: str, name: str) -> Artifact | None:
        """The first artifact of this type registered from ``url`` under ``name``, if any."""
        row = self.s.scalar(
            select(ArtifactRow)
            .where(
                ArtifactRow.type == type_.value, ArtifactRow.url == url, ArtifactRow.name == name
            )
            .order_by(ArtifactRow.seq)
            .limit(1)
        )
        return to_artifact(row) if row else None

    def resolve_key(self, key: str, type_: ArtifactType | None = None) -> list[Artifact]:
        """Artifacts whose hub key is ``key``, or ends in ``/key`` for a key with no owner."""
        prefix = "datasets/" if key.startswith("datasets/") else ""
        bare = key[len(prefix) :]
        cond = ArtifactRow.hub_key == key
        if "/" not in bare:
            cond = or_(cond, ArtifactRow.hub_key.like(f"{prefix}%/%{bare}"))
        stmt = select(ArtifactRow).where(cond)
        if type_ is not None:
            stmt = stmt.where(ArtifactRow.type == type_.value)
        rows = self.s.scalars(stmt.order_by(ArtifactRow.seq))
        return [to_artifact(r) for r in rows if _same_repo(r.hub_key or "", key)]

    def source(self, artifact_id: str) -> str | None:
        return self.s.scalar(select(ArtifactRow.source).where(ArtifactRow.id == artifact_id))

    def hub_key(self, artifact_id: str) -> str | None:
        return self.s.scalar(select(ArtifactRow.hub_key).where(ArtifactRow.id == artifact_id))

    def count(self) -> int:
        return int(self.s.scalar(select(func.count()).select_from(ArtifactRow)) or 0)

    def page(
        self, queries: Sequence[NameQuery], after_seq: int, limit: int
    ) -> list[tuple[int, Artifact]]:
        """Keyset page: artifacts matching any query with seq > after_seq, in seq order."""
        clauses = []
        for q in queries:
            parts = []
            if q.name != "*":
                parts.append(ArtifactRow.name == q.name)
            if q.types:
                parts.append(ArtifactRow.type.in_([t.value for t in q.types]))
            clauses.append(parts)
        stmt = select(ArtifactRow).where(ArtifactRow.seq > after_seq)
        if not any(not parts for parts in clauses):
            from sqlalchemy import and_

            stmt = stmt.where(or_(*[and_(*parts) for parts in clauses]))
        rows = self.s.scalars(stmt.order_by(ArtifactRow.seq).limit(limit))
        return [(r.seq, to_artifact(r)) for r in rows]

    def versioned(
        self, after_seq: int, limit: int, name: str | None, types: Sequence[ArtifactType]
    ) -> list[tuple[int, Artifact]]:
        """Keyset page of the artifacts that carry a version, optionally of one name/types."""
        stmt = select(ArtifactRow).where(
            ArtifactRow.seq > after_seq, ArtifactRow.version.is_not(None)
        )
        if name is not None:
            stmt = stmt.where(ArtifactRow.name == name)
        if types:
            stmt = stmt.where(ArtifactRow.type.in_([t.value for t in types]))
        rows = self.s.scalars(stmt.order_by(ArtifactRow.seq).limit(limit))
        return [(r.seq, to_artifact(r)) for r in rows]

    def blob_keys(self, artifact_id: str) -> set[str]:
        """Every blob key a committed file row of the artifact points to."""
        return set(
            self.s.scalars(
                select(ArtifactFileRow.blob_key).where(
                    ArtifactFileRow.artifact_id == artifact_id,
                    ArtifactFileRow.blob_key.is_not(None),
                )
            )
        )

    def files(self, artifact_id: str) -> list[StoredFile]:
        rows = self.s.scalars(
            select(ArtifactFileRow)
            .where(ArtifactFileRow.artifact_id == artifact_id)
            .order_by(ArtifactFileRow.path)
        )
        return [StoredFile(r.path, r.size, r.sha256, r.part, r.blob_key) for r in rows]

    def file(self, artifact_id: str, path: str) -> StoredFile | None:
        r = self.s.get(ArtifactFileRow, (artifact_id, path))
        return StoredFile(r.path, r.size, r.sha256, r.part, r.blob_key) if r else None

    def rating(self, artifact_id: str) -> tuple[float, dict[str, Any]] | None:
        row = self.s.scalar(select(RatingRow).where(RatingRow.artifact_id == artifact_id))
        return (row.net_score, json.loads(row.body)) if row else None

    def parent_refs(self, artifact_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(child id, parent key, source) for the given children."""
        if not artifact_ids:
            return []
        rows = self.s.execute(
            select(ParentRefRow.artifact_id, ParentRefRow.parent_key, ParentRefRow.source).where(
                ParentRefRow.artifact_id.in_(list(artifact_ids))
            )
        )
        return [(a, k, s) for a, k, s in rows]

    def children_refs(self, parent_keys: Sequence[str]) -> list[tuple[str, str, str]]:
        """(child id, parent key, source) for refs pointing at any of the keys."""
        if not parent_keys:
            return []
        rows = self.s.execute(
            select(ParentRefRow.artifact_id, ParentRefRow.parent_key, ParentRefRow.source).where(
                ParentRefRow.parent_key.in_(list(parent_keys))
            )
        )
        return [(a, k, s) for a, k, s in rows]


def _same_repo(hub_key: str, key: str) -> bool:
    if hub_key == key:
        return True
    prefix = "datasets/" if key.startswith("datasets/") else ""
    if not hub_key.startswith(prefix) or hub_key.startswith("github/"):
        return False
    rest = hub_key[len(prefix) :]
    return rest.count("/") == 1 and rest.rsplit("/", 1)[1] == key[len(prefix) :]
