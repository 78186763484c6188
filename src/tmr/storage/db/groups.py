"""Atomic groups in the database: the group row, its commands, the blob prefixes it must delete.

Every status change is a conditional UPDATE (``WHERE status = …``), so two processes can never
both execute a group, and an executor whose group was declared dead by the sweeper cannot commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tmr.domain.artifact import ArtifactType
from tmr.domain.groups import CommandOp, CommandResult, Group, GroupCommand, GroupStatus
from tmr.storage.db.artifacts import as_utc
from tmr.storage.db.tables import GroupBlobRow, GroupCommandRow, GroupRow

STAGED = "staged"
SUPERSEDED = "superseded"


def _command(row: GroupCommandRow) -> GroupCommand:
    return GroupCommand(
        position=row.position,
        op=CommandOp(row.op),
        type=ArtifactType(row.artifact_type),
        artifact_id=row.artifact_id,
        url=row.url,
        name=row.name,
        filename=row.filename,
        blob_key=row.blob_key,
        sensitive=row.sensitive,
    )


def _results(raw: str | None) -> list[CommandResult]:
    if not raw:
        return []
    return [
        CommandResult(
            position=int(r["position"]),
            op=CommandOp(r["op"]),
            artifact_id=str(r["artifact_id"]),
            artifact_name=str(r["artifact_name"]),
            type=ArtifactType(r["type"]),
        )
        for r in json.loads(raw)
    ]


class GroupRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # --- groups ---------------------------------------------------------------------------
    def add(self, group: Group) -> None:
        self.s.add(
            GroupRow(
                id=group.id,
                created_by=group.created_by,
                status=group.status.value,
                created_at=group.created_at,
                expires_at=group.expires_at,
                updated_at=group.updated_at,
            )
        )
        self.s.flush()

    def get(self, group_id: str, with_commands: bool = True) -> Group | None:
        row = self.s.get(GroupRow, group_id)
        if row is None:
            return None
        commands: list[GroupCommand] = []
        if with_commands:
            commands = [
                _command(c)
                for c in self.s.scalars(
                    select(GroupCommandRow)
                    .where(GroupCommandRow.group_id == group_id)
                    .order_by(GroupCommandRow.position)
                )
            ]
        return Group(
            id=row.id,
            created_by=row.created_by,
            status=GroupStatus(row.status),
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at),
            updated_at=as_utc(row.updated_at),
            reason=row.reason,
            commands=commands,
            results=_results(row.results),
        )

    def list_for(self, user_name: str | None, limit: int) -> list[Group]:
        """The newest groups of ``user_name`` (everyone's when None), without their commands."""
        stmt = select(GroupRow.id).order_by(GroupRow.created_at.desc()).limit(limit)
        if user_name is not None:
            stmt = stmt.where(GroupRow.created_by == user_name)
        found = [self.get(gid, with_commands=False) for gid in self.s.scalars(stmt)]
        return [g for g in found if g is not None]

    def transition(
        self,
        group_id: str,
        before: GroupStatus,
        after: GroupStatus,
        now: datetime,
        *,
        reason: str | None = None,
        results: Sequence[CommandResult] | None = None,
    ) -> bool:
        """Move ``before`` → ``after``; False when the group is not (any longer) ``before``."""
        values: dict[str, object] = {"status": after.value, "updated_at": now}
        if reason is not None:
            values["reason"] = reason
        if results is not None:
            values["results"] = json.dumps(
                [
                    {
                        "position": r.position,
                        "op": r.op.value,
                        "artifact_id": r.artifact_id,
                        "artifact_name": r.artifact_name,
                        "type": r.type.value,
                    }
                    for r in results
                ]
            )
        done = self.s.execute(
            update(GroupRow)
            .where(GroupRow.id == group_id, GroupRow.status == before.value)
            .values(**values)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def touch(self, group_id: str, status: GroupStatus, now: datetime) -> bool:
        """Renew the heartbeat (and take the row's lock) while the group is still ``status``."""
        done = self.s.execute(
            update(GroupRow)
            .where(GroupRow.id == group_id, GroupRow.status == status.value)
            .values(updated_at=now)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def expired_open(self, now: datetime, limit: int = 1000) -> list[str]:
        stmt = (
            select(GroupRow.id)
            .where(GroupRow.status == GroupStatus.open.value, GroupRow.expires_at < now)
            .limit(limit)
        )
        return list(self.s.scalars(stmt))

    def stale_executing(self, heartbeat_before: datetime, limit: int = 1000) -> list[str]:
        stmt = (
            select(GroupRow.id)
            .where(
                GroupRow.status == GroupStatus.executing.value,
                GroupRow.updated_at < heartbeat_before,
            )
            .limit(limit)
        )
        return list(self.s.scalars(stmt))

    def statuses(self, group_ids: Sequence[str]) -> dict[str, GroupStatus]:
        if not group_ids:
            return {}
        rows = self.s.execute(
            select(GroupRow.id, GroupRow.status).where(GroupRow.id.in_(list(group_ids)))
        )
        return {gid: GroupStatus(status) for gid, status in rows}

    def delete_all(self) -> None:
        self.s.execute(delete(GroupBlobRow))
        self.s.execute(delete(GroupCommandRow))
        self.s.execute(delete(GroupRow))

    # --- commands -------------------------------------------------------------------------
    def command_count(self, group_id: str) -> int:
        return int(
            self.s.scalar(
                select(func.count())
                .select_from(GroupCommandRow)
                .where(GroupCommandRow.group_id == group_id)
            )
            or 0
        )

    def add_command(self, group_id: str, command: GroupCommand) -> None:
        self.s.add(
            GroupCommandRow(
                group_id=group_id,
                position=command.position,
                op=command.op.value,
                artifact_type=command.type.value,
                artifact_id=command.artifact_id,
                url=command.url,
                name=command.name,
                filename=command.filename,
                blob_key=command.blob_key,
                sensitive=command.sensitive,
            )
        )
        self.s.flush()

    # --- blob prefixes to clean up ----------------------------------------------------------
    def add_blobs(self, group_id: str, prefixes: Sequence[str], role: str) -> None:
        self.s.add_all(GroupBlobRow(group_id=group_id, prefix=p, role=role) for p in prefixes)
        self.s.flush()

    def blobs(self, group_id: str) -> list[str]:
        return list(
            self.s.scalars(select(GroupBlobRow.prefix).where(GroupBlobRow.group_id == group_id))
        )

    def drop_blobs(self, group_id: str, prefixes: Sequence[str] | None = None) -> None:
        stmt = delete(GroupBlobRow).where(GroupBlobRow.group_id == group_id)
        if prefixes is not None:
            stmt = stmt.where(GroupBlobRow.prefix.in_(list(prefixes)))
        self.s.execute(stmt)

    def groups_with_blobs(self, statuses: Sequence[GroupStatus], limit: int = 1000) -> list[str]:
        """Finished groups that still list prefixes to delete (their cleanup was cut short)."""
        stmt = (
            select(GroupBlobRow.group_id)
            .join(GroupRow, GroupRow.id == GroupBlobRow.group_id)
            .where(GroupRow.status.in_([s.value for s in statuses]))
            .distinct()
            .limit(limit)
        )
        return list(self.s.scalars(stmt))
