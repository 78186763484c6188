"""Atomic groups, step three (services/group_execution.py): a group's changes all take effect in
one commit, or none does; and the sweep of what a dead or interrupted execution left behind
(``sweep_groups``, run by the crash-leftover sweeper).

Each failure is checked against the stores: the artifacts, their blobs and the audit trail are
exactly what they were, the group is ``failed`` with the step that failed, and
tests/support/consistency.py finds nothing wrong (after a sweep where the design leaves work for
the sweeper). Runs on SQLite + local files; the tests taking ``both`` also on PostgreSQL +
SeaweedFS S3 (the failures injected into one code path run once).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.support.consistency import problems
from tests.support.group_services import ADMIN, BERT, MISSING, SQUAD, Parts
from tmr.domain.artifact import ArtifactType
from tmr.domain.groups import CommandOp, GroupStatus
from tmr.errors import BadRequest, Conflict, NotFound, StorageUnavailable
from tmr.services.group_execution import INTERRUPTED, sweep_groups
from tmr.storage.db.groups import STAGED, GroupRepository
from tmr.storage.db.tables import GroupRow

MODEL, DATASET = ArtifactType.model, ArtifactType.dataset


def listed(parts: Parts, gid: str) -> list[str]:
    with parts.registry.db.read() as s:
        return sorted(GroupRepository(s).blobs(gid))


def keys_of(parts: Parts, artifact_id: str) -> set[str]:
    return {k for k in parts.keys(f"artifacts/{artifact_id}/") if "/bundles/" not in k}


def sweep(parts: Parts, lease_seconds: float = 600) -> int:
    reg = parts.registry
    return sweep_groups(reg.db, reg.blobs, parts.services.groups, lease_seconds)


def _group_with_changes(parts: Parts, kept_id: str) -> str:
    """A group that uploads a new artifact and updates ``kept``: both must not happen when a
    later command fails."""
    groups = parts.services.groups
    gid = groups.open(ADMIN).id
    groups.append_upload(gid, ADMIN, DATASET, parts.zip("new-one"), "new-one.zip", None)
    groups.append_update(gid, ADMIN, kept_id, SQUAD, None)
    return gid


def _assert_failed_without_trace(parts: Parts, gid: str, before: Any, reason: str) -> None:
    group = parts.services.groups.get(gid, ADMIN)
    assert group.status == GroupStatus.failed
    assert group.reason is not None and group.reason.startswith(reason), group.reason
    assert group.results == []
    assert parts.state() == before  # no artifact, no blob, no audit entry
    assert parts.keys("groups/") == set()
    assert listed(parts, gid) == []
    assert problems(parts.registry, after_sweep=True) == []


# --- the happy path ---------------------------------------------------------------------------
def test_a_group_registers_uploads_updates_and_deletes_in_one_commit(both: Parts) -> None:
    parts = both
    groups, execution = parts.services.groups, parts.services.group_execution
    kept = parts.upload("kept")
    doomed = parts.upload("doomed")
    old_keys = keys_of(parts, kept.id)
    audit_before = len(parts.audit_details())
    gid = groups.open(ADMIN).id
    groups.append_register(gid, ADMIN, MODEL, BERT, "bert")
    groups.append_upload(gid, ADMIN, MODEL, parts.zip("in-house"), "in-house.zip", None)
    groups.append_update(gid, ADMIN, kept.id, SQUAD, "kept")
    groups.append_delete(gid, ADMIN, DATASET, doomed.id)

    done = execution.execute(gid, ADMIN)
    assert done.status == GroupStatus.committed and done.reason is None
    assert [(r.position, r.op, r.artifact_name, r.type) for r in done.results] == [
        (1, CommandOp.register, "bert", MODEL),
        (2, CommandOp.upload, "in-house", MODEL),
        (3, CommandOp.update, "kept", DATASET),
        (4, CommandOp.delete, "doomed", DATASET),
    ]
    ids = [r.artifact_id for r in done.results]
    assert ids[2:] == [kept.id, doomed.id]
    assert parts.artifacts() == {ids[0]: "bert", ids[1]: "in-house", kept.id: "kept"}
    catalog = parts.services.catalog
    assert catalog.get(DATASET, kept.id).url == SQUAD
    assert catalog.get(MODEL, ids[1]).url == "upload://ece30861defaultadminuser/in-house.zip"
    assert catalog.get(MODEL, ids[0]).created_by == ADMIN.name
    # the old version's blobs and the deleted artifact's are gone, the new ones are there
    assert keys_of(parts, kept.id) and not keys_of(parts, kept.id) & old_keys
    assert parts.keys(f"artifacts/{doomed.id}/") == set()
    assert parts.audit_details()[audit_before:] == [
        ("CREATE", f"group {gid}"),
        ("CREATE", f"group {gid}"),
        ("UPDATE", f"group {gid}"),
        ("DELETE", f"group {gid}"),
    ]
    action, actor, subject, detail = parts.security_events()[-1]
    assert (action, actor, subject) == ("ARTIFACT_DELETE", ADMIN.name, f"dataset/{doomed.id}")
    assert detail == f"name='doomed' owner={ADMIN.name!r} group {gid}"
    assert parts.keys("groups/") == set()  # the kept zip went with the commit
    assert listed(parts, gid) == []  # and every superseded prefix
    assert problems(parts.registry, after_sweep=True) == []


def test_an_empty_group_and_a_second_execute_are_refused(parts: Parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    groups, execution = parts.services.groups, parts.services.group_execution
    gid = groups.open(ADMIN).id
    with pytest.raises(BadRequest) as empty:
        execution.execute(gid, ADMIN)
    assert empty.value.message == f"group {gid} has no commands yet; append some, then execute"
    groups.append_upload(gid, ADMIN, DATASET, parts.zip("raced"), "raced.zip", None)
    real = groups.open_group

    def seen_open_then_taken(group_id: str, user: Any, doing: str) -> Any:
        """Another execute takes the group between this one's check and its start."""
        group = real(group_id, user, doing)
        with parts.registry.db.transaction() as s:
            GroupRepository(s).transition(
                group_id, GroupStatus.open, GroupStatus.executing, datetime.now(UTC)
            )
        return group

    monkeypatch.setattr(groups, "open_group", seen_open_then_taken)
    with pytest.raises(Conflict) as second:
        execution.execute(gid, ADMIN)
    assert second.value.message == (
        f"group {gid} is already executing or finished: a group executes once"
    )
    assert second.value.details == {"group_id": gid}
    monkeypatch.undo()
    # the loser leaves the winner's execution alone
    assert groups.get(gid, ADMIN).status == GroupStatus.executing
    assert parts.artifacts() == {}
    with pytest.raises(Conflict, match=f"group {gid} is executing: a group executes once"):
        execution.execute(gid, ADMIN)


