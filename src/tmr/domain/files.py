"""Value types a service builds and a repository stores: a stored file, a name query, a
download part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tmr.domain.artifact import ArtifactType

# A part of an artifact's package that can be downloaded alone ("all" is the whole bundle).
Part = Literal["all", "weights", "card", "datasets", "code"]
PARTS: tuple[Part, ...] = ("all", "weights", "card", "datasets", "code")


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
