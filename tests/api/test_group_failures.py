"""An atomic group that fails leaves no trace, on both backends; readers never see part of one;
only a group's creator (or an administrator) touches it, and each command needs what the single
operation needs, when appended and again when executed.

Each failure runs a group that also uploads a new artifact and updates an existing one, so a
leftover row, blob or audit entry would show: afterwards the artifact ids, the blob keys and the
audit trail are exactly what they were before, the group is ``failed`` with the reason, and
tests/support/consistency.py finds nothing wrong. The blob-store failure is real: the file
store's staging folder is replaced by a file, or the TCP proxy to the S3 server refuses
connections, as soon as the group has staged its first blobs.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.test_groups import (
    MISSING,
    SQUAD,
    TINY,
    add,
    add_upload,
    names,
    open_group,
    registry_of,
    state,
)
from tests.conftest import ADMIN, login
from tests.support.consistency import problems
from tests.support.group_services import replay_settings
from tests.support.proxy import Proxy
from tests.support.upload_bodies import many_files_zip
from tests.support.zips import upload
from tmr.storage.db.tables import GroupCommandRow


@pytest.fixture
def storage(backend: dict[str, object]) -> dict[str, object]:
    return backend


@pytest.fixture
def s3_proxy(backend: dict[str, object]) -> Iterator[Proxy | None]:
    """A TCP proxy in front of the S3 server (None on the file store)."""
    endpoint = backend.get("s3_endpoint_url")
    if not endpoint:
        yield None
        return
    parts = urlsplit(str(endpoint))
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 80)
    yield proxy
    proxy.close()


@pytest.fixture
def client_for(make_settings, hf_replay, github_replay, s3_proxy) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    made: list[TestClient] = []

    def build(**overrides: object) -> TestClient:
        from tmr.app import create_app

        values = replay_settings(hf_replay, github_replay)
        if s3_proxy is not None:
            values["s3_endpoint_url"] = f"http://{s3_proxy.url_host}"
        values.update(overrides)
        client = TestClient(create_app(make_settings(**values)), raise_server_exceptions=False)
        client.__enter__()
        made.append(client)
        return client

    yield build
    for client in made:
        client.__exit__(None, None, None)
        client.app.state.registry.db.dispose()  # type: ignore[attr-defined]


def _group_with_changes(c: TestClient, auth: dict[str, str], kept_id: str) -> str:
    """A group that uploads a new artifact and updates ``kept``: both must not happen."""
    gid = open_group(c, auth)
    assert add_upload(c, auth, gid, "new-one").status_code == 201
    assert add(c, auth, gid, op="update", id=kept_id, url=SQUAD).status_code == 201
    return gid


def _assert_no_trace(
    c: TestClient, auth: dict[str, str], gid: str, before: Any, kept_url: str, kept_id: str
) -> None:
    status = c.get(f"/groups/{gid}", headers=auth).json()
    assert status["status"] == "failed" and status["reason"], status
    assert status["results"] == []
    c.app.state.services.sweeper.sweep()  # type: ignore[attr-defined]
    assert state(c) == before  # no row, no blob, no audit entry
    assert names(c, auth) == {"kept"}
    assert c.get(f"/artifacts/dataset/{kept_id}", headers=auth).json()["data"]["url"] == kept_url
    assert problems(registry_of(c), after_sweep=True) == []


def _prepare(c: TestClient) -> tuple[dict[str, str], dict[str, Any], Any]:
    auth = {"X-Authorization": login(c)}
    kept = upload(c, auth, "dataset", name="kept")
    return auth, kept, state(c)


# --- each failure mode leaves no trace ----------------------------------------------------------
def test_an_upstream_404_in_the_last_command_leaves_no_trace(client_for):
    c = client_for()
    auth, kept, before = _prepare(c)
    gid = _group_with_changes(c, auth, kept["metadata"]["id"])
    assert add(c, auth, gid, op="register", type="model", url=MISSING).status_code == 201
    r = c.post(f"/groups/{gid}/execute", headers=auth)
    assert r.status_code == 404, r.text
    assert "command 3" in r.json()["message"] and "nothing changed" in r.json()["message"]
    _assert_no_trace(c, auth, gid, before, kept["data"]["url"], kept["metadata"]["id"])
    # the stored reason is shown like an error body: the upstream is named, its address is not
    hub = c.app.state.registry.settings.hf_endpoint  # type: ignore[attr-defined]
    for shown in (
        c.get(f"/groups/{gid}", headers=auth).json(),
        *c.get("/groups", headers=auth).json(),
    ):
        if shown["id"] == gid:
            assert "command 3" in shown["reason"] and hub not in shown["reason"], shown["reason"]
            assert "127.0.0.1" not in shown["reason"]


def test_an_ingest_gate_refusal_leaves_no_trace(client_for):
    c = client_for(ingest_gate="on")
    auth, kept, before = _prepare(c)
    gid = _group_with_changes(c, auth, kept["metadata"]["id"])
    assert add(c, auth, gid, op="register", type="model", url=TINY).status_code == 201
    r = c.post(f"/groups/{gid}/execute", headers=auth)
    assert r.status_code == 424, r.text
    assert r.json()["details"]["failed_metrics"] and r.json()["details"]["group_id"] == gid
    _assert_no_trace(c, auth, gid, before, kept["data"]["url"], kept["metadata"]["id"])


def test_a_zip_that_went_bad_after_it_was_appended_leaves_no_trace(client_for):
    c = client_for()
    auth, kept, before = _prepare(c)
    gid = _group_with_changes(c, auth, kept["metadata"]["id"])
    assert add_upload(c, auth, gid, "corrupt").status_code == 201
    reg = registry_of(c)
    with reg.db.read() as s:
        key = s.scalar(
            select(GroupCommandRow.blob_key).where(
                GroupCommandRow.group_id == gid, GroupCommandRow.position == 3
            )
        )
    reg.blobs.put_bytes(key, b"PK\x03\x04 damaged in the store")  # the kept zip, overwritten
    r = c.post(f"/groups/{gid}/execute", headers=auth)
    assert r.status_code == 400 and "zip" in r.json()["message"], r.text
    _assert_no_trace(c, auth, gid, before, kept["data"]["url"], kept["metadata"]["id"])


def _breaker(c: TestClient, proxy: Proxy | None) -> tuple[Callable[[], None], Callable[[], None]]:
    """(break, restore) the real blob store: the file store's staging folder becomes a file,
    or the proxy to the S3 server refuses connections."""
    reg = registry_of(c)
    if proxy is not None:
        return (lambda: proxy.set("refuse")), (lambda: proxy.set("forward"))
    staging = reg.blobs.root / ".staging"

    def cut() -> None:
        shutil.rmtree(staging, ignore_errors=True)
        staging.write_bytes(b"not a folder")

    return cut, lambda: staging.unlink()


def test_a_blob_store_failure_while_staging_leaves_no_trace(client_for, s3_proxy):
    c = client_for()
    auth, kept, before = _prepare(c)
    gid = _group_with_changes(c, auth, kept["metadata"]["id"])
    for i in range(4):
        r = add_upload(c, auth, gid, f"bulk-{i}", body=many_files_zip(f"bulk-{i}", 200))
        assert r.status_code == 201, r.text
    cut, restore = _breaker(c, s3_proxy)
    reg = registry_of(c)
    generations: set[str] = set()

    def cutting(put: Callable[..., Any]) -> Callable[..., Any]:
        """The store's own put, which cuts the real store as the second generation begins:
        the first generation is then fully staged and the second's first write fails."""

        def wrapped(key: str, *args: Any, **kwargs: Any) -> Any:
            if key.startswith("artifacts/"):
                generation = "/".join(key.split("/")[:3])
                if generation not in generations:
                    generations.add(generation)
                    if len(generations) == 2:
                        cut()
            return put(key, *args, **kwargs)

        return wrapped

    for method in ("put_file", "put_stream", "put_bytes"):
        setattr(reg.blobs, method, cutting(getattr(reg.blobs, method)))
    try:
        r = c.post(f"/groups/{gid}/execute", headers=auth)
    finally:
        for method in ("put_file", "put_stream", "put_bytes"):
            delattr(reg.blobs, method)  # the class's own methods again
    assert len(generations) == 2, generations  # the cut came mid-group, after one generation
    assert r.status_code == 503, r.text
    assert "nothing changed" in r.json()["message"]
    restore()
    staged = {b.key for b in reg.blobs.list("artifacts/")} - before[1]
    if s3_proxy is not None:  # the store refused the clean-up too: the sweeper's work
        assert staged, "the first upload's generation should still be in the store"
    else:  # the file store could still delete: the executor cleaned up at once
        assert staged == set()
    _assert_no_trace(c, auth, gid, before, kept["data"]["url"], kept["metadata"]["id"])


