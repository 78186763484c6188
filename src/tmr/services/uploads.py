"""Registering an uploaded zip: safe extraction, a snapshot like an ingested one, atomic store."""

from __future__ import annotations

from pathlib import Path

from tmr.config import Settings
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.domain.files import StoredFile
from tmr.errors import BadRequest
from tmr.services.ingest import IngestService, Prepared, snapshot_version
from tmr.services.keys import upload_key
from tmr.services.protections import validate_monitor_program
from tmr.sources.upload import bundle_snapshot, extract_bundle
from tmr.storage.bundles import classify


class UploadService:
    """Registers uploaded zips through the ingest service (``settings``: the upload limits)."""

    def __init__(self, ingest: IngestService, settings: Settings) -> None:
        self.ingest = ingest
        self.settings = settings

    def register(
        self,
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
        prepared = self.prepare(
            type_, zip_path, dest, filename, name, user, sensitive=sensitive, monitor=monitor
        )
        return self.ingest.register_prepared(prepared, user)

    def prepare(
        self,
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
            monitor = validate_monitor_program(monitor, self.settings.monitor_program_max_bytes)
        extracted = extract_bundle(zip_path, dest, self.settings)
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
