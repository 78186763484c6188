"""Registering and updating artifacts: fetch a snapshot, rate models, gate, store atomically.

The order matters for "never half-registered": everything slow or fallible (upstream fetch,
rating, copying small files into the blob store under a fresh generation prefix) happens before
the one database transaction that makes the artifact visible. If that transaction fails, the
generation's blobs are deleted; no row ever points at a blob that is not there.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from tmr import abandon
from tmr.domain.artifact import Artifact, ArtifactType, AuditAction, AuditEntry, User
from tmr.domain.files import StoredFile
from tmr.domain.names import name_problem
from tmr.domain.protections import FileScan
from tmr.domain.rating import Rating
from tmr.domain.security import SecurityAction
from tmr.domain.snapshot import Snapshot
from tmr.errors import (
    BadRequest,
    Conflict,
    IngestRejected,
    NotFound,
    StorageUnavailable,
    TmrError,
)
from tmr.services.catalog import require_owner
from tmr.services.keys import hub_key_from_url, new_artifact_id, parent_key
from tmr.services.protections import ProtectionService, scan_local_files, store_scans
from tmr.services.rating import RatingService
from tmr.services.security import SecurityLog
from tmr.services.upstream import Upstream
from tmr.sources.streams import write_bytes
from tmr.storage.blobs import BlobStore
from tmr.storage.bundles import bundles_prefix, classify, file_key, files_prefix
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository
from tmr.storage.db.engine import Database
from tmr.storage.db.protections import ProtectionRepository

log = logging.getLogger("tmr.ingest")

SMALL_FILE_BYTES = 2 * 1024 * 1024
SMALL_FILES_MAX = 40
SEARCH_TEXT_MAX = 200_000


@dataclass
class Prepared:
    """Everything needed to make an artifact visible in one transaction."""

    type: ArtifactType
    name: str
    url: str
    snapshot: Snapshot
    hub_key: str | None
    version: str | None
    files: list[StoredFile]
    local_files: dict[str, Path] = field(default_factory=dict)
    rating: Rating | None = None
    sensitive: bool = False  # a model whose downloads its monitoring program must approve
    monitor: str | None = None  # that JavaScript program, when given at registration
    unique: bool = False  # refuse (409) a second artifact of the same type, URL and name


def derive_name(url: str, snapshot: Snapshot | None = None) -> str:
    if snapshot is not None and snapshot.hf is not None:
        return snapshot.hf.repo_id.rsplit("/", 1)[-1]
    if snapshot is not None and snapshot.github is not None:
        return snapshot.github.name
    key = hub_key_from_url(url)
    if key:
        return key.rsplit("/", 1)[-1]
    tail = [s for s in url.rstrip("/").split("/") if s]
    return tail[-1] if tail else url


def search_text(name: str, snapshot: Snapshot) -> str:
    return f"{name}\n{snapshot.readme}"[:SEARCH_TEXT_MAX]


def snapshot_hub_key(snapshot: Snapshot, url: str) -> str | None:
    if snapshot.hf is not None and snapshot.source == "huggingface":
        prefix = "datasets/" if snapshot.hf.repo_type == "dataset" else ""
        return f"{prefix}{snapshot.hf.repo_id}".lower()
    if snapshot.github is not None:
        return f"github/{snapshot.github.owner}/{snapshot.github.name}".lower()
    return hub_key_from_url(url)


def snapshot_version(snapshot: Snapshot) -> str | None:
    if snapshot.hf is None:
        return None
    declared = snapshot.hf.card_data.get("version")
    if isinstance(declared, str | int | float):
        return str(declared)
    tags = [
        t[1:] if t[:1] in ("v", "V") else t
        for t in snapshot.hf.git_tags
        if t[:1].isdigit() or t[:1] in ("v", "V") and t[1:2].isdigit()
    ]
    return tags[-1] if tags else None


def check_artifact_name(name: str) -> None:
    problem = name_problem(name, "artifact")
    if problem:
        raise BadRequest(problem)


class IngestService:
    """Registers and updates artifacts: fetch, rate, gate (the rating service's policy), store."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        audit_key: bytes,
        security: SecurityLog,
        upstream: Upstream,
        rating: RatingService,
        work_dir: Path,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.audit_key = audit_key
        self.security = security
        self.upstream = upstream
        self.rating = rating
        self.work_dir = work_dir

    # --- public use cases ---------------------------------------------------------------
    def register_url(
        self,
        type_: ArtifactType,
        url: str,
        name: str | None,
        user: User,
        *,
        sensitive: bool = False,
    ) -> Artifact:
        prepared = self.prepare_registration(type_, url, name, user, sensitive=sensitive)
        try:
            return self._store_new(prepared, user)
        finally:
            self.discard(prepared)

    def prepare_registration(
        self,
        type_: ArtifactType,
        url: str,
        name: str | None,
        user: User,
        *,
        sensitive: bool = False,
    ) -> Prepared:
        """Fetch, copy small files locally, rate and gate; nothing stored yet (``discard`` the
        result's local files when done)."""
        if sensitive and type_ != ArtifactType.model:
            raise BadRequest("only models can be sensitive")
        if name is not None:
            check_artifact_name(name)
            self._refuse_duplicate(type_, url, name)  # before any upstream traffic
        snapshot = self.upstream.fetch(url, type_.value)
        if name is None:
            name = derive_name(url, snapshot)
            check_artifact_name(name)
            self._refuse_duplicate(type_, url, name)
        prepared = self._prepare(type_, name, url, snapshot)
        prepared.unique = True
        prepared.sensitive = sensitive
        try:
            self._prefetch_small_files(prepared)
            self._rate_and_gate(prepared, user)  # the sandbox runs examples against these files
        except BaseException:
            self.discard(prepared)
            raise
        return prepared

    def register_prepared(self, prepared: Prepared, user: User) -> Artifact:
        """Store an artifact whose files are already local (uploads)."""
        self.rate_prepared(prepared, user)
        return self._store_new(prepared, user)

    def rate_prepared(self, prepared: Prepared, user: User) -> None:
        """Check the name, rate a model and pass it through the ingest gate (uploads)."""
        check_artifact_name(prepared.name)
        self._rate_and_gate(prepared, user)

    def update_url(
        self, type_: ArtifactType, artifact_id: str, name: str, url: str, user: User
    ) -> Artifact:
        current, prepared = self.prepare_update(type_, artifact_id, name, url, user)
        try:
            return self._store_update(current, prepared, user)
        finally:
            self.discard(prepared)

    def prepare_update(
        self, type_: ArtifactType, artifact_id: str, name: str | None, url: str, user: User
    ) -> tuple[Artifact, Prepared]:
        """The artifact as it is and its new contents, rated and gated; nothing stored yet."""
        with self.db.read() as s:
            current = ArtifactRepository(s).get_or_404(artifact_id, type_)
        require_owner(self.security, user, current, "update")
        if name is not None and current.name != name:
            raise BadRequest(
                f"name {name!r} does not match artifact {artifact_id} (named {current.name!r})"
            )
        snapshot = self.upstream.fetch(url, type_.value)
        prepared = self._prepare(type_, current.name, url, snapshot)
        try:
            self._prefetch_small_files(prepared)
            self._rate_and_gate(prepared, user)
        except BaseException:
            self.discard(prepared)
            raise
        return current, prepared

    # --- steps --------------------------------------------------------------------------
    def _refuse_duplicate(self, type_: ArtifactType, url: str, name: str) -> None:
        with self.db.read() as s:
            _refuse_duplicate_in(ArtifactRepository(s), type_, url, name)

    def _prepare(self, type_: ArtifactType, name: str, url: str, snapshot: Snapshot) -> Prepared:
        files = [
            StoredFile(f.path, f.size, f.sha256, classify(f.path), None) for f in snapshot.files
        ]
        prepared = Prepared(
            type=type_,
            name=name,
            url=url,
            snapshot=snapshot,
            hub_key=snapshot_hub_key(snapshot, url),
            version=snapshot_version(snapshot),
            files=files,
        )
        return prepared

    def _rate_and_gate(self, prepared: Prepared, user: User) -> None:
        if prepared.type != ArtifactType.model:
            return
        prepared.rating = self.rating.rate(prepared.snapshot, prepared.name, prepared.local_files)
        decision = self.rating.gate.evaluate(prepared.rating, prepared.snapshot.source)
        if decision.accepted:
            return
        self._audit_rejection(prepared, decision.listing, user)
        raise IngestRejected(
            f"model {prepared.name!r} was not registered: the ingest gate needs every "
            f"applicable metric >= {self.rating.gate.threshold:g} and an identifiable license; "
            f"it refused: {decision.listing}",
            failed_metrics={f.metric: f.score for f in decision.failures},
            reasons={f.metric: f.reason for f in decision.failures},
        )

    def _audit_rejection(self, prepared: Prepared, listing: str, user: User) -> None:
        """A refusal is a security event (GET /audit/security?action=REJECT), not a trail."""
        log.warning("ingest gate refused %s (%s): %s", prepared.name, prepared.url, listing)
        self.security.record(
            SecurityAction.REJECT,
            user.name,
            f"{prepared.type.value}/{prepared.name}",
            f"{prepared.url}: {listing}",
        )

    def _prefetch_small_files(self, prepared: Prepared) -> None:
        """Copy small upstream files (card, configs, tokenizers) at registration time.

        Large files are pulled through on first download. A file that cannot be fetched now is
        simply left for the pull-through path; registration never waits for gigabytes.
        """
        staged_paths = set(prepared.snapshot.staged)
        small = [f for f in prepared.files if f.path in staged_paths] + [
            f
            for f in prepared.files
            if f.size <= SMALL_FILE_BYTES and f.part != "weights" and f.path not in staged_paths
        ]
        small = small[: max(SMALL_FILES_MAX, len(staged_paths))]
        if not small or prepared.snapshot.source not in {"huggingface", "github"}:
            return
        tmp = Path(tempfile.mkdtemp(prefix="prefetch-", dir=self.work_dir))
        staged = prepared.snapshot.staged  # what the fetch already read: never fetched twice

        def fetch(f: StoredFile) -> tuple[str, Path, str] | None:
            dest = tmp / secrets.token_hex(8)
            try:
                if f.path in staged:
                    return f.path, dest, write_bytes(staged[f.path], dest, f.path)
                sha = self.upstream.download(prepared.snapshot, f.path, dest)
            except TmrError as exc:
                log.info("prefetch of %s/%s skipped: %s", prepared.name, f.path, exc.message)
                return None
            return f.path, dest, sha

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = [r for r in pool.map(fetch, small) if r is not None]
        shas = {path: sha for path, _, sha in results}
        prepared.local_files.update({path: dest for path, dest, _ in results})
        prepared.files = [
            StoredFile(f.path, f.size, shas.get(f.path, f.sha256), f.part, None)
            for f in prepared.files
        ]

    @staticmethod
    def discard(prepared: Prepared) -> None:
        """Remove the local copies ``prepare_*`` made (prefetched files)."""
        parents = {p.parent for p in prepared.local_files.values()}
        for folder in parents:
            if folder.name.startswith("prefetch-"):
                shutil.rmtree(folder, ignore_errors=True)

    def stage(
        self,
        artifact_id: str,
        prepared: Prepared,
        before_put: Callable[[str], None] | None = None,
    ) -> tuple[str, list[StoredFile]]:
        """Copy the local files into the blob store under a fresh generation prefix (deleted
        again if a copy fails); ``before_put`` is told the prefix before the first copy."""
        generation = secrets.token_hex(6)
        prefix = files_prefix(artifact_id, generation)
        if before_put is not None:
            before_put(prefix)
        files = []
        try:
            for f in prepared.files:
                local = prepared.local_files.get(f.path)
                key = None
                if local is not None:
                    key = file_key(artifact_id, f.path, generation)
                    self.blobs.put_file(key, local)
                files.append(StoredFile(f.path, f.size, f.sha256, f.part, key))
        except StorageUnavailable:
            # The store itself failed: a cleanup now would wait out the same timeouts again.
            # What was written is referenced by no row and goes with the next sweep.
            log.warning("blob store failed; blobs under %s left for the sweeper", prefix)
            raise
        except BaseException:
            self._discard_blobs(prefix)
            raise
        return prefix, files

    def _discard_blobs(self, prefix: str) -> None:
        """Delete a failed change's blobs; while the store is down they are left to the sweeper
        (no row refers to them), and the change's own error is what the client hears."""
        try:
            self.blobs.delete_prefix(prefix)
        except TmrError as exc:
            log.warning("blobs under %s left for the sweeper: %s", prefix, exc.message)

    def new_artifact(self, prepared: Prepared, user: User) -> Artifact:
        now = datetime.now(UTC)
        return Artifact(
            id=new_artifact_id(),
            name=prepared.name,
            type=prepared.type,
            url=prepared.url,
            created_at=now,
            updated_at=now,
            size_bytes=prepared.snapshot.total_bytes,
            version=prepared.version,
            created_by=user.name,
        )

    def _store_new(self, prepared: Prepared, user: User) -> Artifact:
        artifact = self.new_artifact(prepared, user)
        scans = scan_local_files(prepared.local_files)
        prefix, files = self.stage(artifact.id, prepared)
        try:
            with self.db.transaction() as s:
                self.write_new(s, artifact, prepared, files, scans, user)
                abandon.check()  # a client that gave up gets nothing stored
        except BaseException:
            self._discard_blobs(prefix)
            raise
        log.info(
            "registered %s %s (%s) from %s",
            artifact.type.value,
            artifact.id,
            artifact.name,
            artifact.url,
        )
        return artifact

    def write_new(
        self,
        s: Session,
        artifact: Artifact,
        prepared: Prepared,
        files: list[StoredFile],
        scans: list[FileScan],
        user: User,
        detail: str | None = None,
    ) -> None:
        """Every row of a new artifact and its CREATE entry, in the caller's transaction."""
        repo = ArtifactRepository(s)
        if prepared.unique:
            _refuse_duplicate_in(repo, prepared.type, prepared.url, prepared.name)
        repo.add(
            artifact,
            source=prepared.snapshot.source,
            hub_key=prepared.hub_key,
            snapshot=prepared.snapshot,
            search_text=search_text(prepared.name, prepared.snapshot),
        )
        self._write_contents(repo, artifact.id, prepared, files)
        AuditRepository(s, self.audit_key).append(
            AuditEntry.now(artifact, user, AuditAction.CREATE, detail)
        )
        self._write_protections(s, artifact, prepared, scans, user)

    def _store_update(self, current: Artifact, prepared: Prepared, user: User) -> Artifact:
        scans = scan_local_files(prepared.local_files)
        prefix, files = self.stage(current.id, prepared)
        try:
            with self.db.transaction() as s:
                old_keys = self.write_update(s, current, prepared, files, scans, user)
                abandon.check()  # a client that gave up keeps the old version
        except BaseException:  # the old version stays; the new blobs go
            self._discard_blobs(prefix)
            raise
        self.delete_superseded(current.id, old_keys)
        with self.db.read() as s:
            updated = ArtifactRepository(s).get(current.id)
        assert updated is not None
        return updated

    def write_update(
        self,
        s: Session,
        current: Artifact,
        prepared: Prepared,
        files: list[StoredFile],
        scans: list[FileScan],
        user: User,
        detail: str | None = None,
    ) -> list[str]:
        """Replace an artifact's contents and write its UPDATE entry in the caller's
        transaction; returns the old version's blob keys (delete them after the commit)."""
        repo = ArtifactRepository(s)
        old_keys = [f.blob_key for f in repo.files(current.id) if f.blob_key]
        if not repo.exists(current.id):
            raise NotFound(f"artifact {current.id} was deleted during the update")
        repo.replace_contents(
            current.id,
            url=prepared.url,
            source=prepared.snapshot.source,
            hub_key=prepared.hub_key,
            version=prepared.version,
            size_bytes=prepared.snapshot.total_bytes,
            snapshot=prepared.snapshot,
            search_text=search_text(prepared.name, prepared.snapshot),
        )
        self._write_contents(repo, current.id, prepared, files)
        AuditRepository(s, self.audit_key).append(
            AuditEntry.now(current, user, AuditAction.UPDATE, detail)
        )
        self._write_protections(s, current, prepared, scans, user)
        return old_keys

    def delete_superseded(self, artifact_id: str, old_keys: list[str]) -> None:
        """After an update's commit: the old version's blobs and materialised zips."""
        for key in old_keys:  # the old version's blobs, now unreferenced
            try:
                self.blobs.delete(key)
            except TmrError as exc:
                log.warning("could not delete old blob %s: %s", key, exc.message)
        try:  # materialised zips of the old version (their digests no longer match anyway)
            self.blobs.delete_prefix(bundles_prefix(artifact_id))
        except TmrError as exc:
            log.warning("could not delete old bundles of %s: %s", artifact_id, exc.message)

    def _write_protections(
        self, s: Session, artifact: Artifact, prepared: Prepared, scans: list[FileScan], user: User
    ) -> None:
        """Scan verdicts (an unsafe file quarantines the model), sensitivity and monitor."""
        store_scans(s, artifact, scans, self.audit_key)
        if prepared.monitor is not None:
            ProtectionService.write_monitor(s, artifact, prepared.monitor, user, self.audit_key)
        elif prepared.sensitive:
            ProtectionRepository(s).set_sensitive(artifact.id, True)

    @staticmethod
    def _write_contents(
        repo: ArtifactRepository, artifact_id: str, prepared: Prepared, files: list[StoredFile]
    ) -> None:
        repo.set_files(artifact_id, files)
        parents = []
        for ref in prepared.snapshot.parents:
            key = parent_key(ref.name)
            if key and key != prepared.hub_key:
                parents.append((key, ref.source))
        repo.set_parents(artifact_id, parents)
        if prepared.rating is not None:
            repo.set_rating(artifact_id, prepared.rating.net_score, prepared.rating.model_dump())


def _refuse_duplicate_in(
    repo: ArtifactRepository, type_: ArtifactType, url: str, name: str
) -> None:
    """409 when an artifact of this type, URL and name exists already (another name is fine)."""
    existing = repo.find_duplicate(type_, url, name)
    if existing is not None:
        raise Conflict(
            f"Artifact exists already: {type_.value} {name!r} from {url} is artifact "
            f"{existing.id}; register it under another name to keep a second copy.",
            existing_id=existing.id,
        )
