"""Protections of what the registry serves: weight scans, lifecycle states, sensitive models with
JavaScript monitors, download history and the search/view record the confusion audit needs.

``DownloadGate.check`` is the one chokepoint every download path goes through (the download
service calls it when it plans a bundle or opens a file, before any byte is read): a quarantined
artifact is refused with its reason; a sensitive model with a monitor has the exact bytes to be
served written as a zip and judged by its program; every attempt, allowed or refused, is recorded.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from tmr.config import Settings
from tmr.domain.artifact import Artifact, ArtifactType, AuditAction, AuditEntry, User, may_change
from tmr.domain.protections import (
    ArtifactStatus,
    DownloadEvent,
    FileScan,
    InterestEvent,
    LifecycleState,
    Monitor,
)
from tmr.errors import (
    ArtifactQuarantined,
    BadRequest,
    DownloadRefused,
    NotFound,
    TooLarge,
    Unauthorized,
    UnsafeContent,
)
from tmr.safety import monitor as node
from tmr.safety.pickles import is_pickle_candidate, scan_file
from tmr.services.lineage import MAX_FAMILY, LineageService
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository
from tmr.storage.db.engine import Database
from tmr.storage.db.protections import ProtectionRepository
from tmr.storage.db.versions import Tag

log = logging.getLogger("tmr.protections")

SCANNER = User("weight-scanner", is_admin=True)
REFUSAL_STDOUT_CHARS = 4000


# --- weight scanning ------------------------------------------------------------------------
def scan_local_files(files: Mapping[str, Path]) -> list[FileScan]:
    """Scan every pickle-based file among ``{repository path: local path}``."""
    now = datetime.now(UTC)
    scans = []
    for path, local in sorted(files.items()):
        if is_pickle_candidate(path):
            result = scan_file(local, path)
            scans.append(FileScan(path, result.verdict, result.to_dict(), now))
    return scans


def unsafe_reason(scans: Iterable[FileScan]) -> str | None:
    bad = [s for s in scans if s.verdict == "unsafe"]
    if not bad:
        return None
    parts = []
    for s in bad[:5]:
        found = [u.split(" (", 1)[0] for u in s.detail.get("unsafe", [])][:3]
        parts.append(f"{s.path} imports {', '.join(found) or 'unresolvable globals'}")
    return "unsafe pickle: " + "; ".join(parts)


def store_scans(
    session: Session, artifact: Artifact, scans: Sequence[FileScan], audit_key: bytes
) -> None:
    """Write scan verdicts in the caller's transaction; an unsafe file quarantines the model."""
    if not scans:
        return
    repo = ProtectionRepository(session)
    repo.set_scans(artifact.id, scans)
    reason = unsafe_reason(scans)
    if reason is not None:
        repo.set_state(artifact.id, LifecycleState.quarantined, reason, SCANNER.name)
        forget_flagged()
        AuditRepository(session, audit_key).append(
            AuditEntry.now(artifact, SCANNER, AuditAction.LIFECYCLE, f"quarantined: {reason}")
        )
        log.warning("quarantined %s (%s): %s", artifact.id, artifact.name, reason)


# The deprecated/quarantined set is read by every listing and record; it changes rarely, so each
# process keeps it for as long as the registry version stays the same (storage/db/versions.py:
# its own changes drop the copy at once; other replicas' changes show within
# TMR_READ_CACHE_SECONDS).
_flagged_cache: dict[int, tuple[Tag, dict[str, ArtifactStatus]]] = {}


def flagged_artifacts(db: Database, repo: ProtectionRepository) -> dict[str, ArtifactStatus]:
    tag = db.version.tag()
    cached = _flagged_cache.get(id(db))
    if tag is not None and cached is not None and cached[0] == tag:
        return cached[1]
    tag = tag or db.version.poll()  # read before the set: a change meanwhile shows next time
    flagged = repo.not_active()
    _flagged_cache[id(db)] = (tag, flagged)
    return flagged


def forget_flagged() -> None:
    _flagged_cache.clear()