# --- failures leave no trace ------------------------------------------------------------------
def test_an_upstream_404_in_the_last_command_leaves_no_trace(parts: Parts) -> None:
    kept = parts.upload("kept")
    before = parts.state()
    gid = _group_with_changes(parts, kept.id)
    parts.services.groups.append_register(gid, ADMIN, MODEL, MISSING, None)
    with pytest.raises(NotFound) as failed:
        parts.services.group_execution.execute(gid, ADMIN)
    step = f"command 3 (register model {MISSING}) failed: "
    assert failed.value.message.startswith(
        f"group {gid} was not executed, nothing changed: {step}"
    ), failed.value.message
    assert failed.value.details["group_id"] == gid
    assert failed.value.details["group_status"] == "failed"
    _assert_failed_without_trace(parts, gid, before, step)


def test_a_blob_store_failure_while_staging_leaves_no_trace(both: Parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    parts = both
    kept = parts.upload("kept")
    before = parts.state()
    gid = _group_with_changes(parts, kept.id)
    blobs = parts.registry.blobs
    real = blobs.put_file
    generations: list[str] = []

    def refuse_the_second_generation(key: str, path: Any) -> Any:
        generation = "/".join(key.split("/")[:3])
        if generation not in generations:
            generations.append(generation)
        if len(generations) == 2:
            raise StorageUnavailable("the blob store refused the write (simulated outage)")
        return real(key, path)

    monkeypatch.setattr(blobs, "put_file", refuse_the_second_generation)
    with pytest.raises(StorageUnavailable) as failed:
        parts.services.group_execution.execute(gid, ADMIN)
    monkeypatch.undo()
    assert len(generations) == 2  # the first command's files were all staged
    step = f"storing the files of command 2 (update dataset {kept.id}) failed: "
    assert failed.value.message == (
        f"group {gid} was not executed, nothing changed: {step}"
        "the blob store refused the write (simulated outage)"
    )
    _assert_failed_without_trace(parts, gid, before, step)


def test_an_internal_error_in_the_commit_leaves_no_trace(parts: Parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kept = parts.upload("kept")
    before = parts.state()
    gid = _group_with_changes(parts, kept.id)

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated bug while writing the update's rows")

    monkeypatch.setattr(parts.services.ingest, "write_update", explode)
    with pytest.raises(RuntimeError, match="simulated bug"):  # not dressed up as a TmrError
        parts.services.group_execution.execute(gid, ADMIN)
    monkeypatch.undo()
    _assert_failed_without_trace(
        parts, gid, before, "the commit failed: an internal error (see the log)"
    )


@pytest.mark.parametrize("after_staging", [1, 2])
def test_an_execution_the_sweeper_declared_dead_cannot_commit(  # type: ignore[no-untyped-def]
    parts: Parts, monkeypatch, after_staging: int
) -> None:
    """The sweeper fails an execution whose heartbeat looks stale (here: a lease of 1 ms) after
    its first or last staged command; the executor notices at its next heartbeat or at the
    commit, and nothing it staged survives."""
    kept = parts.upload("kept")
    before = parts.state()
    gid = _group_with_changes(parts, kept.id)
    ingest = parts.services.ingest
    real = ingest.stage
    staged: list[str] = []

    def stage_then_swept(artifact_id: str, prepared: Any, before_put: Any = None) -> Any:
        done = real(artifact_id, prepared, before_put)
        staged.append(done[0])
        if len(staged) == after_staging:
            time.sleep(0.01)
            assert sweep(parts, lease_seconds=0.001) >= 1  # its staged prefixes went
            assert not any(parts.keys(prefix) for prefix in staged)
        return done

    monkeypatch.setattr(ingest, "stage", stage_then_swept)
    with pytest.raises(Conflict) as stopped:
        parts.services.group_execution.execute(gid, ADMIN)
    step = (
        f"storing the files of command 2 (update dataset {kept.id})"
        if after_staging == 1
        else "the commit"
    )
    assert stopped.value.message == (
        f"group {gid} was not executed, nothing changed: {step} failed: group {gid} the process "
        "executing the group stopped before it committed"
    )
    group = parts.services.groups.get(gid, ADMIN)
    assert group.reason == INTERRUPTED  # the sweeper's reason stays
    _assert_failed_without_trace(parts, gid, before, INTERRUPTED)


def test_a_failure_while_the_database_is_down_is_finished_by_the_sweeper(  # type: ignore[no-untyped-def]
    parts: Parts, monkeypatch
) -> None:
    """The blob store and the database fail together: the executor cannot even mark the group
    failed, so it stays ``executing`` until its lease runs out; the sweep then fails it and
    deletes what it staged and kept."""
    kept = parts.upload("kept")
    before = parts.state()
    gid = _group_with_changes(parts, kept.id)
    db, blobs = parts.registry.db, parts.registry.blobs
    real_transaction = db.transaction
    down = {"db": False}

    def transaction(*args: Any, **kwargs: Any) -> Any:
        if down["db"]:
            raise StorageUnavailable("the database is unreachable (simulated)")
        return real_transaction(*args, **kwargs)

    def put_file(key: str, path: Any) -> Any:
        down["db"] = True
        raise StorageUnavailable("the blob store is unreachable (simulated)")

    monkeypatch.setattr(db, "transaction", transaction)
    monkeypatch.setattr(blobs, "put_file", put_file)
    with pytest.raises(StorageUnavailable) as failed:
        parts.services.group_execution.execute(gid, ADMIN)
    monkeypatch.undo()
    assert failed.value.message == (
        f"group {gid} was not executed, nothing changed: storing the files of command 1 "
        "(upload dataset new-one.zip) failed: the blob store is unreachable (simulated)"
    )
    assert parts.services.groups.get(gid, ADMIN).status == GroupStatus.executing
    staged = listed(parts, gid)
    assert len(staged) == 1 and staged[0].startswith("artifacts/")
    assert sweep(parts) == 0  # within its lease it is left alone (its executor may live)
    assert parts.keys(f"groups/{gid}/") and listed(parts, gid) == staged
    time.sleep(0.01)
    assert sweep(parts, lease_seconds=0.001) == 2  # now dead: the staged prefix and the zip
    _assert_failed_without_trace(parts, gid, before, INTERRUPTED)


def test_a_commit_reported_failed_after_it_went_through_keeps_its_changes(  # type: ignore[no-untyped-def]
    parts: Parts, monkeypatch
) -> None:
    """The database committed, but the caller heard an error (say the connection dropped as the
    COMMIT was acknowledged): the group stays committed and keeps its blobs; what it did not
    get to delete is the sweeper's."""
    kept = parts.upload("kept")
    old_keys = keys_of(parts, kept.id)
    gid = _group_with_changes(parts, kept.id)
    execution = parts.services.group_execution
    real = execution._commit

    def commit_then_lose_the_answer(*args: Any) -> Any:
        real(*args)
        raise StorageUnavailable("the database connection dropped (simulated)")

    monkeypatch.setattr(execution, "_commit", commit_then_lose_the_answer)
    with pytest.raises(StorageUnavailable):
        execution.execute(gid, ADMIN)
    monkeypatch.undo()
    group = parts.services.groups.get(gid, ADMIN)
    assert group.status == GroupStatus.committed and group.reason is None
    assert [r.artifact_name for r in group.results] == ["new-one", "kept"]
    assert set(parts.artifacts().values()) == {"kept", "new-one"}
    assert parts.services.catalog.get(DATASET, kept.id).url == SQUAD
    assert keys_of(parts, kept.id)  # the new generation stays
    waiting = listed(parts, gid)  # the superseded prefixes wait for the sweeper
    assert f"artifacts/{kept.id}/bundles/" in waiting
    assert parts.keys(f"groups/{gid}/")
    assert sweep(parts) == len(waiting) + 1  # the prefixes and the kept zip
    assert not keys_of(parts, kept.id) & old_keys
    assert problems(parts.registry, after_sweep=True) == []


def test_clean_up_the_blob_store_refuses_is_left_to_the_sweeper(both: Parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    parts = both
    kept = parts.upload("kept")
    old_keys = keys_of(parts, kept.id)
    gid = _group_with_changes(parts, kept.id)
    blobs = parts.registry.blobs

    def refuse(prefix: str) -> int:
        raise StorageUnavailable(f"the blob store refused to delete {prefix} (simulated)")

    monkeypatch.setattr(blobs, "delete_prefix", refuse)
    done = parts.services.group_execution.execute(gid, ADMIN)
    monkeypatch.undo()
    assert done.status == GroupStatus.committed  # the commit stands; the clean-up waits
    waiting = listed(parts, gid)
    assert f"artifacts/{kept.id}/bundles/" in waiting
    assert old_keys <= parts.keys(f"artifacts/{kept.id}/")
    assert parts.keys(f"groups/{gid}/")
    assert problems(parts.registry)  # the kept zip of a finished group is a leftover for now
    assert sweep(parts) == len(waiting) + 1
    assert listed(parts, gid) == [] and parts.keys("groups/") == set()
    assert not keys_of(parts, kept.id) & old_keys
    assert problems(parts.registry, after_sweep=True) == []


def test_a_database_outage_after_the_commit_leaves_the_clean_up_list_to_the_sweeper(  # type: ignore[no-untyped-def]
    parts: Parts, monkeypatch
) -> None:
    """The superseded blobs are deleted, but the database is gone before their rows are: the
    group is committed all the same, and the sweep drops the rows (deleting again is harmless)."""
    kept = parts.upload("kept")
    old_keys = keys_of(parts, kept.id)
    gid = _group_with_changes(parts, kept.id)
    db, blobs = parts.registry.db, parts.registry.blobs
    real_transaction, real_delete_prefix = db.transaction, blobs.delete_prefix
    down = {"db": False}

    def transaction(*args: Any, **kwargs: Any) -> Any:
        if down["db"]:
            raise StorageUnavailable("the database is unreachable (simulated)")
        return real_transaction(*args, **kwargs)

    def delete_prefix(prefix: str) -> int:
        down["db"] = True  # the first clean-up after the commit: the database goes away
        return real_delete_prefix(prefix)

    monkeypatch.setattr(db, "transaction", transaction)
    monkeypatch.setattr(blobs, "delete_prefix", delete_prefix)
    done = parts.services.group_execution.execute(gid, ADMIN)
    monkeypatch.undo()
    assert done.status == GroupStatus.committed
    assert [r.artifact_name for r in done.results] == ["new-one", "kept"]
    assert not keys_of(parts, kept.id) & old_keys  # the blobs went
    waiting = listed(parts, gid)
    assert f"artifacts/{kept.id}/bundles/" in waiting  # their rows stayed
    assert sweep(parts) == len(waiting)
    assert listed(parts, gid) == []
    assert problems(parts.registry, after_sweep=True) == []


# --- the sweep --------------------------------------------------------------------------------
def test_the_sweep_fails_dead_executions_expires_abandoned_groups_and_drops_leftovers(
    both: Parts,
) -> None:
    parts = both
    groups = parts.services.groups
    reg = parts.registry
    now = datetime.now(UTC)
    dead = groups.open(ADMIN).id  # its executor was killed after staging a generation
    groups.append_upload(dead, ADMIN, DATASET, parts.zip("dead"), "dead.zip", None)
    staged = "artifacts/0123456789abcdef/cafe01/"
    reg.blobs.put_bytes(f"{staged}README.md", b"# staged, never committed")
    with reg.db.transaction() as s:
        repo = GroupRepository(s)
        assert repo.transition(dead, GroupStatus.open, GroupStatus.executing,
                               now - timedelta(hours=1))  # fmt: skip
        repo.add_blobs(dead, [staged], STAGED)
    abandoned = groups.open(ADMIN).id
    groups.append_upload(abandoned, ADMIN, DATASET, parts.zip("gone"), "gone.zip", None)
    with reg.db.transaction() as s:
        s.execute(
            update(GroupRow)
            .where(GroupRow.id == abandoned)
            .values(expires_at=now - timedelta(minutes=1))
        )
    alive = groups.open(ADMIN).id
    waiting = groups.append_upload(alive, ADMIN, DATASET, parts.zip("live"), "live.zip", None)
    reg.blobs.put_bytes("groups/ffffffffffffffffffff/uploads/stray.zip", b"PK")  # no such group

    report = parts.services.sweeper.sweep()
    # the staged prefix, the dead group's zip and the stray zip (expiry drops its own zips)
    assert report.groups == 3
    failed = groups.get(dead, ADMIN)
    assert failed.status == GroupStatus.failed and failed.reason == INTERRUPTED
    assert groups.get(abandoned, ADMIN).status == GroupStatus.expired
    assert groups.get(alive, ADMIN).status == GroupStatus.open
    assert parts.keys("groups/") == {waiting.blob_key}  # an open group's zip stays
    assert parts.keys("artifacts/") == set()
    assert problems(reg, after_sweep=True) == []
    assert sweep(parts) == 0  # nothing left for a second sweep
