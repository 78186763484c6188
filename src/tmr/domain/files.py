"""Value types a service builds and a repository stores: a stored file, a name query."""

from __future__ import annotations

from dataclasses import dataclass

from tmr.domain.artifact import ArtifactType


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    sha256: str | None
    part: str
    blob_key: str | None


@dataclass(frozen=True)
class NameQuery:
    name: str  # "*" for every name
    types: tuple[ArtifactType, ...]  # empty for every type