def may_manage(artifact: Artifact, user: User) -> bool:
    return may_change(user, artifact)


def _require_manager(artifact: Artifact, user: User, what: str) -> None:
    if not may_manage(artifact, user):
        raise Unauthorized(
            f"only the owner of {artifact.type.value} {artifact.id} or an admin may {what}"
        )


@dataclass(frozen=True)
class AncestorWarning:
    ancestor_id: str
    ancestor_name: str
    state: LifecycleState
    reason: str

    def text(self) -> str:
        return (
            f"ancestor {self.ancestor_name!r} ({self.ancestor_id}) is {self.state.value}: "
            f"{self.reason}"
        )


class ProtectionService:
    def __init__(
        self,
        db: Database,
        audit_key: bytes,
        lineage: LineageService,
        interest: InterestBuffer,
        monitor_program_max_bytes: int,
    ) -> None:
        self.db = db
        self.audit_key = audit_key
        self.lineage = lineage
        self.interest = interest
        self.monitor_program_max_bytes = monitor_program_max_bytes
        self._warnings: tuple[Mapping[str, ArtifactStatus], dict[str, list[AncestorWarning]]] | None
        self._warnings = None

    def _artifact(
        self, s: Session, artifact_id: str, type_: ArtifactType | None = None
    ) -> Artifact:
        return ArtifactRepository(s).get_or_404(artifact_id, type_)

    # --- lifecycle ------------------------------------------------------------------------
    def status(self, artifact_id: str) -> tuple[Artifact, ArtifactStatus]:
        with self.db.read() as s:
            artifact = self._artifact(s, artifact_id)
            return artifact, ProtectionRepository(s).status(artifact_id)

    def set_state(
        self, artifact_id: str, state: LifecycleState, reason: str, user: User
    ) -> ArtifactStatus:
        reason = reason.strip()
        if state != LifecycleState.active and not reason:
            raise BadRequest(f"say why the artifact is {state.value}: 'reason' is required")
        with self.db.transaction() as s:
            artifact = self._artifact(s, artifact_id)
            _require_manager(artifact, user, "change its lifecycle state")
            repo = ProtectionRepository(s)
            if state != LifecycleState.quarantined:
                unsafe = [x.path for x in repo.scans(artifact_id) if x.verdict == "unsafe"]
                if unsafe:
                    raise UnsafeContent(
                        f"{artifact.type.value} {artifact_id} stays quarantined while it holds "
                        f"unsafe files ({', '.join(unsafe[:5])}); update it with safe weights "
                        "or delete it"
                    )
            status = repo.set_state(artifact_id, state, reason, user.name)
            forget_flagged()
            AuditRepository(s, self.audit_key).append(
                AuditEntry.now(artifact, user, AuditAction.LIFECYCLE, f"{state.value}: {reason}")
            )
        forget_flagged()  # again after commit: a reader may have cached the old set meanwhile
        return status

    def set_sensitive(self, artifact_id: str, sensitive: bool, user: User) -> ArtifactStatus:
        with self.db.transaction() as s:
            artifact = self._artifact(s, artifact_id, ArtifactType.model)
            _require_manager(artifact, user, "change whether it is sensitive")
            status = ProtectionRepository(s).set_sensitive(artifact_id, sensitive)
            AuditRepository(s, self.audit_key).append(
                AuditEntry.now(artifact, user, AuditAction.SENSITIVE, str(sensitive).lower())
            )
        return status

    def scans(self, artifact_id: str) -> list[FileScan]:
        with self.db.read() as s:
            self._artifact(s, artifact_id)
            return ProtectionRepository(s).scans(artifact_id)

    # --- monitors -------------------------------------------------------------------------
    def validate_program(self, program: str) -> str:
        return validate_monitor_program(program, self.monitor_program_max_bytes)

    def get_monitor(self, artifact_id: str) -> tuple[ArtifactStatus, Monitor | None]:
        with self.db.read() as s:
            self._artifact(s, artifact_id, ArtifactType.model)
            repo = ProtectionRepository(s)
            return repo.status(artifact_id), repo.monitor(artifact_id)

    def put_monitor(self, artifact_id: str, program: str, user: User) -> Monitor:
        program = self.validate_program(program)
        with self.db.transaction() as s:
            artifact = self._artifact(s, artifact_id, ArtifactType.model)
            _require_manager(artifact, user, "set its monitoring program")
            monitor = self.write_monitor(s, artifact, program, user, self.audit_key)
        return monitor

    @staticmethod
    def write_monitor(
        s: Session, artifact: Artifact, program: str, user: User, audit_key: bytes
    ) -> Monitor:
        """Store a program and mark the model sensitive, in the caller's transaction."""
        repo = ProtectionRepository(s)
        replacing = repo.monitor(artifact.id) is not None
        monitor = Monitor(
            artifact.id,
            program,
            hashlib.sha256(program.encode()).hexdigest(),
            user.name,
            datetime.now(UTC),
        )
        repo.set_monitor(monitor)
        repo.set_sensitive(artifact.id, True)
        verb = "replaced" if replacing else "uploaded"
        AuditRepository(s, audit_key).append(
            AuditEntry.now(artifact, user, AuditAction.MONITOR, f"{verb} sha256={monitor.sha256}")
        )
        return monitor

    def delete_monitor(self, artifact_id: str, user: User) -> None:
        with self.db.transaction() as s:
            artifact = self._artifact(s, artifact_id, ArtifactType.model)
            _require_manager(artifact, user, "delete its monitoring program")
            if not ProtectionRepository(s).delete_monitor(artifact_id):
                raise NotFound(f"model {artifact_id} has no monitoring program")
            AuditRepository(s, self.audit_key).append(
                AuditEntry.now(artifact, user, AuditAction.MONITOR, "deleted")
            )

    # --- history --------------------------------------------------------------------------
    def history(self, artifact_id: str, user: User) -> list[DownloadEvent]:
        with self.db.read() as s:
            artifact = self._artifact(s, artifact_id)
            _require_manager(artifact, user, "read its download history")
            return ProtectionRepository(s).downloads(artifact_id)

    # --- flags for listings and records ---------------------------------------------------
    def flags(self, artifact_ids: Sequence[str]) -> dict[str, dict[str, object]]:
        """For each listed id that is not plainly active or has a flagged ancestor: its state,
        reason and warnings naming the ancestors. Ids not in the result carry no flag."""
        with self.db.read() as s:
            repo = ProtectionRepository(s)
            flagged = flagged_artifacts(self.db, repo)
            if not flagged:
                return {}
            warnings = self._descendant_warnings(s, flagged)
        out: dict[str, dict[str, object]] = {}
        for aid in artifact_ids:
            entry: dict[str, object] = {}
            status = flagged.get(aid)
            if status is not None:
                entry["lifecycle"] = {"state": status.state.value, "reason": status.reason}
            if aid in warnings:
                entry["warnings"] = [w.text() for w in warnings[aid]]
            if entry:
                out[aid] = entry
        return out

    def record_view(
        self, artifact_id: str
    ) -> tuple[ArtifactStatus, list[FileScan], list[AncestorWarning]]:
        """Status, scans and ancestor warnings of one artifact, in one read."""
        with self.db.read() as s:
            repo = ProtectionRepository(s)
            status = repo.status(artifact_id)
            scans = repo.scans(artifact_id)
            flagged = flagged_artifacts(self.db, repo)
            warnings = self._descendant_warnings(s, flagged).get(artifact_id, []) if flagged else []
        return status, scans, warnings

    def record(
        self, type_: ArtifactType, artifact_id: str
    ) -> tuple[Artifact, ArtifactStatus, list[FileScan], list[AncestorWarning]]:
        """An artifact of ``type_`` (NotFound else) with its status, scans and ancestor
        warnings, in one read (what the read cache renders, api/fastpath.py)."""
        with self.db.read() as s:
            artifact = ArtifactRepository(s).get_or_404(artifact_id, type_)
            repo = ProtectionRepository(s)
            status = repo.status(artifact_id)
            scans = repo.scans(artifact_id)
            flagged = flagged_artifacts(self.db, repo)
            warnings = self._descendant_warnings(s, flagged).get(artifact_id, []) if flagged else []
        return artifact, status, scans, warnings

    def warnings_for(self, artifact_id: str) -> list[AncestorWarning]:
        with self.db.read() as s:
            flagged = flagged_artifacts(self.db, ProtectionRepository(s))
            if not flagged:
                return []
            return self._descendant_warnings(s, flagged).get(artifact_id, [])

    def _descendant_warnings(
        self, s: Session, flagged: Mapping[str, ArtifactStatus]
    ) -> dict[str, list[AncestorWarning]]:
        # The same flagged set (one object per registry version) gives the same warnings:
        # walk the lineage once per version, not once per record read.
        cached = self._warnings
        if cached is not None and cached[0] is flagged:
            return cached[1]
        out = self._walk_descendants(s, flagged)
        self._warnings = (flagged, out)
        return out

    def _walk_descendants(
        self, s: Session, flagged: Mapping[str, ArtifactStatus]
    ) -> dict[str, list[AncestorWarning]]:
        repo = ArtifactRepository(s)
        out: dict[str, list[AncestorWarning]] = {}
        for ancestor_id, status in flagged.items():
            ancestor = repo.get(ancestor_id)
            if ancestor is None or ancestor.type != ArtifactType.model:
                continue
            warning = AncestorWarning(ancestor.id, ancestor.name, status.state, status.reason)
            seen = {ancestor_id}
            frontier = [ancestor_id]
            while frontier and len(seen) < MAX_FAMILY:
                current = frontier.pop()
                for child, _ in self.lineage.children_of(repo, current):
                    if child.id in seen:
                        continue
                    seen.add(child.id)
                    frontier.append(child.id)
                    out.setdefault(child.id, []).append(warning)
        return out

    # --- what the confusion audit needs ---------------------------------------------------
    def record_interest(self, user: User, artifacts: Iterable[Artifact], kind: str) -> None:
        self.interest.add(user.name, [a.id for a in artifacts], kind)

    # --- the package-confusion audit ------------------------------------------------------
    def confusion_audit(self, threshold: float) -> list[ConfusionResult]:
        """Artifacts that look like malicious look-alikes of popular ones, highest score first,
        from the recorded downloads (per account, over time) and search/view appearances."""
        from tmr.safety import confusion

        self.interest.flush()
        with self.db.read() as s:
            repo = ProtectionRepository(s)
            index = repo.artifact_index()
            downloads = [d for d in repo.downloads(limit=500_000) if d.allowed]
            seen = repo.interest()
        entries = [
            confusion.Entry(aid, name, type_, created, owner, _hub_owner(hub_key))
            for aid, name, type_, created, owner, hub_key in index
        ]
        found = confusion.audit(
            entries,
            [confusion.Download(d.artifact_id, d.user_name, d.at) for d in downloads],
            [confusion.Seen(e.artifact_id, e.user_name, e.at) for e in seen],
            threshold,
        )
        return [
            ConfusionResult(
                f.artifact.id,
                f.artifact.name,
                f.artifact.type,
                f.score,
                (f.looks_like.id, f.looks_like.name, f.looks_like.type) if f.looks_like else None,
                f.reasons,
            )
            for f in found
        ]


