"""The hot read ``GET /artifacts/{type}/{id}`` (api/fastpath.py): the same bytes as the router's
route, invalidated by every change (here and in another replica), and behind the same checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from tests.conftest import login
from tests.support import pickles as P
from tests.support.zips import upload
from tmr.app import create_app


@contextmanager
def replica(settings, fast_reads: bool = True) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """One more process on the same database and blob store (its own caches)."""
    app = create_app(settings, fast_reads=fast_reads)
    try:
        with TestClient(app) as c:
            yield c
    finally:
        app.state.registry.db.dispose()


def _user(client, auth, name: str, permissions: list[str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r = client.post(
        "/users", headers=auth, json={"name": name, "password": "pw-" + name * 2,
                                      "permissions": permissions},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return {"X-Authorization": login(client, name, "pw-" + name * 2, is_admin=False)}


def test_the_fast_path_answers_byte_for_byte_what_the_route_does(make_settings):  # type: ignore[no-untyped-def]
    settings = make_settings()
    with replica(settings) as fast, replica(settings, fast_reads=False) as routed:
        auth = {"X-Authorization": login(fast)}
        plain = upload(fast, auth, "model", name='plain "model" é')["metadata"]
        unsafe = {"pytorch_model.bin": P.torch_zip(P.os_system_pickle())}
        evil = upload(fast, auth, "model", name="evil-model", extra=unsafe)["metadata"]
        data = upload(fast, auth, "dataset", name="some-data")["metadata"]
        for kind, aid in (("model", plain["id"]), ("model", evil["id"]), ("dataset", data["id"])):
            for _ in range(2):  # the first read fills the cache, the second is served from it
                a = fast.get(f"/artifacts/{kind}/{aid}", headers=auth)
                b = routed.get(f"/artifacts/{kind}/{aid}", headers=auth)
                assert a.status_code == b.status_code == 200
                assert a.content == b.content
                assert a.headers["content-type"] == b.headers["content-type"]
        assert "security" in fast.get(f"/artifacts/model/{evil['id']}", headers=auth).json()["data"]
        # errors are the router's own: wrong type, unknown id, malformed id
        for path in (f"/artifacts/dataset/{plain['id']}", "/artifacts/model/999",
                     "/artifacts/model/bad%20id", "/artifacts/widget/1"):  # fmt: skip
            a, b = fast.get(path, headers=auth), routed.get(path, headers=auth)
            assert a.status_code == b.status_code and a.status_code in (400, 404, 422)
            assert a.json()["error"] == b.json()["error"]


def test_updates_deletes_and_lifecycle_changes_show_at_once(client, auth):  # type: ignore[no-untyped-def]
    meta = upload(client, auth, "model", name="changing")["metadata"]
    path = f"/artifacts/model/{meta['id']}"
    first = client.get(path, headers=auth).json()
    assert "security" not in first["data"]

    r = client.put(f"/artifact/model/{meta['id']}/lifecycle", headers=auth,
                   json={"state": "deprecated", "reason": "superseded"})  # fmt: skip
    assert r.status_code == 200, r.text
    shown = client.get(path, headers=auth).json()["data"]["security"]["lifecycle"]
    assert shown == {"state": "deprecated", "reason": "superseded"}

    assert client.delete(path, headers=auth).status_code == 200
    gone = client.get(path, headers=auth)
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


def test_a_write_in_one_replica_is_served_by_another_within_the_bound(make_settings, backend):  # type: ignore[no-untyped-def]
    settings = make_settings(read_cache_seconds=0.3, **backend)
    with replica(settings) as a, replica(settings) as b:
        auth_a = {"X-Authorization": login(a)}
        auth_b = {"X-Authorization": login(b)}
        meta = upload(a, auth_a, "model", name="replicated")["metadata"]
        path = f"/artifacts/model/{meta['id']}"
        assert b.get(path, headers=auth_b).status_code == 200  # now cached in b
        assert a.delete(path, headers=auth_a).status_code == 200
        time.sleep(0.35)  # the bound: b reads the registry version again after 0.3 s
        assert b.get(path, headers=auth_b).status_code == 404


def test_with_a_zero_bound_every_read_sees_the_other_replicas_writes(make_settings, backend):  # type: ignore[no-untyped-def]
    settings = make_settings(read_cache_seconds=0, **backend)
    with replica(settings) as a, replica(settings) as b:
        auth_a = {"X-Authorization": login(a)}
        auth_b = {"X-Authorization": login(b)}
        meta = upload(a, auth_a, "model", name="replicated")["metadata"]
        path = f"/artifacts/model/{meta['id']}"
        assert "security" not in b.get(path, headers=auth_b).json()["data"]
        r = a.put(f"/artifact/model/{meta['id']}/lifecycle", headers=auth_a,
                  json={"state": "quarantined", "reason": "under review"})  # fmt: skip
        assert r.status_code == 200, r.text
        record = b.get(path, headers=auth_b).json()
        assert record["data"]["security"]["lifecycle"]["state"] == "quarantined"


def test_a_warm_cache_still_checks_the_token_and_the_permission(client, auth):  # type: ignore[no-untyped-def]
    meta = upload(client, auth, "model", name="guarded")["metadata"]
    path = f"/artifacts/model/{meta['id']}"
    assert client.get(path, headers=auth).status_code == 200  # cached
    assert client.get(path).status_code == 403
    assert client.get(path, headers={"X-Authorization": "bearer nope"}).status_code == 403
    no_search = _user(client, auth, "downloader", ["download"])
    denied = client.get(path, headers=no_search)
    assert denied.status_code == 401 and "search" in denied.json()["message"]
    reader = _user(client, auth, "reader", ["search"])
    mine = client.get(path, headers=reader).json()["data"]["download_url"]
    assert "user=reader" in mine  # each reader gets a link signed for them


def test_reads_served_from_the_cache_still_count_as_views(client, auth):  # type: ignore[no-untyped-def]
    meta = upload(client, auth, "model", name="watched")["metadata"]
    path = f"/artifacts/model/{meta['id']}"
    for _ in range(3):
        assert client.get(path, headers=auth).status_code == 200
    services = client.app.state.services  # type: ignore[attr-defined]
    services.protections.interest.flush()
    from tmr.storage.db.protections import ProtectionRepository

    with client.app.state.registry.db.read() as s:  # type: ignore[attr-defined]
        views = [e for e in ProtectionRepository(s).interest() if e.artifact_id == meta["id"]]
    assert len([e for e in views if e.kind == "view"]) == 3


# --- the signed download (FastSignedDownloads) ------------------------------------------------
WEIGHTS = bytes(range(256)) * 400


def _download_records(client, auth, meta) -> list[str]:  # type: ignore[no-untyped-def]
    trail = client.get(f"/artifact/{meta['type']}/{meta['id']}/audit", headers=auth).json()
    return [e["user"]["name"] for e in trail if e["action"] == "DOWNLOAD"]


def test_a_built_bundle_is_served_by_the_fast_path_and_every_download_is_audited(make_settings):  # type: ignore[no-untyped-def]
    settings = make_settings()
    with replica(settings) as fast, replica(settings, fast_reads=False) as routed:
        auth = {"X-Authorization": login(fast)}
        reader = _user(fast, auth, "fetcher", ["search", "download"])
        meta = upload(fast, auth, "model", name="fast-bundle", weights=WEIGHTS)["metadata"]
        url = fast.get(f"/artifacts/model/{meta['id']}", headers=reader).json()["data"][
            "download_url"
        ]
        first = routed.get(url)  # the route builds the zip once
        assert first.status_code == 200
        served = [fast.get(url) for _ in range(3)]  # the ready bundle, without the router
        for r in served:
            assert r.status_code == 200 and r.content == first.content
            assert r.headers["content-type"] == first.headers["content-type"]
            assert r.headers["content-disposition"] == first.headers["content-disposition"]
        ranged = fast.get(url, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == first.content[10:20]
        assert fast.head(url).status_code == 200  # HEAD: the route's, not recorded
        assert _download_records(fast, auth, meta) == ["fetcher"] * 5


def test_concurrent_downloads_are_each_recorded(client, auth):  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    meta = upload(client, auth, "model", name="busy-bundle", weights=WEIGHTS)["metadata"]
    url = client.get(f"/artifacts/model/{meta['id']}", headers=auth).json()["data"]["download_url"]
    assert client.get(url).status_code == 200
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.get(url).status_code, range(24)))
    assert codes == [200] * 24
    assert len(_download_records(client, auth, meta)) == 25
    from tmr.storage.db.audit import AuditRepository

    registry = client.app.state.registry  # type: ignore[attr-defined]
    with registry.db.read() as s:  # batches keep the hash chain and its checkpoint intact
        report = AuditRepository(s, registry.audit_key).verify()
    assert report.intact, report.problem


def test_a_ready_bundle_is_refused_once_quarantined_or_its_user_loses_the_permission(client, auth):  # type: ignore[no-untyped-def]
    reader = _user(client, auth, "leaver", ["search", "download"])
    meta = upload(client, auth, "model", name="later-bad", weights=WEIGHTS)["metadata"]
    url = client.get(f"/artifacts/model/{meta['id']}", headers=reader).json()["data"][
        "download_url"
    ]
    assert client.get(url).status_code == 200  # built, and now cached as ready
    assert client.get(url).status_code == 200

    assert client.delete("/users/leaver", headers=auth).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 403 and "no longer exists" in refused.json()["message"]

    admin_url = client.get(f"/artifacts/model/{meta['id']}", headers=auth).json()["data"][
        "download_url"
    ]
    assert client.get(admin_url).status_code == 200
    r = client.put(f"/artifact/model/{meta['id']}/lifecycle", headers=auth,
                   json={"state": "quarantined", "reason": "bad weights"})  # fmt: skip
    assert r.status_code == 200, r.text
    blocked = client.get(admin_url)
    assert blocked.status_code == 423 and "bad weights" in blocked.json()["message"]
