"""Downloads: whole bundles or parts, streamed from the blob store with upstream pull-through.

A file that was not copied at registration (large weights) is fetched from its upstream on first
request, verified against the recorded sha256, stored in the blob store and recorded; a per-file
lock and a database lease make concurrent first requests, in any replica, wait for one fetch. A
pulled pickle-based file is scanned before it is stored; an unsafe one quarantines its model.

Every download path goes through ``plan`` (bundles and parts) or ``open_file`` (single files,
ranges), which both call the protections' ``DownloadGate`` before any byte is served: quarantined
artifacts are refused, sensitive models' monitors judge the exact bytes, every attempt is recorded.

A bundle (the zip of a part) is built once, on its first download, and kept in the blob store
under ``artifacts/<id>/bundles/<part>-<digest>.zip``; the digest covers every member's path, size,
sha256 and blob, so an update (new blobs), a pull-through or a newly registered linked dataset
gives a new bundle, and the stale one is removed when its successor is built. Weights are stored
in the zip uncompressed, members carry a fixed timestamp (the same files give the same bytes, so
two processes building at once write identical zips). Serving it is then a static file: zero-copy
from local files, a presigned redirect from S3 (never for a sensitive model). When a monitor
approved a download, the exact zip it judged is served instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.domain.files import PARTS, StoredFile
from tmr.domain.snapshot import Snapshot
from tmr.errors import ArtifactQuarantined, BadRequest, Forbidden, NotFound
from tmr.safety.pickles import is_pickle_candidate
from tmr.services.keys import hub_key_from_url
from tmr.services.leases import lease_name, once_across_replicas
from tmr.services.protections import (
    DownloadGate,
    GateResult,
    scan_local_files,
    store_scans,
    unsafe_reason,
)
from tmr.services.upstream import Upstream
from tmr.storage.blobs.base import BlobInfo, BlobStore
from tmr.storage.bundles import ZipEntry, bundles_prefix, file_key, write_zip_stream
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database
from tmr.storage.db.users import UserRepository

log = logging.getLogger("tmr.downloads")

MANIFEST = "tmr-manifest.json"

ZIP_STAMP = (1980, 1, 1, 0, 0, 0)
_locks_guard = threading.Lock()
_locks: dict[tuple[str, str], threading.Lock] = {}
_built: dict[str, int] = {}  # bundle keys known to exist in the blob store -> size


def _lock_for(artifact_id: str, path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((artifact_id, path), threading.Lock())


@dataclass(frozen=True)
class BundleFile:
    """One file of a download: where it goes in the zip and where it comes from."""

    arcname: str
    owner: Artifact
    file: StoredFile


@dataclass(frozen=True)
class DownloadPlan:
    artifact: Artifact
    part: str
    files: list[BundleFile]
    manifest: bytes
    gate: GateResult = field(default_factory=GateResult)
    manifest_name: str = MANIFEST

    @property
    def filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.artifact.name)
        suffix = "" if self.part == "all" else f"-{self.part}"
        return f"{safe or self.artifact.id}{suffix}.zip"

    @property
    def bundle_key(self) -> str:
        """Where the zip of exactly these files is kept; changes whenever a member changes."""
        h = hashlib.sha256(self.manifest)
        for b in self.files:
            h.update(f"\0{b.owner.id}\0{b.file.blob_key or ''}".encode())
        return f"{bundles_prefix(self.artifact.id)}{self.part}-{h.hexdigest()[:24]}.zip"

    @property
    def complete(self) -> bool:
        """Every member is in the blob store already (nothing to pull through)."""
        return all(b.file.blob_key for b in self.files)


@dataclass
class Bundle:
    """A download of a bundle or part that passed the gate: the materialised zip (``key``,
    ``size``), or, when a sensitive model's monitor approved it, the exact zip it judged."""

    artifact: Artifact
    filename: str
    key: str = ""
    size: int = 0
    no_presign: bool = False
    checked: Iterator[bytes] | None = None


@dataclass(frozen=True)
class ReadyBundle:
    """A materialised bundle the gate lets through with nothing to run (``ready_bundle``)."""

    artifact: Artifact
    part: str
    filename: str
    key: str
    size: int