def validate_monitor_program(program: str, limit: int) -> str:
    """``program`` if it may be a sensitive model's monitor: JavaScript text of at most
    ``limit`` bytes."""
    if len(program.encode()) > limit:
        raise TooLarge(f"a monitoring program may be at most {limit} bytes")
    if not program.strip():
        raise BadRequest("the monitoring program is empty")
    if "\x00" in program:
        raise BadRequest("the monitoring program must be JavaScript text (found a NUL byte)")
    return program


def monitor_runtime(settings: Settings) -> dict[str, str | int | float | bool]:
    """Which Node.js runs monitors (never its path), and the containment in force."""
    found = node.find_node(settings.node_binary)
    if settings.node_binary:
        source = "TMR_NODE_BINARY"
    elif found is not None and node.project_node() is not None:
        source = "npm package node@24"
    else:
        source = "system node" if found else "none"
    version = node.node_version(found) if found else None
    return {
        "node_version": version or "none",
        "node_source": source,
        "timeout_seconds": settings.monitor_timeout_seconds,
        "heap_mb": settings.monitor_heap_mb,
        "network": "allowed"
        if settings.monitor_allow_network
        else (
            "blocked (empty network namespace)"
            if node.network_isolation_available()
            else "not blocked: no network namespaces on this machine"
        ),
    }


