"""Atomic groups, steps one and two: open an empty group, append validated commands, read it.

Each command is checked when it is appended, with the same rules as the single operation: a
known artifact type, a well-formed source URL, the artifact to update or delete exists and the
caller owns it (or is an administrator), a zip that extracts safely, at most
``TMR_GROUP_MAX_COMMANDS`` commands, one command per existing artifact. An uploaded zip is kept
in the blob store under ``groups/<id>/`` (any replica may execute the group) until the group
finishes. Only the group's creator or an administrator sees, appends to or executes a group.
Execution is in ``services/group_execution.py``.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tmr.config import Settings
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.domain.groups import CommandOp, Group, GroupCommand, GroupStatus
from tmr.domain.security import SecurityAction
from tmr.errors import BadRequest, Conflict, Gone, NotFound, TmrError, TooLarge, Unauthorized
from tmr.services.catalog import require_owner
from tmr.services.ingest import check_artifact_name
from tmr.services.security import SecurityLog
from tmr.sources.upload import extract_bundle
from tmr.sources.urls import parse_source_url
from tmr.storage.blobs import BlobStore
from tmr.storage.bundles import GROUPS_PREFIX
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database
from tmr.storage.db.groups import GroupRepository

log = logging.getLogger("tmr.groups")

LIST_LIMIT = 100


def group_prefix(group_id: str) -> str:
    """Every blob a group keeps before it executes (its uploaded zips) sits under this prefix."""
    return f"{GROUPS_PREFIX}{group_id}/"


def may_see(user: User, group: Group) -> bool:
    return user.is_admin or user.name == group.created_by


class GroupService:
    """Open groups and append commands (``settings``: the group limits and the upload and URL
    checks a command passes when it is appended)."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        security: SecurityLog,
        settings: Settings,
        work_dir: Path,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.security = security
        self.settings = settings
        self.work_dir = work_dir

    # --- step one: open ---------------------------------------------------------------------
    def open(self, user: User) -> Group:
        now = datetime.now(UTC)
        group = Group(
            id=secrets.token_hex(10),
            created_by=user.name,
            status=GroupStatus.open,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.group_ttl_seconds),
            updated_at=now,
        )
        with self.db.transaction() as s:
            GroupRepository(s).add(group)
        log.info("group %s opened by %s", group.id, user.name)
        return group

    # --- reading ----------------------------------------------------------------------------
    def get(self, group_id: str, user: User) -> Group:
        """The group as it is now (an open group past its expiry is reported ``expired``)."""
        group = self._visible(group_id, user, "read")
        if group.status == GroupStatus.open and group.expires_at <= datetime.now(UTC):
            self.expire(group.id)
            return self._load(group_id)
        return group

    def list(self, user: User) -> list[Group]:
        """The caller's newest groups (an administrator's: everyone's), without commands."""
        with self.db.read() as s:
            return GroupRepository(s).list_for(None if user.is_admin else user.name, LIST_LIMIT)

    def open_group(self, group_id: str, user: User, doing: str) -> Group:
        """The group, when ``user`` may act on it and it is still open (410 once expired)."""
        group = self._visible(group_id, user, doing)
        if group.status == GroupStatus.open and group.expires_at <= datetime.now(UTC):
            self.expire(group.id)
            group = self._load(group_id)
        if group.status == GroupStatus.expired:
            raise Gone(
                f"group {group_id} expired at {group.expires_at:%Y-%m-%dT%H:%M:%SZ} without "
                "being executed (groups stay open for "
                f"{self.settings.group_ttl_seconds:g} s); open a new one",
                group_id=group_id,
                status=group.status.value,
            )
        if group.status != GroupStatus.open:
            raise Conflict(
                f"group {group_id} is {group.status.value}: a group executes once, and commands "
                "can be appended only while it is open",
                group_id=group_id,
                status=group.status.value,
            )
        return group

    def expire(self, group_id: str) -> None:
        """An abandoned open group: mark it expired and delete the zips it kept."""
        with self.db.transaction() as s:
            done = GroupRepository(s).transition(
                group_id,
                GroupStatus.open,
                GroupStatus.expired,
                datetime.now(UTC),
                reason="expired before it was executed",
            )
        if done:
            log.info("group %s expired", group_id)
            self.delete_kept_zips(group_id)

    def delete_kept_zips(self, group_id: str) -> None:
        try:
            self.blobs.delete_prefix(group_prefix(group_id))
        except TmrError as exc:  # the sweeper retries
            log.warning("could not delete the zips of group %s: %s", group_id, exc.message)

    def _load(self, group_id: str) -> Group:
        with self.db.read() as s:
            group = GroupRepository(s).get(group_id)
        if group is None:
            raise NotFound(f"no group with id {group_id}")
        return group

    def _visible(self, group_id: str, user: User, doing: str) -> Group:
        group = self._load(group_id)
        if may_see(user, group):
            return group
        self.security.record(
            SecurityAction.DENIED, user.name, f"group/{group_id}", f"{doing}: not the owner"
        )
        raise Unauthorized(
            f"only the owner of group {group_id} (the user who opened it) or an administrator "
            f"may {doing} it; {user.name!r} is neither",
            rule="owner or admin",
        )

    # --- step two: append -------------------------------------------------------------------
    def append_register(
        self,
        group_id: str,
        user: User,
        type_: ArtifactType,
        url: str,
        name: str | None,
        sensitive: bool = False,
    ) -> GroupCommand:
        group = self.open_group(group_id, user, "append to")
        if sensitive and type_ != ArtifactType.model:
            raise BadRequest("only models can be sensitive")
        url = self._check_url(url)
        if name is not None:
            check_artifact_name(name)
            with self.db.read() as s:
                existing = ArtifactRepository(s).find_duplicate(type_, url, name)
            if existing is not None:
                raise Conflict(
                    f"Artifact exists already: {type_.value} {name!r} from {url} is artifact "
                    f"{existing.id}; register it under another name to keep a second copy.",
                    existing_id=existing.id,
                )
        command = GroupCommand(0, CommandOp.register, type_, url=url, name=name,
                               sensitive=sensitive)  # fmt: skip
        return self._add(group, command)

    def append_update(
        self,
        group_id: str,
        user: User,
        artifact_id: str,
        url: str,
        name: str | None,
        type_: ArtifactType | None = None,
    ) -> GroupCommand:
        group = self.open_group(group_id, user, "append to")
        url = self._check_url(url)
        artifact = self._target(group, user, artifact_id, type_, "update")
        if name is not None and name != artifact.name:
            raise BadRequest(
                f"name {name!r} does not match artifact {artifact_id} (named {artifact.name!r})"
            )
        command = GroupCommand(0, CommandOp.update, artifact.type, artifact_id=artifact.id,
                               url=url, name=artifact.name)  # fmt: skip
        return self._add(group, command)

    def append_delete(
        self, group_id: str, user: User, type_: ArtifactType, artifact_id: str
    ) -> GroupCommand:
        group = self.open_group(group_id, user, "append to")
        artifact = self._target(group, user, artifact_id, type_, "delete")
        command = GroupCommand(0, CommandOp.delete, artifact.type, artifact_id=artifact.id,
                               name=artifact.name)  # fmt: skip
        return self._add(group, command)

    def append_upload(
        self,
        group_id: str,
        user: User,
        type_: ArtifactType,
        zip_path: Path,
        filename: str,
        name: str | None,
        sensitive: bool = False,
    ) -> GroupCommand:
        """Check the zip now (it must extract safely), then keep it in the blob store."""
        group = self.open_group(group_id, user, "append to")
        if sensitive and type_ != ArtifactType.model:
            raise BadRequest("only models can be sensitive")
        check_artifact_name(name or Path(filename).stem)
        probe = Path(tempfile.mkdtemp(prefix="group-probe-", dir=self.work_dir))
        try:
            extract_bundle(zip_path, probe / "files", self.settings)
        finally:
            shutil.rmtree(probe, ignore_errors=True)
        self._check_room(group)
        key = f"{group_prefix(group.id)}uploads/{secrets.token_hex(8)}.zip"
        self.blobs.put_file(key, zip_path)
        command = GroupCommand(0, CommandOp.upload, type_, name=name, filename=filename,
                               blob_key=key, sensitive=sensitive)  # fmt: skip
        try:
            return self._add(group, command)
        except BaseException:
            self.blobs.delete(key)
            raise

    # --- helpers ----------------------------------------------------------------------------
    def _check_url(self, url: str) -> str:
        url = url.strip()
        parse_source_url(url, self.settings)  # 400 naming what is wrong with it
        return url

    def _target(
        self,
        group: Group,
        user: User,
        artifact_id: str,
        type_: ArtifactType | None,
        doing: str,
    ) -> Artifact:
        with self.db.read() as s:
            artifact = ArtifactRepository(s).get_or_404(artifact_id, type_)
        require_owner(self.security, user, artifact, doing)
        taken = [c for c in group.commands if c.artifact_id == artifact_id]
        if taken:
            raise Conflict(
                f"command {taken[0].position} of group {group.id} already "
                f"{taken[0].op.value}s artifact {artifact_id}; one command per artifact",
                position=taken[0].position,
            )
        return artifact

    def _check_room(self, group: Group) -> None:
        limit = self.settings.group_max_commands
        if len(group.commands) >= limit:
            raise TooLarge(f"group {group.id} holds {limit} commands already, the most allowed")

    def _add(self, group: Group, command: GroupCommand) -> GroupCommand:
        """Insert the command while the group is still open (the row lock orders appends and
        the execute that closes the group)."""
        self._check_room(group)
        limit = self.settings.group_max_commands
        with self.db.transaction() as s:
            repo = GroupRepository(s)
            if not repo.touch(group.id, GroupStatus.open, datetime.now(UTC)):
                raise Conflict(
                    f"group {group.id} is no longer open: a group executes once, and commands "
                    "can be appended only while it is open",
                    group_id=group.id,
                )
            count = repo.command_count(group.id)
            if count >= limit:
                raise TooLarge(f"group {group.id} holds {limit} commands already, the most allowed")
            placed = GroupCommand(
                count + 1,
                command.op,
                command.type,
                artifact_id=command.artifact_id,
                url=command.url,
                name=command.name,
                filename=command.filename,
                blob_key=command.blob_key,
                sensitive=command.sensitive,
            )
            repo.add_command(group.id, placed)
        return placed
