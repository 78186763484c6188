"""A lease's life while its holder works: renewed by the heartbeat, released afterwards, never
taken by another replica while renewed; a take-over or a missed beat is logged, and a result that
appears between the check and the lease is returned without working (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from tmr.services.leases import once_across_replicas
from tmr.storage.db.engine import Database
from tmr.storage.db.leases import LeaseRepository
from tmr.storage.db.migrate import upgrade
from tmr.storage.db.tables import LeaseRow


@pytest.fixture
def replicas(backend, make_settings) -> Iterator[tuple[Database, Database]]:  # type: ignore[no-untyped-def]
    """Two engines on one database: two replicas."""
    settings = make_settings(**backend)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dbs = (Database(settings.resolved_database_url), Database(settings.resolved_database_url))
    upgrade(dbs[0].engine)
    yield dbs
    for db in dbs:
        db.dispose()


def lease(db: Database, name: str) -> tuple[str, float] | None:
    with db.read() as s:
        row = s.scalar(select(LeaseRow).where(LeaseRow.name == name))
        return (row.holder, row.expires_at) if row else None


def test_the_heartbeat_keeps_a_long_works_lease_from_another_replica(replicas) -> None:
    mine, other = replicas
    ttl = 0.6
    seen: list[tuple[str, float] | None] = []
    stolen: list[bool] = []

    def work() -> str:
        began = time.time()
        seen.append(lease(other, "pull:long"))
        while time.time() - began < 3 * ttl:  # outlives the lease it started with
            time.sleep(ttl / 4)
            with other.transaction() as s:
                stolen.append(
                    LeaseRepository(s).try_acquire("pull:long", "thief", time.time(), ttl)
                )
        seen.append(lease(other, "pull:long"))
        return "pulled"

    started = time.time()
    assert once_across_replicas(mine, "pull:long", lambda: None, work, ttl=ttl) == "pulled"

    assert stolen and not any(stolen)  # renewed every ttl/3: never expired for the other
    first, last = seen
    assert first is not None and last is not None
    assert first[0] == last[0] != "thief"  # one holder throughout
    assert first[1] <= started + ttl + 0.5
    assert last[1] > started + 2 * ttl  # the deadline moved on with the beats
    assert lease(other, "pull:long") is None  # released after the work


def test_a_lease_taken_over_while_held_is_logged(replicas, caplog) -> None:
    mine, other = replicas
    ttl = 0.3

    def work() -> str:
        with other.transaction() as s:  # another replica took the lease (a missed beat)
            s.execute(update(LeaseRow).values(holder="usurper"))
        time.sleep(ttl)  # at least one beat finds the lease gone
        return "done"

    with caplog.at_level(logging.WARNING, logger="tmr.leases"):
        assert once_across_replicas(mine, "pull:taken", lambda: None, work, ttl=ttl) == "done"

    assert any("was taken over while held" in r.getMessage() for r in caplog.records)
    taken = lease(other, "pull:taken")
    assert taken is not None and taken[0] == "usurper"  # not released: no longer ours


def test_a_beat_that_fails_is_logged_and_the_work_still_finishes(
    replicas, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = replicas

    def down(self, name, holder, now, ttl):  # type: ignore[no-untyped-def]
        raise ConnectionError("database went away")

    monkeypatch.setattr(LeaseRepository, "renew", down)
    with caplog.at_level(logging.ERROR, logger="tmr.leases"):
        out = once_across_replicas(
            mine, "pull:beat", lambda: None, lambda: time.sleep(0.3) or "done", ttl=0.3
        )
    assert out == "done"
    assert any("could not renew lease" in r.getMessage() for r in caplog.records)
    assert lease(other, "pull:beat") is None


def test_a_result_that_appears_before_the_lease_is_taken_is_returned_without_working(
    replicas,
) -> None:
    mine, other = replicas
    answers = iter([None, "made by another replica"])
    worked: list[int] = []

    out = once_across_replicas(mine, "pull:raced", lambda: next(answers), lambda: worked.append(1))

    assert out == "made by another replica"
    assert worked == []
    assert lease(other, "pull:raced") is None  # the lease taken for nothing is released