# --- the download chokepoint ------------------------------------------------------------------
WriteZip = Callable[[Path], None]


@dataclass
class GateResult:
    """What the gate decided. ``checked_zip``: the exact zip a monitor approved (serve it, then
    call ``cleanup``); ``no_presign``: serve the bytes directly, never a replayable URL."""

    checked_zip: Path | None = None
    no_presign: bool = False
    scratch: Path | None = None

    def cleanup(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


class DownloadGate:
    """``settings``: the monitors' limits (time, heap, address space, output, network) and the
    Node.js binary and scratch folder they run with."""

    def __init__(self, db: Database, audit_key: bytes, settings: Settings) -> None:
        self.db = db
        self.audit_key = audit_key
        self.settings = settings

    def limits(self, node_path: str) -> node.MonitorLimits:
        st = self.settings
        return node.MonitorLimits(
            node=node_path,
            timeout_seconds=st.monitor_timeout_seconds,
            heap_mb=st.monitor_heap_mb,
            address_space_mb=st.monitor_address_space_mb,
            output_bytes=st.monitor_output_bytes,
            allow_network=st.monitor_allow_network,
        )

    def check(
        self,
        artifact: Artifact,
        user: User,
        what: str,
        write_zip: WriteZip,
        *,
        head: bool = False,
        linked: Sequence[Artifact] = (),
    ) -> GateResult:
        """Allow or refuse one download of ``artifact`` by ``user``; raises when refused.

        ``write_zip(dest)`` writes the exact bytes to be served, as a zip, to ``dest``; it is
        only called for a sensitive model with a monitor. HEAD requests are refused for a
        quarantined artifact but run no monitor and are not recorded (no bytes are served).
        ``linked``: other artifacts whose files are in the download (a model's datasets/code
        parts); a quarantined one refuses the download too.
        """
        with self.db.read() as s:
            repo = ProtectionRepository(s)
            status = repo.status(artifact.id)
            monitor = repo.monitor(artifact.id) if status.sensitive else None
            others = repo.statuses([a.id for a in linked if a.id != artifact.id])
        for other in linked:
            st = others.get(other.id)
            if st is not None and st.state == LifecycleState.quarantined:
                if not head:
                    self._record(artifact, user, what, False, f"{other.name} quarantined")
                raise ArtifactQuarantined(
                    f"the download of {artifact.name!r} includes {other.type.value} "
                    f"{other.name!r} ({other.id}), which is quarantined: {st.reason}",
                    reason=st.reason,
                )
        if status.state == LifecycleState.quarantined:
            if not head:
                self._record(artifact, user, what, False, f"quarantined: {status.reason}")
            raise ArtifactQuarantined(
                f"{artifact.type.value} {artifact.name!r} ({artifact.id}) is quarantined and "
                f"cannot be downloaded: {status.reason}",
                reason=status.reason,
            )
        if head or monitor is None:
            if not head:
                self._record(artifact, user, what, True, None)
            return GateResult(no_presign=status.sensitive)
        return self._run_monitor(artifact, user, what, monitor, write_zip)

    def _run_monitor(
        self, artifact: Artifact, user: User, what: str, monitor: Monitor, write_zip: WriteZip
    ) -> GateResult:
        node_path = node.find_node(self.settings.node_binary)
        if node_path is None:
            self._record(artifact, user, what, False, "no Node.js to run the monitor")
            raise DownloadRefused(
                f"model {artifact.name!r} is sensitive and no Node.js is installed to run its "
                "monitoring program; the download is refused"
            )
        root = self.settings.monitor_scratch_dir
        scratch = Path(tempfile.mkdtemp(prefix="tmr-monitor-", dir=str(root) if root else None))
        result = GateResult(no_presign=True, scratch=scratch)
        try:
            zip_path = scratch / node.ZIP_NAME
            write_zip(zip_path)
            started = time.monotonic()
            outcome = node.run_monitor(
                self.limits(node_path),
                scratch,
                monitor.program,
                artifact.name,
                monitor.uploaded_by,
                user.name,
            )
            log.info(
                "monitor of %s for %s: exit %s in %.2fs",
                artifact.id,
                user.name,
                outcome.exit_code,
                time.monotonic() - started,
            )
        except BaseException:
            result.cleanup()
            raise
        if outcome.allowed:
            self._record(artifact, user, what, True, None, outcome.exit_code, outcome.first_line)
            (scratch / node.PROGRAM_NAME).unlink(missing_ok=True)
            result.checked_zip = zip_path
            return result
        result.cleanup()
        if outcome.timed_out:
            limit = self.settings.monitor_timeout_seconds
            why = f"the monitor was stopped at its time limit ({limit:g} s)"
        else:
            why = f"the monitor exited with code {outcome.exit_code}"
        self._record(artifact, user, what, False, why, outcome.exit_code, outcome.first_line)
        stdout = outcome.stdout[:REFUSAL_STDOUT_CHARS]
        raise DownloadRefused(
            f"the download of {artifact.name!r} was refused by its monitoring program: {why}. "
            f"Its output: {stdout.strip() or '(none)'}",
            exit_code=outcome.exit_code,
            stdout=stdout,
            stdout_truncated=outcome.truncated or len(outcome.stdout) > REFUSAL_STDOUT_CHARS,
            timed_out=outcome.timed_out,
        )

    def plain(self, artifact: Artifact, linked: Sequence[Artifact] = ()) -> bool:
        """Whether a download of ``artifact`` (with ``linked``) passes the gate with nothing to
        run: neither is quarantined and the model is not sensitive (no monitor, no
        presign rule). What ``check`` then does is only to record it (``record_allowed``)."""
        with self.db.read() as s:
            repo = ProtectionRepository(s)
            statuses = repo.statuses([artifact.id, *(a.id for a in linked)])
        own = statuses.get(artifact.id)
        if own is not None and (own.sensitive or own.state == LifecycleState.quarantined):
            return False
        return all(st.state != LifecycleState.quarantined for st in statuses.values())

    def record_allowed(self, artifact: Artifact, user: User, what: str) -> Future[None]:
        """Record an allowed download (history and DOWNLOAD audit entry, as ``check`` does);
        the future is done once the record is committed."""
        return self._submit(artifact, user, what, True, None)

    def _record(
        self,
        artifact: Artifact,
        user: User,
        what: str,
        allowed: bool,
        reason: str | None,
        exit_code: int | None = None,
        first_line: str | None = None,
    ) -> None:
        self._submit(artifact, user, what, allowed, reason, exit_code, first_line).result()

    def _submit(
        self,
        artifact: Artifact,
        user: User,
        what: str,
        allowed: bool,
        reason: str | None,
        exit_code: int | None = None,
        first_line: str | None = None,
    ) -> Future[None]:
        event = DownloadEvent(
            artifact.id, user.name, datetime.now(UTC), what, allowed, reason, exit_code, first_line
        )
        if allowed:
            entry = AuditEntry.now(artifact, user, AuditAction.DOWNLOAD, what)
        else:
            entry = AuditEntry.now(artifact, user, AuditAction.REFUSE, f"{what}: {reason}")
        return download_recorder(self.db, self.audit_key).submit(event, entry)


class DownloadRecorder:
    """Download records written by group commit: the history row and the audit entry of every
    attempt that arrives while the previous batch is being written go in one transaction (one
    commit, one fsync, one hold of the write lock) instead of one each. A caller waits for its
    record to be committed before any byte is served, so every download stays audited, durably,
    under the user it was for; with one download at a time a batch is one record, as before.
    The writer thread exists only while there is work (it ends after a few idle seconds)."""

    IDLE_SECONDS = 5.0

    def __init__(self, db: Database, audit_key: bytes) -> None:
        self.db = db
        self.audit_key = audit_key
        self._cond = threading.Condition()
        self._pending: list[tuple[DownloadEvent, AuditEntry, Future[None]]] = []
        self._writer: threading.Thread | None = None

    def submit(self, event: DownloadEvent, entry: AuditEntry) -> Future[None]:
        done: Future[None] = Future()
        with self._cond:
            self._pending.append((event, entry, done))
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name="tmr-download-records", daemon=True
                )
                self._writer.start()
            self._cond.notify()
        return done

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._cond.wait(self.IDLE_SECONDS)
                if not self._pending:
                    self._writer = None
                    return
                batch, self._pending = self._pending, []
            try:
                with self.db.transaction() as s:
                    history = ProtectionRepository(s)
                    for event, _, _ in batch:
                        history.add_download(event)
                    AuditRepository(s, self.audit_key).append_many([e for _, e, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - every waiting request hears of it
                for _, _, done in batch:
                    done.set_exception(exc)
            else:
                for _, _, done in batch:
                    done.set_result(None)


_recorders: dict[int, DownloadRecorder] = {}
_recorders_lock = threading.Lock()


def download_recorder(db: Database, audit_key: bytes) -> DownloadRecorder:
    with _recorders_lock:
        found = _recorders.get(id(db))
        if found is None or found.db is not db:
            found = _recorders[id(db)] = DownloadRecorder(db, audit_key)
        return found


# --- search and view appearances, buffered ------------------------------------------------------
class InterestBuffer:
    """Appearances in search results and reads by id, written in batches (at most every few
    seconds or few hundred events) so searches and reads cost no database write each."""

    FLUSH_EVENTS = 500
    FLUSH_SECONDS = 5.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._events: list[InterestEvent] = []
        self._since = time.monotonic()
        self._flushing = False

    def add(self, user_name: str, artifact_ids: Sequence[str], kind: str) -> None:
        now = datetime.now(UTC)
        with self._lock:
            self._events += [InterestEvent(a, user_name, kind, now) for a in artifact_ids]
            due = (
                len(self._events) >= self.FLUSH_EVENTS
                or time.monotonic() - self._since >= self.FLUSH_SECONDS
            )
        if due:
            self._flush_in_background()

    def _flush_in_background(self) -> None:
        """Write the batch from a short-lived thread: the request that fills the buffer does
        not wait for the write (on SQLite reads run on the event loop, so an inline batch write
        stalled every connection: a tail of the read benchmark, scripts/profile_server.py)."""
        with self._lock:
            if self._flushing:
                return
            self._flushing = True

        def run() -> None:
            try:
                self.flush()
            finally:
                with self._lock:
                    self._flushing = False

        threading.Thread(target=run, name="tmr-interest-flush", daemon=True).start()

    def flush(self) -> None:
        with self._lock:
            events, self._events = self._events, []
            self._since = time.monotonic()
        if not events:
            return
        try:
            with self.db.transaction() as s:
                ids = list({e.artifact_id for e in events})
                known = ArtifactRepository(s).existing(ids)
                ProtectionRepository(s).add_interest(e for e in events if e.artifact_id in known)
        except Exception as exc:  # noqa: BLE001 - losing a batch of statistics is acceptable
            log.warning("could not record %d search/view events: %s", len(events), exc)


@dataclass(frozen=True)
class ConfusionResult:
    artifact_id: str
    name: str
    type: str
    score: float
    looks_like: tuple[str, str, str] | None  # id, name, type
    reasons: list[str]


def _hub_owner(hub_key: str | None) -> str | None:
    if not hub_key:
        return None
    parts = hub_key.removeprefix("datasets/").removeprefix("github/").split("/")
    return parts[0] if len(parts) >= 2 else None
