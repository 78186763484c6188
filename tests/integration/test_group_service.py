"""Atomic groups, steps one and two (services/groups.py), driven like the API routes drive them:
open a group, append commands that are validated when appended, read it back; who may see or
append; expiry of an abandoned group; the row-level rules of storage/db/groups.py.

Every refusal leaves the group as it was (no command row, no kept zip). Runs on SQLite + local
files; the tests taking ``both`` (what touches the blob store or the SQL of the repository) also
on PostgreSQL + SeaweedFS S3.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.support.group_services import ADMIN, ALICE, BERT, BOB, SQUAD, Parts
from tmr.domain.artifact import ArtifactType
from tmr.domain.groups import CommandOp, CommandResult, GroupStatus
from tmr.errors import BadRequest, Conflict, Gone, NotFound, TooLarge, Unauthorized
from tmr.storage.db.groups import STAGED, SUPERSEDED, GroupRepository
from tmr.storage.db.tables import GroupRow

MODEL, DATASET = ArtifactType.model, ArtifactType.dataset
FTP = "Only http(s) source URLs are accepted, not ftp URL 'ftp://x/y'."


def test_open_append_each_kind_and_read_back(both: Parts) -> None:
    parts = both
    groups = parts.services.groups
    kept = parts.upload("kept")
    doomed = parts.upload("doomed")
    before = datetime.now(UTC)
    group = groups.open(ADMIN)
    assert group.status == GroupStatus.open and group.created_by == ADMIN.name
    ttl = group.expires_at - group.created_at
    assert ttl == timedelta(seconds=parts.registry.settings.group_ttl_seconds)
    assert before <= group.created_at <= datetime.now(UTC)

    reg = groups.append_register(group.id, ADMIN, MODEL, f"  {BERT} ", "bert", sensitive=True)
    assert (reg.position, reg.op, reg.url, reg.name, reg.sensitive) == (
        1, CommandOp.register, BERT, "bert", True,
    )  # fmt: skip
    up = groups.append_upload(group.id, ADMIN, MODEL, parts.zip("in-house"), "in-house.zip", None)
    assert (up.position, up.op, up.filename, up.name) == (2, CommandOp.upload, "in-house.zip", None)
    assert up.blob_key is not None and up.blob_key.startswith(f"groups/{group.id}/uploads/")
    assert parts.keys(f"groups/{group.id}/") == {up.blob_key}  # kept until the group finishes
    upd = groups.append_update(group.id, ADMIN, kept.id, SQUAD, "kept", DATASET)
    assert (upd.position, upd.op, upd.artifact_id, upd.name, upd.type) == (
        3, CommandOp.update, kept.id, "kept", DATASET,
    )  # fmt: skip
    dele = groups.append_delete(group.id, ADMIN, DATASET, doomed.id)
    assert (dele.position, dele.op, dele.artifact_id, dele.name) == (
        4, CommandOp.delete, doomed.id, "doomed",
    )  # fmt: skip

    read = groups.get(group.id, ADMIN)
    assert read.status == GroupStatus.open and read.reason is None and read.results == []
    assert read.commands == [reg, up, upd, dele]
    assert read.updated_at >= group.updated_at  # every append renews the row
    assert set(parts.artifacts().values()) == {"kept", "doomed"}  # nothing happens yet
    listed = groups.list(ADMIN)
    assert [g.id for g in listed] == [group.id] and listed[0].commands == []


def test_who_may_see_list_and_append_to_a_group(parts: Parts) -> None:
    groups = parts.services.groups
    alices = parts.upload("alices", ALICE)
    admins = parts.upload("admins")
    gid = groups.open(ALICE).id
    other = groups.open(BOB).id
    for doing, call in [
        ("read", lambda: groups.get(gid, BOB)),
        ("append to", lambda: groups.append_delete(gid, BOB, DATASET, alices.id)),
        ("execute", lambda: parts.services.group_execution.execute(gid, BOB)),
    ]:
        with pytest.raises(Unauthorized) as refused:
            call()
        assert refused.value.message == (
            f"only the owner of group {gid} (the user who opened it) or an administrator "
            f"may {doing} it; 'bob' is neither"
        )
        assert refused.value.details["rule"] == "owner or admin"
        assert parts.security_events()[-1] == ("DENIED", "bob", f"group/{gid}",
                                               f"{doing}: not the owner")  # fmt: skip
    # a member may append only changes to what it owns (the single operation's rule)
    for doing, call in [
        ("delete", lambda: groups.append_delete(gid, ALICE, DATASET, admins.id)),
        ("update", lambda: groups.append_update(gid, ALICE, admins.id, SQUAD, None)),
    ]:
        with pytest.raises(Unauthorized) as refused:
            call()
        assert refused.value.message == (
            f"only the owner of dataset {admins.id} (the user who registered it) or an "
            f"administrator may {doing} it; 'alice' is neither"
        )
        assert parts.security_events()[-1] == ("DENIED", "alice", f"dataset/{admins.id}",
                                               f"{doing}: not the owner")  # fmt: skip
    assert groups.append_delete(gid, ALICE, DATASET, alices.id).position == 1
    # an administrator sees and appends to anyone's group
    assert groups.append_delete(gid, ADMIN, DATASET, admins.id).position == 2
    assert [c.artifact_id for c in groups.get(gid, ADMIN).commands] == [alices.id, admins.id]
    assert [g.id for g in groups.list(ALICE)] == [gid]
    assert [g.id for g in groups.list(BOB)] == [other]
    assert {g.id for g in groups.list(ADMIN)} == {gid, other}
    with pytest.raises(NotFound) as missing:
        groups.get("0123456789abcdef0123", ALICE)
    assert missing.value.message == "no group with id 0123456789abcdef0123"


def test_bad_commands_are_refused_when_appended_and_leave_the_group_unchanged(
    parts: Parts,
) -> None:
    groups = parts.services.groups
    mine = parts.upload("mine")
    gid = groups.open(ADMIN).id
    cases: list[tuple[type[Exception], str, object]] = [
        (BadRequest, "only models can be sensitive",
         lambda: groups.append_register(gid, ADMIN, DATASET, SQUAD, None, sensitive=True)),
        (BadRequest, "only models can be sensitive",
         lambda: groups.append_upload(gid, ADMIN, DATASET, parts.zip("s"), "s.zip", None, True)),
        (BadRequest, FTP, lambda: groups.append_register(gid, ADMIN, MODEL, "ftp://x/y", None)),
        (BadRequest, "The source URL is empty; send an http(s) URL of a repository.",
         lambda: groups.append_register(gid, ADMIN, MODEL, "   ", None)),
        (BadRequest, "the artifact name has a control or invisible character at position 3",
         lambda: groups.append_register(gid, ADMIN, MODEL, BERT, "bad\u200bname")),
        (BadRequest, "the artifact name has a control or invisible character at position 1",
         lambda: groups.append_upload(gid, ADMIN, MODEL, parts.zip("z"), "z\x07.zip", None)),
        (BadRequest, "the upload is not a readable zip archive",
         lambda: groups.append_upload(gid, ADMIN, MODEL, parts.zip("broken", b"PK\x03\x04 no"),
                                      "broken.zip", None)),
        (BadRequest, f"name 'other' does not match artifact {mine.id} (named 'mine')",
         lambda: groups.append_update(gid, ADMIN, mine.id, SQUAD, "other")),
        (BadRequest, FTP, lambda: groups.append_update(gid, ADMIN, mine.id, "ftp://x/y", None)),
        (NotFound, mine.id, lambda: groups.append_delete(gid, ADMIN, MODEL, mine.id)),
        (NotFound, "4040404040404040",
         lambda: groups.append_update(gid, ADMIN, "4040404040404040", SQUAD, None)),
        (NotFound, "no group with id nosuchgroup",
         lambda: groups.append_register("nosuchgroup", ADMIN, MODEL, BERT, None)),
    ]  # fmt: skip
    for error, said, call in cases:
        with pytest.raises(error) as refused:
            call()  # type: ignore[operator]
        assert said in refused.value.message, (said, refused.value.message)  # type: ignore[attr-defined]
    assert groups.get(gid, ADMIN).commands == []
    assert parts.keys("groups/") == set()  # the refused zips were never kept


def test_a_registration_that_exists_already_is_refused_with_its_id(parts: Parts) -> None:
    groups = parts.services.groups
    existing = parts.services.ingest.register_url(DATASET, SQUAD, "squad", ADMIN)
    gid = groups.open(ADMIN).id
    with pytest.raises(Conflict) as dup:
        groups.append_register(gid, ADMIN, DATASET, SQUAD, "squad")
    assert dup.value.message == (
        f"Artifact exists already: dataset 'squad' from {SQUAD} is artifact {existing.id}; "
        "register it under another name to keep a second copy."
    )
    assert dup.value.details["existing_id"] == existing.id
    assert groups.append_register(gid, ADMIN, DATASET, SQUAD, "squad-copy").position == 1


def test_one_command_per_artifact_and_the_command_limit(parts_for) -> None:  # type: ignore[no-untyped-def]
    parts: Parts = parts_for(group_max_commands=2)
    groups = parts.services.groups
    mine = parts.upload("mine")
    gid = groups.open(ADMIN).id
    assert groups.append_delete(gid, ADMIN, DATASET, mine.id).position == 1
    with pytest.raises(Conflict) as twice:
        groups.append_update(gid, ADMIN, mine.id, SQUAD, None)
    assert twice.value.message == (
        f"command 1 of group {gid} already deletes artifact {mine.id}; one command per artifact"
    )
    assert twice.value.details["position"] == 1
    assert groups.append_register(gid, ADMIN, MODEL, BERT, None).position == 2
    full = f"group {gid} holds 2 commands already, the most allowed"
    with pytest.raises(TooLarge, match=full):
        groups.append_register(gid, ADMIN, ArtifactType.code, BERT, None)
    with pytest.raises(TooLarge, match=full):
        groups.append_upload(gid, ADMIN, MODEL, parts.zip("late"), "late.zip", "late")
    assert len(groups.get(gid, ADMIN).commands) == 2
    assert parts.keys("groups/") == set()  # the zip over the limit was not kept


def _past_expiry(parts: Parts, gid: str) -> None:
    """Move a group's expiry into the past (as if its TTL had run out while nobody looked)."""
    with parts.registry.db.transaction() as s:
        s.execute(
            update(GroupRow)
            .where(GroupRow.id == gid)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def test_an_abandoned_group_expires_refuses_commands_and_drops_its_zips(parts: Parts) -> None:
    groups = parts.services.groups
    gid = groups.open(ADMIN).id
    groups.append_upload(gid, ADMIN, DATASET, parts.zip("waiting"), "waiting.zip", None)
    assert parts.keys(f"groups/{gid}/")
    _past_expiry(parts, gid)
    with pytest.raises(Gone) as gone:
        groups.append_register(gid, ADMIN, MODEL, BERT, None)
    expires = groups.get(gid, ADMIN).expires_at
    assert gone.value.message == (
        f"group {gid} expired at {expires:%Y-%m-%dT%H:%M:%SZ} without being executed "
        "(groups stay open for 3600 s); open a new one"
    )
    assert gone.value.details == {"group_id": gid, "status": "expired"}
    assert parts.keys("groups/") == set()
    read = groups.get(gid, ADMIN)
    assert read.status == GroupStatus.expired
    assert read.reason == "expired before it was executed"
    with pytest.raises(Gone):
        parts.services.group_execution.execute(gid, ADMIN)
    # reading a group nobody touched since it expired expires it too
    quiet = groups.open(ADMIN).id
    _past_expiry(parts, quiet)
    assert groups.get(quiet, ADMIN).status == GroupStatus.expired
    groups.expire(quiet)  # expiring again changes nothing
    assert groups.get(quiet, ADMIN).reason == "expired before it was executed"


def test_a_group_expires_by_the_clock(parts_for) -> None:  # type: ignore[no-untyped-def]
    parts: Parts = parts_for(group_ttl_seconds=0.2)
    groups = parts.services.groups
    gid = groups.open(ADMIN).id
    time.sleep(0.3)
    with pytest.raises(Gone, match=r"\(groups stay open for 0.2 s\); open a new one"):
        groups.append_register(gid, ADMIN, MODEL, BERT, None)


def test_a_group_that_is_not_open_takes_no_commands(parts: Parts) -> None:
    groups = parts.services.groups
    gid = groups.open(ADMIN).id
    groups.append_upload(gid, ADMIN, DATASET, parts.zip("once"), "once.zip", None)
    parts.services.group_execution.execute(gid, ADMIN)
    with pytest.raises(Conflict) as late:
        groups.append_upload(gid, ADMIN, DATASET, parts.zip("late"), "late.zip", None)
    assert late.value.message == (
        f"group {gid} is committed: a group executes once, and commands can be appended only "
        "while it is open"
    )
    assert late.value.details == {"group_id": gid, "status": "committed"}
    assert parts.keys("groups/") == set()


def test_a_group_closed_while_a_zip_was_checked_keeps_no_zip(parts: Parts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An execute (here: the expiry) that closes the group between the append's first check
    and its insert wins: the append is refused and the zip it already kept is deleted."""
    import tmr.services.groups as module

    groups = parts.services.groups
    gid = groups.open(ADMIN).id
    real = module.extract_bundle

    def extract_then_close(*args, **kwargs):  # type: ignore[no-untyped-def]
        done = real(*args, **kwargs)
        with parts.registry.db.transaction() as s:
            assert GroupRepository(s).transition(
                gid, GroupStatus.open, GroupStatus.executing, datetime.now(UTC)
            )
        return done

    monkeypatch.setattr(module, "extract_bundle", extract_then_close)
    with pytest.raises(Conflict) as closed:
        groups.append_upload(gid, ADMIN, DATASET, parts.zip("raced"), "raced.zip", None)
    assert closed.value.message == (
        f"group {gid} is no longer open: a group executes once, and commands can be appended "
        "only while it is open"
    )
    assert parts.keys("groups/") == set()
    assert groups.get(gid, ADMIN).commands == []


def test_two_appends_racing_for_the_last_place_one_wins_the_other_keeps_no_zip(  # type: ignore[no-untyped-def]
    parts_for, monkeypatch
) -> None:
    import tmr.services.groups as module

    parts: Parts = parts_for(group_max_commands=1)
    groups = parts.services.groups
    gid = groups.open(ADMIN).id
    real = module.extract_bundle

    def extract_while_another_appends(*args, **kwargs):  # type: ignore[no-untyped-def]
        done = real(*args, **kwargs)
        monkeypatch.setattr(module, "extract_bundle", real)
        assert groups.append_register(gid, ADMIN, MODEL, BERT, "winner").position == 1
        return done

    monkeypatch.setattr(module, "extract_bundle", extract_while_another_appends)
    with pytest.raises(TooLarge) as full:
        groups.append_upload(gid, ADMIN, DATASET, parts.zip("loser"), "loser.zip", None)
    assert full.value.message == f"group {gid} holds 1 commands already, the most allowed"
    assert [c.name for c in groups.get(gid, ADMIN).commands] == ["winner"]
    assert parts.keys("groups/") == set()


def test_the_repository_rows(both: Parts) -> None:
    """Conditional transitions, results as stored, the clean-up lists and the sweeper's
    queries (storage/db/groups.py)."""
    parts = both
    groups = parts.services.groups
    early, late = groups.open(ADMIN), groups.open(ALICE)
    now = datetime.now(UTC)
    results = [CommandResult(1, CommandOp.delete, "a1", "gone", DATASET)]
    with parts.registry.db.transaction() as s:
        repo = GroupRepository(s)
        assert repo.statuses([]) == {}
        assert repo.transition(early.id, GroupStatus.open, GroupStatus.executing, now)
        assert not repo.transition(early.id, GroupStatus.open, GroupStatus.executing, now)
        assert not repo.touch(early.id, GroupStatus.open, now)
        assert repo.touch(early.id, GroupStatus.executing, now)
        repo.add_blobs(early.id, ["artifacts/a1/g1/", "artifacts/a2/g2/"], STAGED)
        assert repo.stale_executing(now + timedelta(seconds=1)) == [early.id]
        assert repo.stale_executing(now - timedelta(seconds=1)) == []
        assert repo.groups_with_blobs([GroupStatus.failed, GroupStatus.committed]) == []
        assert repo.transition(early.id, GroupStatus.executing, GroupStatus.committed, now,
                               results=results)  # fmt: skip
        repo.drop_blobs(early.id, ["artifacts/a1/g1/"])
        repo.add_blobs(early.id, ["artifacts/a3/"], SUPERSEDED)
        assert sorted(repo.blobs(early.id)) == ["artifacts/a2/g2/", "artifacts/a3/"]
        assert repo.groups_with_blobs([GroupStatus.committed]) == [early.id]
        assert repo.expired_open(late.expires_at + timedelta(seconds=1)) == [late.id]
        assert repo.expired_open(now) == []
        assert repo.statuses([early.id, late.id, "nosuch"]) == {
            early.id: GroupStatus.committed,
            late.id: GroupStatus.open,
        }
        repo.drop_blobs(early.id)
        assert repo.blobs(early.id) == []
    read = groups.get(early.id, ADMIN)
    assert read.status == GroupStatus.committed and read.results == results
    assert [g.id for g in groups.list(ADMIN)] == [late.id, early.id]  # newest first
    with parts.registry.db.transaction() as s:
        GroupRepository(s).delete_all()
    assert groups.list(ADMIN) == []
