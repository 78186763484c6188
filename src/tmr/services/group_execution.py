"""Atomic groups, step three: execute every command of a group so that all or none take effect.

1. ``open`` → ``executing`` by one conditional UPDATE: a second execute is refused (409).
2. Prepare every command with no visible effect: fetch and rate URLs, extract uploaded zips,
   pass each model through the ingest gate, check ownership again. Any failure stops here.
3. Stage every new generation of blobs under a fresh prefix. Each prefix is written to
   ``group_blobs`` (role ``staged``) *before* its first blob, in a transaction that also renews
   the group's heartbeat and only succeeds while the group is still ``executing``.
4. One database transaction: ``executing`` → ``committed`` (conditional again, so a group the
   sweeper declared dead cannot commit), every artifact row added, replaced or deleted, every
   audit entry (detail ``group <id>``, the same for all), the staged prefixes dropped from
   ``group_blobs`` (now referenced) and the superseded ones added (role ``superseded``).
   Readers see the registry before or after this commit, never between.
5. Delete the superseded blobs and the group's kept zips, then their ``group_blobs`` rows.

On a failure in 2–4 the group becomes ``failed`` with the reason and the staged prefixes are
deleted. A process killed anywhere leaves a group ``executing`` with a stale heartbeat, or a
committed group with superseded prefixes listed: ``sweep_groups`` (run by the crash-leftover
sweeper at start-up and every interval) fails the first after ``TMR_GROUP_LEASE_SECONDS`` and
deletes what either lists.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from tmr.domain.artifact import Artifact, AuditAction, AuditEntry, User
from tmr.domain.files import StoredFile
from tmr.domain.groups import CommandOp, CommandResult, Group, GroupCommand, GroupStatus
from tmr.domain.protections import FileScan
from tmr.domain.security import SecurityAction
from tmr.errors import BadRequest, Conflict, TmrError
from tmr.services.catalog import require_owner
from tmr.services.groups import GroupService
from tmr.services.ingest import IngestService, Prepared
from tmr.services.protections import scan_local_files
from tmr.services.security import SecurityLog
from tmr.services.uploads import UploadService
from tmr.storage.blobs import BlobStore
from tmr.storage.bundles import GROUPS_PREFIX, bundle_prefix, bundles_prefix
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository
from tmr.storage.db.engine import Database
from tmr.storage.db.groups import STAGED, SUPERSEDED, GroupRepository

log = logging.getLogger("tmr.groups")

INTERRUPTED = "interrupted: the process executing the group stopped before it committed"


@dataclass
class Plan:
    """One command, prepared: what its commit writes."""

    command: GroupCommand
    artifact: Artifact  # the new artifact, or the one updated or deleted
    prepared: Prepared | None = None  # register, upload, update
    files: list[StoredFile] = field(default_factory=list)
    scans: list[FileScan] = field(default_factory=list)


def describe(command: GroupCommand) -> str:
    what = command.artifact_id or command.url or command.filename or ""
    return f"command {command.position} ({command.op.value} {command.type.value} {what})"


class GroupExecution:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        audit_key: bytes,
        security: SecurityLog,
        ingest: IngestService,
        uploads: UploadService,
        groups: GroupService,
        work_dir: Path,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.audit_key = audit_key
        self.security = security
        self.ingest = ingest
        self.uploads = uploads
        self.groups = groups
        self.work_dir = work_dir

    def execute(self, group_id: str, user: User) -> Group:
        group = self.groups.open_group(group_id, user, "execute")
        if not group.commands:
            raise BadRequest(f"group {group_id} has no commands yet; append some, then execute")
        with self.db.transaction() as s:
            started = GroupRepository(s).transition(
                group_id, GroupStatus.open, GroupStatus.executing, datetime.now(UTC)
            )
        if not started:
            raise Conflict(
                f"group {group_id} is already executing or finished: a group executes once",
                group_id=group_id,
            )
        log.info("group %s executing (%d commands)", group_id, len(group.commands))
        work = Path(tempfile.mkdtemp(prefix=f"group-{group_id}-", dir=self.work_dir))
        plans: list[Plan] = []
        staged: list[str] = []  # what this execution staged (also listed in group_blobs)
        step = "preparing"
        try:
            for command in group.commands:
                step = describe(command)
                plans.append(self._prepare(group, command, user, work))
                self._heartbeat(group_id)
            for plan in plans:
                step = f"storing the files of {describe(plan.command)}"
                self._stage(group_id, plan, staged)
            step = "the commit"
            superseded = self._commit(group, plans, user)
        except BaseException as exc:
            self._fail(group_id, step, exc, staged)
            raise
        finally:
            for plan in plans:
                if plan.prepared is not None:
                    self.ingest.discard(plan.prepared)
            shutil.rmtree(work, ignore_errors=True)
        delete_listed(self.db, self.blobs, group_id, superseded)
        self.groups.delete_kept_zips(group_id)
        log.info("group %s committed", group_id)
        return self.groups.get(group_id, user)

    # --- preparing ----------------------------------------------------------------------------
    def _prepare(self, group: Group, command: GroupCommand, user: User, work: Path) -> Plan:
        if command.op == CommandOp.register:
            assert command.url is not None
            prepared = self.ingest.prepare_registration(
                command.type, command.url, command.name, user, sensitive=command.sensitive
            )
            return Plan(command, self.ingest.new_artifact(prepared, user), prepared)
        if command.op == CommandOp.upload:
            prepared = self._prepare_upload(command, user, work)
            return Plan(command, self.ingest.new_artifact(prepared, user), prepared)
        assert command.artifact_id is not None
        if command.op == CommandOp.update:
            assert command.url is not None
            current, prepared = self.ingest.prepare_update(
                command.type, command.artifact_id, command.name, command.url, user
            )
            return Plan(command, current, prepared)
        with self.db.read() as s:
            current = ArtifactRepository(s).get_or_404(command.artifact_id, command.type)
        require_owner(self.security, user, current, "delete")
        return Plan(command, current)

    def _prepare_upload(self, command: GroupCommand, user: User, work: Path) -> Prepared:
        assert command.blob_key is not None and command.filename is not None
        folder = work / str(command.position)
        folder.mkdir()
        zip_path = folder / "bundle.zip"
        with zip_path.open("wb") as out:
            for chunk in self.blobs.iter_range(command.blob_key):
                out.write(chunk)
        prepared = self.uploads.prepare(
            command.type,
            zip_path,
            folder / "files",
            command.filename,
            command.name,
            user,
            sensitive=command.sensitive,
        )
        self.ingest.rate_prepared(prepared, user)
        return prepared

    # --- staging ------------------------------------------------------------------------------
    def _heartbeat(self, group_id: str, staged: str | None = None) -> None:
        """Renew the lease; refuse to go on when the group is no longer ours to execute."""
        with self.db.transaction() as s:
            repo = GroupRepository(s)
            if not repo.touch(group_id, GroupStatus.executing, datetime.now(UTC)):
                raise Conflict(f"group {group_id} {INTERRUPTED.split(': ', 1)[1]}")
            if staged is not None:
                repo.add_blobs(group_id, [staged], STAGED)

    def _stage(self, group_id: str, plan: Plan, staged: list[str]) -> None:
        if plan.prepared is None:
            return
        plan.scans = scan_local_files(plan.prepared.local_files)

        def record(prefix: str) -> None:
            self._heartbeat(group_id, prefix)
            staged.append(prefix)

        _, plan.files = self.ingest.stage(plan.artifact.id, plan.prepared, record)

    # --- the one transaction --------------------------------------------------------------------
    def _commit(self, group: Group, plans: list[Plan], user: User) -> list[str]:
        detail = group.audit_detail()
        superseded: list[str] = []
        results = [
            CommandResult(
                p.command.position, p.command.op, p.artifact.id, p.artifact.name, p.artifact.type
            )  # fmt: skip
            for p in plans
        ]
        with self.db.transaction() as s:
            repo = GroupRepository(s)
            if not repo.transition(
                group.id, GroupStatus.executing, GroupStatus.committed, datetime.now(UTC),
                results=results,
            ):  # fmt: skip
                raise Conflict(f"group {group.id} {INTERRUPTED.split(': ', 1)[1]}")
            for plan in plans:
                superseded += self._apply(s, plan, user, detail)
            repo.drop_blobs(group.id)  # the staged generations are referenced now
            repo.add_blobs(group.id, sorted(set(superseded)), SUPERSEDED)
        return superseded

    def _apply(self, s: Session, plan: Plan, user: User, detail: str) -> list[str]:
        """Write one command's rows; return the blob prefixes it makes obsolete."""
        op, artifact = plan.command.op, plan.artifact
        if op in (CommandOp.register, CommandOp.upload):
            assert plan.prepared is not None
            self.ingest.write_new(s, artifact, plan.prepared, plan.files, plan.scans, user, detail)
            return []
        if op == CommandOp.update:
            assert plan.prepared is not None
            old = self.ingest.write_update(
                s, artifact, plan.prepared, plan.files, plan.scans, user, detail
            )
            return [*old, bundles_prefix(artifact.id)]
        repo = ArtifactRepository(s)
        current = repo.get_or_404(artifact.id, artifact.type)
        repo.delete(artifact.id)
        AuditRepository(s, self.audit_key).append(
            AuditEntry.now(current, user, AuditAction.DELETE, detail)
        )
        self.security.record_in(
            s,
            SecurityAction.ARTIFACT_DELETE,
            user.name,
            f"{artifact.type.value}/{artifact.id}",
            f"name={current.name!r} owner={current.created_by!r} {detail}",
        )
        return [bundle_prefix(artifact.id)]

    # --- failure and clean-up -------------------------------------------------------------------
    def _fail(self, group_id: str, step: str, exc: BaseException, staged: list[str]) -> None:
        cause = exc.message if isinstance(exc, TmrError) else "an internal error (see the log)"
        reason = f"{step} failed: {cause}"
        log.warning("group %s failed at %s", group_id, reason)
        if isinstance(exc, TmrError):
            exc.message = f"group {group_id} was not executed, nothing changed: {reason}"
            exc.details.setdefault("group_id", group_id)
            exc.details.setdefault("group_status", GroupStatus.failed.value)
        try:
            with self.db.transaction() as s:
                repo = GroupRepository(s)
                repo.transition(
                    group_id, GroupStatus.executing, GroupStatus.failed, datetime.now(UTC),
                    reason=reason[:4000],
                )  # fmt: skip
                now = repo.get(group_id, with_commands=False)
                listed = repo.blobs(group_id)
        except TmrError as db_exc:  # the database is down: the sweeper fails it after the lease
            log.warning("could not mark group %s failed: %s", group_id, db_exc.message)
            return
        if now is not None and now.status == GroupStatus.committed:  # the commit went through
            log.warning("group %s committed after all; its blobs stay", group_id)
            return
        delete_listed(self.db, self.blobs, group_id, sorted({*listed, *staged}))
        self.groups.delete_kept_zips(group_id)


