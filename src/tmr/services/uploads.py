"""Registering an uploaded zip: safe extraction, a snapshot like an ingested one, atomic store."""

from __future__ import annotations

from pathlib import Path

from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.domain.files import StoredFile
from tmr.errors import BadRequest
from tmr.services.ingest import IngestService, Prepared, snapshot_version
from tmr.services.keys import upload_key
from tmr.services.protections import validate_monitor_program
from tmr.services.registry import Registry
from tmr.sources.upload import bundle_snapshot, extract_bundle
from tmr.storage.bundles import classify


def register_upload(
    registry: Registry,
    type_: ArtifactType,
    zip_path: Path,
    dest: Path,
    filename: str,
    name: str | None,
    user: User,
    *,
    sensitive: bool = False,
    monitor: str | None = None,
) -> Artifact:
    prepared = prepare_upload(
        registry, type_, zip_path, dest, filename, name, user, sensitive=sensitive, monitor=monitor
    )
    return IngestService(registry).register_prepared(prepared, user)


def prepare_upload(
    registry: Registry,
    type_: ArtifactType,
    zip_path: Path,
    dest: Path,
    filename: str,
    name: str | None,
    user: User,
    *,
    sensitive: bool = False,
    monitor: str | None = None,
) -> Prepared:
    """Extract the zip safely and describe it like an ingested repository (not rated yet)."""
    if (sensitive or monitor is not None) and type_ != ArtifactType.model:
        raise BadRequest("only models can be sensitive or carry a monitoring program")
    if monitor is not None:
        monitor = validate_monitor_program(monitor, registry.settings.monitor_program_max_bytes)
    extracted = extract_bundle(zip_path, dest, registry.settings)
    chosen = name or Path(filename).stem
    url = f"upload://{user.name}/{filename}"
    snapshot = bundle_snapshot(extracted, url, chosen, repo_type=type_.value)
    return Prepared(
        type=type_,
        name=chosen,
        url=url,
        snapshot=snapshot,
        # An uploaded model's identity is its name, so another upload naming it as its parent
        # (``base_model: our-base``) links to it, as a Hub id links to a fetched model.
        hub_key=upload_key(chosen) if type_ == ArtifactType.model else None,
        version=snapshot_version(snapshot),
        files=[
            StoredFile(f.path, f.size, f.sha256, classify(f.path), None) for f in snapshot.files
        ],
        local_files={f.path: extracted.path_of(f.path) for f in snapshot.files},
        sensitive=sensitive or monitor is not None,
        monitor=monitor,
    )
