"""The registry's storage invariants, checked against the real database and blob store.

``problems(registry)`` lists every violation (empty when consistent):

- every file row's blob exists in the blob store;
- every blob under ``artifacts/`` is pointed to by a file row, or is a materialised download zip
  (``artifacts/<id>/bundles/``) of an artifact that exists;
- every blob under ``groups/<id>/`` (a group's kept upload) belongs to an open or executing group;
- no audit entry names a group that did not commit (``detail`` ``group <id>``), and each
  committed group has one entry per command;
- both keyed audit chains verify (``storage/db/audit.py``).

``after_sweep=True`` also demands what the sweeper guarantees: no group left ``executing`` and
no group still listing blob prefixes to delete.
"""

from __future__ import annotations

from sqlalchemy import select

from tmr.composition import Registry
from tmr.storage.db.audit import AuditRepository, SecurityLogRepository
from tmr.storage.db.tables import (
    ArtifactFileRow,
    ArtifactRow,
    AuditRow,
    GroupBlobRow,
    GroupCommandRow,
    GroupRow,
)


def problems(registry: Registry, after_sweep: bool = False) -> list[str]:
    found: list[str] = []
    with registry.db.read() as s:
        artifacts = set(s.scalars(select(ArtifactRow.id)))
        file_keys = {k for k in s.scalars(select(ArtifactFileRow.blob_key)) if k is not None}
        groups = {g: st for g, st in s.execute(select(GroupRow.id, GroupRow.status))}
        commands: dict[str, int] = {}
        for gid in s.scalars(select(GroupCommandRow.group_id)):
            commands[gid] = commands.get(gid, 0) + 1
        audited: dict[str, int] = {}
        for detail in s.scalars(select(AuditRow.detail).where(AuditRow.detail.like("group %"))):
            gid = detail.split(" ", 1)[1]
            audited[gid] = audited.get(gid, 0) + 1
        listed = [(g, p) for g, p in s.execute(select(GroupBlobRow.group_id, GroupBlobRow.prefix))]
        chains = [AuditRepository(s, registry.audit_key).verify(),
                  SecurityLogRepository(s, registry.audit_key).verify()]  # fmt: skip
    stored = {info.key for info in registry.blobs.list("")}
    for key in sorted(file_keys - stored):
        found.append(f"file row points to a missing blob {key}")
    for key in sorted(stored):
        if key.startswith("artifacts/"):
            artifact_id = key.split("/")[1]
            is_bundle = key.startswith(f"artifacts/{artifact_id}/bundles/")
            if key not in file_keys and not (is_bundle and artifact_id in artifacts):
                found.append(f"blob without a row: {key}")
        elif key.startswith("groups/"):
            gid = key.split("/")[1]
            if groups.get(gid) not in ("open", "executing"):
                found.append(f"kept zip of a finished or unknown group: {key}")
    for gid, count in sorted(audited.items()):
        if groups.get(gid) != "committed":
            found.append(f"{count} audit entries name group {gid}, which is {groups.get(gid)}")
        elif count != commands.get(gid, 0):
            found.append(f"group {gid} has {commands.get(gid)} commands but {count} entries")
    for gid, status in sorted(groups.items()):
        if status == "committed" and gid not in audited:
            found.append(f"committed group {gid} wrote no audit entry")
    for report in chains:
        if not report.intact:
            found.append(f"audit chain {report.stream}: {report.problem}")
    if after_sweep:
        found += [f"group {g} still executing" for g, st in groups.items() if st == "executing"]
        found += [f"group {g} still lists {p} to delete" for g, p in listed]
    return found