def _folder_name(artifact: Artifact) -> str:
    """An artifact's name as one zip path component: no separators, not '.'/'..', ≤ 200 bytes."""
    name = artifact.name.replace("/", "_").replace("\\", "_")
    name = "".join(c if c.isprintable() else "_" for c in name)
    if not name.strip(". "):
        return artifact.id
    return name.encode()[:200].decode(errors="ignore")


def _free_name(wanted: str, taken: set[str], tag: str = "registry") -> str:
    """``wanted``, or a variant of it tagged so that it is not in ``taken``."""
    if wanted not in taken:
        return wanted
    stem, dot, ext = wanted.rpartition(".") if "." in wanted else (wanted, "", "")
    n = 0
    while True:
        candidate = f"{stem}-{tag}{'-' + str(n) if n else ''}{dot}{ext}"
        if candidate not in taken:
            return candidate
        n += 1


class DownloadService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        audit_key: bytes,
        upstream: Upstream,
        gate: DownloadGate,
        work_dir: Path,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.audit_key = audit_key
        self.upstream = upstream
        self.gate = gate
        self.work_dir = work_dir

    def plan(self, artifact_id: str, part: str, user: User, *, head: bool = False) -> DownloadPlan:
        """The files of a bundle or part, after the download gate allowed ``user`` to have them."""
        plan = self._plan(artifact_id, part)
        linked = list({b.owner.id: b.owner for b in plan.files}.values())
        gate = self.gate.check(
            plan.artifact,
            user,
            f"part={part}",
            lambda dest: self._write_zip(plan, dest),
            head=head,
            linked=linked,
        )
        return DownloadPlan(
            plan.artifact, plan.part, plan.files, plan.manifest, gate, plan.manifest_name
        )

    def part_sizes(self, artifact_id: str) -> list[tuple[str, int, int]]:
        """(part, file count, bytes) for every part: what a download would hold, without
        running the download gate (nothing is downloaded)."""
        out: list[tuple[str, int, int]] = []
        for part in PARTS:
            plan = self._plan(artifact_id, part)
            out.append((part, len(plan.files), sum(f.file.size for f in plan.files)))
        return out

    def _plan(self, artifact_id: str, part: str) -> DownloadPlan:
        if part not in PARTS:
            raise BadRequest(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            artifact = repo.get_or_404(artifact_id)
            own = repo.files(artifact_id)
            files = [BundleFile(f.path, artifact, f) for f in own if part in ("all", f.part)]
            if part in ("datasets", "code") and artifact.type == ArtifactType.model:
                snapshot = repo.snapshot(artifact_id)
                files += self._linked_files(repo, snapshot, part)
        manifest = {
            "id": artifact.id,
            "name": artifact.name,
            "type": artifact.type.value,
            "url": artifact.url,
            "part": part,
            "files": [
                {"path": b.arcname, "size": b.file.size, "sha256": b.file.sha256} for b in files
            ],
        }
        return DownloadPlan(
            artifact,
            part,
            files,
            json.dumps(manifest, indent=2).encode(),
            manifest_name=_free_name(MANIFEST, {b.arcname for b in files}),
        )

    def _linked_files(
        self, repo: ArtifactRepository, snapshot: Snapshot | None, part: str
    ) -> list[BundleFile]:
        if snapshot is None:
            return []
        urls = snapshot.linked_dataset_urls if part == "datasets" else snapshot.linked_code_urls
        wanted = ArtifactType.dataset if part == "datasets" else ArtifactType.code
        out: list[BundleFile] = []
        seen: set[str] = set()
        folders: set[str] = set()
        for url in urls:
            key = hub_key_from_url(url)
            for linked in repo.resolve_key(key, wanted) if key else []:
                if linked.id in seen:
                    continue
                seen.add(linked.id)
                # One folder per linked artifact, named after it but safe as a zip path: two
                # artifacts of one name (registered twice) get distinct folders.
                folder = _free_name(_folder_name(linked), folders, linked.id)
                folders.add(folder)
                out += [
                    BundleFile(f"{part}/{folder}/{f.path}", linked, f)
                    for f in repo.files(linked.id)
                ]
        return out

    def bundle(self, artifact_id: str, part: str, user: User, *, head: bool = False) -> Bundle:
        """A bundle or part for ``user`` after the download gate: the stored zip (built once,
        under a lock, when it is not there yet), or the zip a monitor approved."""
        plan = self.plan(artifact_id, part, user, head=head)
        if plan.gate.checked_zip is not None:
            return Bundle(plan.artifact, plan.filename, no_presign=True,
                          checked=_stream_file(plan.gate))  # fmt: skip
        key = plan.bundle_key
        size = _built.get(key)
        if size is None:
            info = self.blobs.stat(key)
            if info is None:
                plan, info = self._build(plan)
                key = info.key
            size = _built[key] = info.size
        return Bundle(plan.artifact, plan.filename, key, size, plan.gate.no_presign)

    def ready_bundle(self, artifact_id: str, part: str) -> ReadyBundle | None:
        """The stored zip of a bundle or part when serving it needs nothing but a record of the
        download: every member stored, the zip built already, the download gate's answer plain
        (``DownloadGate.plain``). None otherwise (``bundle`` handles those). Depends only on
        registry state, so the download fast path keeps it per registry version."""
        plan = self._plan(artifact_id, part)
        if not plan.complete:
            return None
        key = plan.bundle_key
        size = _built.get(key)
        if size is None:
            return None
        linked = {b.owner.id: b.owner for b in plan.files if b.owner.id != plan.artifact.id}
        if not self.gate.plain(plan.artifact, list(linked.values())):
            return None
        return ReadyBundle(plan.artifact, part, plan.filename, key, size)

    def record(self, ready: ReadyBundle, user: User) -> Future[None]:
        """Record ``user``'s download of a ready bundle, exactly as the gate records one."""
        return self.gate.record_allowed(ready.artifact, user, f"part={ready.part}")

    def forget(self, key: str) -> None:
        """Drop a bundle from the in-process index (its blob went missing)."""
        _built.pop(key, None)

    def _build(self, plan: DownloadPlan) -> tuple[DownloadPlan, BlobInfo]:
        with _lock_for(plan.artifact.id, f"bundle:{plan.part}"):
            if not plan.complete:  # pull everything through first: the blob keys change
                for b in plan.files:
                    self.ensure_blob(b.owner, b.file)
                fresh = self._plan(plan.artifact.id, plan.part)
                plan = DownloadPlan(fresh.artifact, fresh.part, fresh.files, fresh.manifest,
                                    plan.gate)  # fmt: skip
            key = plan.bundle_key
            info = self.blobs.stat(key) or self._write_bundle(plan, key)
            return plan, info

    def _write_bundle(self, plan: DownloadPlan, key: str) -> BlobInfo:
        tmp = Path(tempfile.mkdtemp(prefix="bundle-", dir=self.work_dir))
        dest = tmp / "bundle.zip"
        try:
            with dest.open("wb") as out:
                for piece in write_zip_stream(self.blobs, self._entries(plan),
                                              stamp=ZIP_STAMP):  # fmt: skip
                    out.write(piece)
            info = self.blobs.put_file(key, dest)
        finally:
            dest.unlink(missing_ok=True)
            tmp.rmdir()
        log.info("materialised %s (%d bytes)", key, info.size)
        stale = f"{bundles_prefix(plan.artifact.id)}{plan.part}-"
        for old in list(self.blobs.list(stale)):
            if old.key != key:
                _built.pop(old.key, None)
                self.blobs.delete(old.key)
        return BlobInfo(key=key, size=info.size, etag=info.etag, sha256=info.sha256)

    def signed_user(self, name: str) -> User:
        """The user a valid signed link names, if that account still exists and is enabled."""
        with self.db.read() as s:
            user = UserRepository(s).get(name)
        if user is None:
            raise Forbidden(f"the download link was issued to {name!r}, who no longer exists")
        if user.disabled:
            raise Forbidden(f"the download link was issued to {name!r}, whose account is disabled")
        return user

    def ensure_blob(self, owner: Artifact, file: StoredFile) -> str:
        """The blob key holding this file, pulling it from upstream first when needed.

        Concurrent first requests fetch once: threads of this process queue on a lock, and
        processes (replicas) on a database lease (``tmr.services.leases``).
        """
        if file.blob_key:
            return file.blob_key
        with _lock_for(owner.id, file.path):
            return once_across_replicas(
                self.db,
                lease_name("pull", owner.id, file.path),
                done=lambda: self._stored_key(owner, file),
                work=lambda: self._pull(owner, file),
            )

    def _stored_key(self, owner: Artifact, file: StoredFile) -> str | None:
        with self.db.read() as s:
            current = ArtifactRepository(s).file(owner.id, file.path)
        if current is None:
            raise NotFound(f"{file.path} is no longer part of artifact {owner.id}")
        return current.blob_key

    def _pull(self, owner: Artifact, file: StoredFile) -> str:
        with self.db.read() as s:
            snapshot = ArtifactRepository(s).snapshot(owner.id)
        if snapshot is None:
            raise NotFound(f"{file.path} is no longer part of artifact {owner.id}")
        tmp = Path(tempfile.mkdtemp(prefix="pull-", dir=self.work_dir))
        dest = tmp / "file"
        try:
            log.info("pulling %s/%s from upstream", owner.id, file.path)
            sha = self.upstream.download(snapshot, file.path, dest)
            pickled = is_pickle_candidate(file.path)
            scans = scan_local_files({file.path: dest}) if pickled else []
            reason = unsafe_reason(scans)
            key = file_key(owner.id, file.path, generation=f"pulled-{secrets.token_hex(4)}")
            if reason is None:  # an unsafe file is never stored
                self.blobs.put_file(key, dest)
        finally:
            dest.unlink(missing_ok=True)
            tmp.rmdir()
        with self.db.transaction() as s:
            if reason is None:
                ArtifactRepository(s).set_blob_key(owner.id, file.path, key, sha)
            store_scans(s, owner, scans, self.audit_key)
        if reason is not None:
            raise ArtifactQuarantined(
                f"{owner.type.value} {owner.name!r} ({owner.id}) was quarantined when "
                f"{file.path} was fetched: {reason}",
                reason=reason,
            )
        return key

    def open_file(
        self,
        artifact_id: str,
        path: str,
        user: User,
        *,
        range_header: str | None = None,
        head: bool = False,
    ) -> FileDownload:
        """One file (or the requested range of it), after the download gate allowed it."""
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            artifact = repo.get_or_404(artifact_id)
            match = repo.file(artifact_id, path)
        if match is None:
            raise NotFound(f"artifact {artifact_id} has no file {path!r}")
        span = parse_range(range_header, match.size) if range_header else None
        what = f"file={path}" + (f" bytes={span[0]}-{span[1]}" if span else "")

        def write_zip(dest: Path) -> None:
            self._write_file_zip(artifact, match, span, dest)

        gate = self.gate.check(artifact, user, what, write_zip, head=head)
        gate.cleanup()  # the file itself is served; the monitor saw exactly those bytes
        return FileDownload(artifact, match, self.ensure_blob(artifact, match), gate.no_presign)

    def _entries(self, plan: DownloadPlan) -> list[ZipEntry]:
        entries = [ZipEntry(key="", arcname=plan.manifest_name, data=plan.manifest)]
        entries += [
            ZipEntry(key=self.ensure_blob(b.owner, b.file), arcname=b.arcname) for b in plan.files
        ]
        return entries

    def _write_zip(self, plan: DownloadPlan, dest: Path) -> None:
        with dest.open("wb") as out:
            for piece in write_zip_stream(self.blobs, self._entries(plan)):
                out.write(piece)

    def _write_file_zip(
        self, artifact: Artifact, file: StoredFile, span: tuple[int, int] | None, dest: Path
    ) -> None:
        key = self.ensure_blob(artifact, file)
        if span is None:
            entries = [ZipEntry(key=key, arcname=file.path)]
        else:
            data = b"".join(self.blobs.iter_range(key, span[0], span[1]))
            entries = [ZipEntry(key="", arcname=file.path, data=data)]
        with dest.open("wb") as out:
            for piece in write_zip_stream(self.blobs, entries):
                out.write(piece)


@dataclass(frozen=True)
class FileDownload:
    artifact: Artifact
    file: StoredFile
    key: str
    no_presign: bool  # a sensitive model: serve the bytes, never a replayable presigned URL


def _stream_file(gate: GateResult, chunk: int = 1 << 20) -> Iterator[bytes]:
    assert gate.checked_zip is not None
    try:
        with gate.checked_zip.open("rb") as fh:
            while piece := fh.read(chunk):
                yield piece
    finally:
        gate.cleanup()


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """An HTTP ``Range: bytes=a-b`` header as inclusive offsets; None when unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return None
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)
