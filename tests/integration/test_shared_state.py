"""State that replicas share through the database: request activity (health) and leases.

Two app instances on the same database stand in for two processes here (each has its own engine,
pool, buffers and locks); tests/integration/test_scale_out.py runs real processes behind nginx.
"""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login


def _app(settings):  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    return create_app(settings)


def _route_count(client: TestClient, route: str) -> int:
    body = client.get("/health/components", params={"windowMinutes": 5}).json()
    api = {c["id"]: c for c in body["components"]}["api"]
    return int(api["metrics"].get(f"route {route}", 0))


def test_health_figures_are_the_same_whichever_replica_answers(backend, make_settings):
    settings = make_settings(activity_flush_seconds=0.1, **backend)
    a_app, b_app = _app(settings), _app(settings)
    with TestClient(a_app) as a, TestClient(b_app) as b:
        auth = {"X-Authorization": login(a)}
        for _ in range(3):
            a.get("/artifacts/model/nope", headers=auth)
        for _ in range(2):
            b.get("/artifacts/model/nope", headers=auth)
        time.sleep(1.5)  # both replicas' batches are written (flushed every 0.1 s)
        route = "GET /artifacts/{artifact_type}/{id}"
        assert _route_count(a, route) == 5
        assert _route_count(b, route) == 5
        body = b.get("/health/components", params={"windowMinutes": 5}).json()
        api = {c["id"]: c for c in body["components"]}["api"]
        assert api["metrics"]["replicas"] == 2
        assert a.get("/health").json()["artifact_count"] == b.get("/health").json()[
            "artifact_count"
        ]
    for app in (a_app, b_app):
        app.state.registry.db.dispose()


def test_activity_is_written_at_shutdown_and_pruned(make_settings, monkeypatch):
    from tmr.domain.activity import RequestRecord
    from tmr.services import activity
    from tmr.services.activity import ActivityLog
    from tmr.storage.db.engine import Database
    from tmr.storage.db.migrate import upgrade

    monkeypatch.setattr(activity, "PRUNE_EVERY_SECONDS", 0.0)
    settings = make_settings()
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.resolved_database_url)
    upgrade(db.engine)
    log = ActivityLog(db, flush_seconds=3600, max_entries=3)
    now = time.time()
    log.record(RequestRecord(now - 90_000, "GET", "/old", 200, 1.0, None, None))
    for batch in range(3):
        for i in range(2):
            log.record(RequestRecord(now, "GET", f"/r{batch}{i}", 200, 1.0, None, None))
        if batch < 2:
            log.flush()
    log.close()  # the timer never fired: close writes the last batch (and prunes)
    other = ActivityLog(db)
    routes = [r.route for r in other.window(24 * 60)]
    # the newest 3 records lie in the last two batches; the first batch (and the day-old
    # record in it) is gone
    assert routes == ["/r10", "/r11", "/r20", "/r21"]
    assert {r.replica for r in other.window(24 * 60)} == {log.replica}
    db.dispose()


def _databases(settings, n: int):  # type: ignore[no-untyped-def]
    from tmr.storage.db.engine import Database
    from tmr.storage.db.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dbs = [Database(settings.resolved_database_url) for _ in range(n)]
    upgrade(dbs[0].engine)
    return dbs


@pytest.fixture(params=["sqlite", "postgres"])
def db_settings(request, make_settings):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return make_settings()
    return make_settings(database_url=request.getfixturevalue("pg_database"))


def test_lease_runs_the_work_once_while_others_wait(db_settings):
    from tmr.services.leases import once_across_replicas

    dbs = _databases(db_settings, 4)
    result: dict[str, str] = {}
    calls: list[int] = []
    got: list[str] = []

    def work() -> str:
        calls.append(1)
        time.sleep(0.6)
        result["key"] = "blob-1"
        return "blob-1"

    errors: list[BaseException] = []

    def caller(db) -> None:  # type: ignore[no-untyped-def]
        try:
            got.append(
                once_across_replicas(db, "pull:x", lambda: result.get("key"), work, poll=0.05)
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(calls) == 1
    assert got == ["blob-1"] * 4
    for db in dbs:
        db.dispose()


def test_a_dead_holders_lease_expires_and_another_takes_over(db_settings):
    from tmr.services.leases import once_across_replicas
    from tmr.storage.db.leases import LeaseRepository

    first, second = _databases(db_settings, 2)
    died_at = time.time()
    with first.transaction() as s:  # a holder that died without releasing
        assert LeaseRepository(s).try_acquire("pull:y", "dead", died_at, ttl=2.0)
    with second.transaction() as s:
        assert not LeaseRepository(s).try_acquire("pull:y", "alive", time.time(), ttl=2.0)
    ran_at: list[float] = []

    def work() -> str:
        ran_at.append(time.time())
        return "done"

    out = once_across_replicas(second, "pull:y", lambda: None, work, poll=0.05)
    assert out == "done"
    assert died_at + 2.0 <= ran_at[0] < died_at + 30  # only once the dead lease expired
    with first.transaction() as s:  # released after the work
        assert LeaseRepository(s).try_acquire("pull:y", "next", time.time(), ttl=5)
    first.dispose()
    second.dispose()


def test_a_failed_holder_releases_the_lease_for_the_next_caller(db_settings):
    from tmr.services.leases import once_across_replicas

    (db,) = _databases(db_settings, 1)

    def broken() -> str:
        raise RuntimeError("upstream went away")

    with pytest.raises(RuntimeError):
        once_across_replicas(db, "pull:z", lambda: None, broken)
    started = time.monotonic()
    assert once_across_replicas(db, "pull:z", lambda: None, lambda: "ok") == "ok"
    assert time.monotonic() - started < 2  # not blocked by a stale lease
    db.dispose()