# --- readers ------------------------------------------------------------------------------------
def test_readers_polling_during_execute_never_see_part_of_a_group(client_for):
    c = client_for()
    auth = {"X-Authorization": login(c)}
    upload(c, auth, "dataset", name="doomed")
    doomed = c.get("/artifact/byName/doomed", headers=auth).json()[0]["id"]
    gid = open_group(c, auth)
    for i in range(5):
        body = many_files_zip(f"part-{i}", 60)
        assert add_upload(c, auth, gid, f"part-{i}", body=body).status_code == 201
    assert add(c, auth, gid, op="delete", type="dataset", id=doomed).status_code == 201
    before = {"doomed"}
    after = {f"part-{i}" for i in range(5)}
    seen: list[tuple[float, frozenset[str]]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append((time.monotonic(), frozenset(names(c, auth))))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    time.sleep(0.05)
    started = time.monotonic()
    r = c.post(f"/groups/{gid}/execute", headers=auth)
    finished = time.monotonic()
    done.set()
    for t in readers:
        t.join()
    assert r.status_code == 200, r.text
    during = [v for at, v in seen if started <= at <= finished]
    assert during, "no read happened while the group executed"
    assert {v for _, v in seen} <= {frozenset(before), frozenset(after)}
    assert frozenset(after) in {v for _, v in seen}
    assert problems(registry_of(c)) == []


# --- who may -------------------------------------------------------------------------------------
def _user(c: TestClient, admin: dict[str, str], name: str, perms: list[str]) -> dict[str, str]:
    r = c.post(
        "/users",
        headers=admin,
        json={"name": name, "password": "group-pass-1", "permissions": perms},
    )
    assert r.status_code == 201, r.text
    return {"X-Authorization": login(c, name, "group-pass-1", False)}


def test_only_the_creator_or_an_admin_touches_a_group_and_commands_need_ownership(client_for):
    c = client_for()
    admin = {"X-Authorization": login(c)}
    alice = _user(c, admin, "alice", ["upload", "search"])
    bob = _user(c, admin, "bob", ["upload", "search"])
    reader = _user(c, admin, "reader", ["search"])
    admins = upload(c, admin, "dataset", name="admins-own")["metadata"]
    alices = upload(c, alice, "dataset", name="alices-own")["metadata"]

    r = c.post("/groups", headers=reader)
    assert r.status_code == 401 and "'upload' permission" in r.json()["message"]
    gid = open_group(c, alice)
    for method, path in [
        ("GET", f"/groups/{gid}"),
        ("POST", f"/groups/{gid}/execute"),
    ]:
        r = c.request(method, path, headers=bob)
        assert r.status_code == 401 and "owner" in r.json()["message"], r.text
    r = add(c, bob, gid, op="delete", type="dataset", id=alices["id"])
    assert r.status_code == 401 and "owner" in r.json()["message"]
    # alice may not append changes to an artifact she does not own
    r = add(c, alice, gid, op="delete", type="dataset", id=admins["id"])
    assert r.status_code == 401 and "owner" in r.json()["message"]
    r = add(c, alice, gid, op="update", id=admins["id"], url=SQUAD)
    assert r.status_code == 401 and "owner" in r.json()["message"]
    assert add(c, alice, gid, op="delete", type="dataset", id=alices["id"]).status_code == 201
    # an administrator may look and append; the groups list shows each user their own
    assert c.get(f"/groups/{gid}", headers=admin).status_code == 200
    assert [g["id"] for g in c.get("/groups", headers=alice).json()] == [gid]
    assert c.get("/groups", headers=bob).json() == []
    assert gid in [g["id"] for g in c.get("/groups", headers=admin).json()]
    # ...but executing checks ownership again, for the user who executes: alice may not delete
    # the administrator's artifact the administrator appended to her group
    r = add(c, admin, gid, op="delete", type="dataset", id=admins["id"])
    assert r.status_code == 201
    r = c.post(f"/groups/{gid}/execute", headers=alice)
    assert r.status_code == 401 and "owner" in r.json()["message"], r.text
    assert names(c, admin) == {"admins-own", "alices-own"}  # neither delete happened
    status = c.get(f"/groups/{gid}", headers=alice).json()
    assert status["status"] == "failed" and "command 2" in status["reason"]
    assert status["created_by"] == "alice" and ADMIN not in status["reason"]
    assert problems(registry_of(c)) == []