def delete_listed(db: Database, blobs: BlobStore, group_id: str, prefixes: list[str]) -> None:
    """Delete blob prefixes a group listed, then their rows (kept for the sweeper when the
    blob store refuses)."""
    gone = []
    for prefix in prefixes:
        try:
            blobs.delete_prefix(prefix)
            gone.append(prefix)
        except TmrError as exc:
            log.warning("group %s: could not delete %s: %s", group_id, prefix, exc.message)
    if gone:
        try:
            with db.transaction() as s:
                GroupRepository(s).drop_blobs(group_id, gone)
        except TmrError as exc:
            log.warning("group %s: could not record clean-up: %s", group_id, exc.message)


def sweep_groups(db: Database, blobs: BlobStore, groups: GroupService, lease_seconds: float) -> int:
    """Fail groups whose executor died (heartbeat older than the lease), expire abandoned open
    groups, delete every blob prefix a finished group still lists and every kept zip whose group
    is finished. Returns how many prefixes and zips were deleted."""
    now = datetime.now(UTC)
    lease = timedelta(seconds=lease_seconds)
    with db.read() as s:
        repo = GroupRepository(s)
        dead = repo.stale_executing(now - lease)
        abandoned = repo.expired_open(now)
    for group_id in dead:
        with db.transaction() as s:
            if GroupRepository(s).transition(
                group_id, GroupStatus.executing, GroupStatus.failed, now, reason=INTERRUPTED
            ):
                log.warning("group %s: its executor died; failed, its staged blobs go", group_id)
    for group_id in abandoned:
        groups.expire(group_id)
    removed = 0
    finished = [GroupStatus.committed, GroupStatus.failed, GroupStatus.expired]
    with db.read() as s:
        leftovers = {gid: GroupRepository(s).blobs(gid)
                     for gid in GroupRepository(s).groups_with_blobs(finished)}  # fmt: skip
    for group_id, prefixes in leftovers.items():
        delete_listed(db, blobs, group_id, prefixes)
        removed += len(prefixes)
    kept: dict[str, list[str]] = {}
    for info in blobs.list(GROUPS_PREFIX):
        kept.setdefault(info.key[len(GROUPS_PREFIX) :].split("/", 1)[0], []).append(info.key)
    with db.read() as s:
        statuses = GroupRepository(s).statuses(list(kept))
    for group_id, keys in kept.items():
        if statuses.get(group_id) in (GroupStatus.open, GroupStatus.executing):
            continue
        for key in keys:
            blobs.delete(key)
            removed += 1
    return removed
