"""Registering (by upload), reading, updating, deleting, enumerating and auditing artifacts."""

from __future__ import annotations

import io
import zipfile

from tests.support.zips import upload


def test_upload_registers_and_reads_back_by_id_and_name(client, auth):
    created = upload(client, auth, "dataset", name="tickets")
    meta = created["metadata"]
    assert meta["name"] == "tickets" and meta["type"] == "dataset"
    assert f"/download/{meta['id']}?" in created["data"]["download_url"]
    got = client.get(f"/artifacts/dataset/{meta['id']}", headers=auth)
    assert got.status_code == 200
    assert got.json() == created
    by_name = client.get("/artifact/byName/tickets", headers=auth).json()
    assert by_name == [meta]


def test_unknown_ids_and_wrong_types_are_404(client, auth):
    created = upload(client, auth, "code", name="tool")
    aid = created["metadata"]["id"]
    assert client.get("/artifacts/code/invalidId", headers=auth).status_code == 404
    assert client.get(f"/artifacts/model/{aid}", headers=auth).status_code == 404
    assert client.get("/artifact/byName/nothing-here", headers=auth).status_code == 404
    for path in (
        "/artifact/model/invalidId/rate",
        "/artifact/model/invalidId/lineage",
        "/artifact/model/invalidId/cost",
        "/artifact/model/invalidId/audit",
    ):
        r = client.get(path, headers=auth)
        assert r.status_code == 404, path
        assert "invalidId" in r.json()["message"]
    r = client.post(
        "/artifact/model/invalidId/license-check",
        headers=auth,
        json={"github_url": "https://github.com/google-research/bert"},
    )
    assert r.status_code == 404


def test_malformed_requests_are_400_with_a_reason(client, auth):
    r = client.get("/artifacts/widget/123", headers=auth)
    assert r.status_code == 400 and "artifact_type" in r.json()["message"]
    r = client.get("/artifacts/model/bad%20id!", headers=auth)
    assert r.status_code == 400
    r = client.post("/artifact/model", headers=auth, json={"name": "x"})
    assert r.status_code == 400 and "url" in r.json()["message"]
    r = client.post("/artifact/model", headers=auth, json={"url": "ftp://example.com/x"})
    assert r.status_code == 400 and "http" in r.json()["message"]
    r = client.post("/artifacts", headers=auth, json=[{"types": ["model"]}])
    assert r.status_code == 400


def test_enumerate_filters_by_name_and_type(client, auth):
    a = upload(client, auth, "dataset", name="alpha")["metadata"]
    b = upload(client, auth, "code", name="beta")["metadata"]
    c = upload(client, auth, "code", name="alpha")["metadata"]
    everything = client.post("/artifacts", headers=auth, json=[{"name": "*"}]).json()
    assert everything == [a, b, c]
    codes = client.post("/artifacts", headers=auth, json=[{"name": "*", "types": ["code"]}])
    assert codes.json() == [b, c]
    alphas = client.post("/artifacts", headers=auth, json=[{"name": "alpha"}]).json()
    assert alphas == [a, c]
    union = client.post(
        "/artifacts", headers=auth, json=[{"name": "beta"}, {"name": "alpha", "types": ["dataset"]}]
    ).json()
    assert union == [a, b]


def test_enumerate_pages_with_an_opaque_offset(make_settings):
    from fastapi.testclient import TestClient

    from tests.conftest import login
    from tmr.app import create_app

    with TestClient(create_app(make_settings(enumerate_page_size=2))) as c:
        auth = {"X-Authorization": login(c)}
        made = [upload(c, auth, "dataset", name=f"d{i}")["metadata"] for i in range(5)]
        seen, offset, pages = [], None, 0
        while True:
            params = {"offset": offset} if offset else {}
            r = c.post("/artifacts", headers=auth, json=[{"name": "*"}], params=params)
            assert r.status_code == 200
            seen += r.json()
            pages += 1
            offset = r.headers.get("offset")
            if not offset:
                break
        assert seen == made and pages == 3
        bad = c.post("/artifacts", headers=auth, json=[{"name": "*"}], params={"offset": "zz!"})
        assert bad.status_code == 400


def test_too_many_queries_is_413(client, auth):
    r = client.post("/artifacts", headers=auth, json=[{"name": f"n{i}"} for i in range(101)])
    assert r.status_code == 413
    assert r.json()["message"] == "at most 100 queries per request; got 101"


def test_delete_removes_from_every_listing(client, auth):
    meta = upload(client, auth, "dataset", name="gone")["metadata"]
    assert client.delete(f"/artifacts/dataset/{meta['id']}", headers=auth).status_code == 200
    assert client.get(f"/artifacts/dataset/{meta['id']}", headers=auth).status_code == 404
    assert client.delete(f"/artifacts/dataset/{meta['id']}", headers=auth).status_code == 404
    assert client.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
    assert client.get("/artifact/byName/gone", headers=auth).status_code == 404
    assert client.post("/artifact/byRegEx", headers=auth, json={"regex": "gone"}).status_code == 404


def test_reset_empties_the_registry(client, auth):
    upload(client, auth, "dataset", name="x")
    assert client.delete("/reset", headers=auth).status_code == 200
    assert client.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []


def test_audit_records_create_download_and_audit_with_user_and_utc_time(client, auth):
    meta = upload(client, auth, "dataset", name="audited")["metadata"]
    assert client.get(f"/download/{meta['id']}", headers=auth).status_code == 200
    trail = client.get(f"/artifact/dataset/{meta['id']}/audit", headers=auth).json()
    assert [e["action"] for e in trail] == ["CREATE", "DOWNLOAD", "AUDIT"]
    for entry in trail:
        assert entry["user"] == {"name": "ece30861defaultadminuser", "is_admin": True}
        assert entry["artifact"] == meta
        assert entry["date"].endswith("Z")


def test_download_whole_bundle_and_parts(client, auth):
    created = upload(client, auth, "dataset", name="parts", weights=b"W" * 10_000)
    url = created["data"]["download_url"]
    whole = client.get(url, headers=auth)
    assert whole.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(whole.content)).namelist()
    assert {"README.md", "config.json", "model.safetensors", "tmr-manifest.json"} <= set(names)
    weights = zipfile.ZipFile(
        io.BytesIO(client.get(url, params={"part": "weights"}, headers=auth).content)
    )
    assert set(weights.namelist()) == {"model.safetensors", "tmr-manifest.json"}
    assert weights.read("model.safetensors") == b"W" * 10_000
    card = zipfile.ZipFile(
        io.BytesIO(client.get(url, params={"part": "card"}, headers=auth).content)
    )
    assert "README.md" in card.namelist() and "model.safetensors" not in card.namelist()
    assert client.get(url, params={"part": "nope"}, headers=auth).status_code == 400


def test_single_file_download_supports_range_and_head(client, auth):
    data = bytes(range(256)) * 40
    meta = upload(client, auth, "dataset", name="ranged", weights=data)["metadata"]
    url = f"/download/{meta['id']}/files/model.safetensors"
    assert client.get(url, headers=auth).content == data
    part = client.get(url, headers={**auth, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    head = client.head(url, headers=auth)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
    assert client.get(f"/download/{meta['id']}/files/missing.bin", headers=auth).status_code == 404
