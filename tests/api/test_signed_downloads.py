"""Signed, expiring download links and bundles served as static files (Range, HEAD, audit)."""

from __future__ import annotations

import io
import os
import stat
import time
import zipfile
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.conftest import login
from tests.support.zips import upload

WEIGHTS = bytes(range(256)) * 400  # 102 400 bytes


def _split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


def _downloads(client, auth, artifact):  # type: ignore[no-untyped-def]
    meta = artifact["metadata"]
    trail = client.get(f"/artifact/{meta['type']}/{meta['id']}/audit", headers=auth).json()
    return [e for e in trail if e["action"] == "DOWNLOAD"]


def test_download_url_is_signed_and_works_without_a_token(client, auth):
    created = upload(client, auth, "model", name="signed", weights=WEIGHTS)
    url = created["data"]["download_url"]
    path, query = _split(url)
    assert set(query) == {"part", "user", "expires", "signature"}
    assert query["user"] == "ece30861defaultadminuser" and query["part"] == "all"
    assert time.time() + 3600 <= int(query["expires"]) <= time.time() + 7200
    again = client.get(f"/artifacts/model/{created['metadata']['id']}", headers=auth).json()
    assert again["data"]["download_url"] == url  # stable within the lifetime window
    r = client.get(url)  # no X-Authorization header
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    members = zipfile.ZipFile(io.BytesIO(r.content))
    assert members.read("model.safetensors") == WEIGHTS
    # weights are stored uncompressed in the materialised zip
    assert members.getinfo("model.safetensors").compress_type == zipfile.ZIP_STORED
    downloads = _downloads(client, auth, created)
    assert len(downloads) == 1 and downloads[0]["user"]["name"] == "ece30861defaultadminuser"


def test_signed_link_is_audited_under_the_user_it_was_issued_to(client, auth):
    client.post("/users", headers=auth, json={"name": "gil", "password": "s3cret-pass"})
    gil = {"X-Authorization": login(client, "gil", "s3cret-pass", False)}
    created = upload(client, auth, "model", name="for-gil", weights=WEIGHTS)
    meta = created["metadata"]
    got = client.get(f"/artifacts/model/{meta['id']}", headers=gil).json()
    url = got["data"]["download_url"]
    assert _split(url)[1]["user"] == "gil"
    assert client.get(url).status_code == 200
    downloads = _downloads(client, auth, created)
    assert [d["user"]["name"] for d in downloads] == ["gil"]


def test_tampered_signatures_are_refused_with_a_clear_403(client, auth):
    created = upload(client, auth, "model", name="tamper", weights=WEIGHTS)
    other = upload(client, auth, "model", name="other", weights=WEIGHTS)
    path, query = _split(created["data"]["download_url"])
    cases = {
        "signature": {**query, "signature": query["signature"][:-2] + "AA"},
        "part": {**query, "part": "weights"},
        "user": {**query, "user": "somebody-else"},
        "expires": {**query, "expires": str(int(query["expires"]) + 3600)},
    }
    for what, q in cases.items():
        r = client.get(f"{path}?{urlencode(q)}")
        assert r.status_code == 403, what
        assert "signature does not match" in r.json()["message"], what
    # a valid signature for one artifact does not open another
    r = client.get(f"/download/{other['metadata']['id']}?{urlencode(query)}")
    assert r.status_code == 403
    assert _downloads(client, auth, created) == []


def test_another_users_signature_does_not_become_mine(client, auth):
    client.post("/users", headers=auth, json={"name": "hal", "password": "s3cret-pass"})
    hal = {"X-Authorization": login(client, "hal", "s3cret-pass", False)}
    created = upload(client, auth, "model", name="theirs", weights=WEIGHTS)
    meta = created["metadata"]
    admin_url = client.get(f"/artifacts/model/{meta['id']}", headers=auth).json()["data"]
    path, query = _split(admin_url["download_url"])
    # hal re-labels the admin's link as his own: the signature no longer matches
    r = client.get(f"{path}?{urlencode({**query, 'user': 'hal'})}", headers=hal)
    assert r.status_code == 403
    # a link naming a user who was deleted is refused
    hal_url = client.get(f"/artifacts/model/{meta['id']}", headers=hal).json()["data"]
    assert client.delete("/users/hal", headers=auth).status_code in (200, 204)
    r = client.get(hal_url["download_url"])
    assert r.status_code == 403 and "no longer exists" in r.json()["message"]


def test_a_disabled_users_links_stop_working(client, auth):
    client.post(
        "/users",
        headers=auth,
        json={"name": "ida", "password": "s3cret-pass", "permissions": ["search", "download"]},
    )
    ida = {"X-Authorization": login(client, "ida", "s3cret-pass", False)}
    meta = upload(client, auth, "model", name="for-ida", weights=WEIGHTS)["metadata"]
    url = client.get(f"/artifacts/model/{meta['id']}", headers=ida).json()["data"]["download_url"]
    assert client.get(url).status_code == 200  # built and ready: the fast path serves it next
    assert client.post("/users/ida/disable", headers=auth).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "the download link was issued to 'ida', whose account is disabled"
    )
    assert client.post("/users/ida/enable", headers=auth).status_code == 200
    assert client.get(url).status_code == 200


def test_expired_links_are_refused(client, auth):
    created = upload(client, auth, "model", name="old", weights=WEIGHTS)
    signer = client.app.state.registry.signer
    aid = created["metadata"]["id"]
    stale = signer.query(aid, "all", "ece30861defaultadminuser", now=time.time() - 3 * 3600)
    r = client.get(f"/download/{aid}?{stale}")
    assert r.status_code == 403 and "expired" in r.json()["message"]
    assert "the download link has expired; ask for the artifact again" in r.json()["message"]
    assert set(r.json()) >= {"error", "message", "request_id"}


def test_unsigned_downloads_still_need_a_token(client, auth):
    created = upload(client, auth, "model", name="plain", weights=WEIGHTS)
    aid = created["metadata"]["id"]
    assert client.get(f"/download/{aid}").status_code == 403
    assert client.get(f"/download/{aid}/files/model.safetensors").status_code == 403
    r = client.get(f"/download/{aid}?user=ece30861defaultadminuser&expires=9999999999")
    assert r.status_code == 403  # a link without a signature is just an unsigned request
    assert client.get(f"/download/{aid}", headers=auth).status_code == 200


def test_bundle_is_materialised_once_and_served_with_range_and_head(client, auth):
    created = upload(client, auth, "model", name="ranged", weights=WEIGHTS)
    url = created["data"]["download_url"]
    whole = client.get(url)
    assert whole.status_code == 200
    size = len(whole.content)
    assert int(whole.headers["content-length"]) == size
    assert whole.headers["accept-ranges"] == "bytes"
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == size
    part = client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.content == whole.content[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{size}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    assert client.get(url, headers={"Range": f"bytes={size + 10}-"}).status_code == 416
    # the same bytes every time: one stored zip, not a fresh build per request
    assert client.get(url).content == whole.content
    registry = client.app.state.registry
    aid = created["metadata"]["id"]
    stored = [b.key for b in registry.blobs.list(f"artifacts/{aid}/bundles/")]
    assert len(stored) == 1 and stored[0].startswith(f"artifacts/{aid}/bundles/all-")
    # GETs are audited (ranges too), HEAD is not
    assert len(_downloads(client, auth, created)) == 5


def test_single_files_have_signed_links_range_and_head(client, auth):
    created = upload(client, auth, "model", name="onefile", weights=WEIGHTS)
    aid = created["metadata"]["id"]
    signer = client.app.state.registry.signer
    query = signer.query(aid, "file:model.safetensors", "ece30861defaultadminuser")
    url = f"/download/{aid}/files/model.safetensors?{query}"
    r = client.get(url, headers={"Range": "bytes=0-255"})
    assert r.status_code == 206 and r.content == bytes(range(256))
    head = client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(WEIGHTS)
    # the file link does not open another file of the same artifact
    assert client.get(f"/download/{aid}/files/README.md?{query}").status_code == 403


def test_update_replaces_the_materialised_bundle(client, auth):
    created = upload(client, auth, "model", name="v1", weights=b"1" * 5000)
    aid = created["metadata"]["id"]
    first = zipfile.ZipFile(io.BytesIO(client.get(created["data"]["download_url"]).content))
    assert first.read("model.safetensors") == b"1" * 5000
    registry = client.app.state.registry
    from tmr.domain.artifact import User

    service = client.app.state.services.downloads
    admin = User("ece30861defaultadminuser", True)
    before = service.bundle(aid, "all", admin, head=True).key
    # a pull-through or update changes the members' blobs: a new digest, a new zip
    with registry.db.transaction() as s:
        from tmr.storage.db.artifacts import ArtifactRepository

        repo = ArtifactRepository(s)
        f = repo.file(aid, "model.safetensors")
        assert f is not None and f.blob_key is not None
        new_key = f.blob_key.replace("/model.safetensors", "/copy.safetensors")
        registry.blobs.put_bytes(new_key, b"2" * 5000)
        repo.set_blob_key(aid, "model.safetensors", new_key, None)
    after = service.bundle(aid, "all", admin, head=True)
    assert after.key != before
    assert [b.key for b in registry.blobs.list(f"artifacts/{aid}/bundles/")] == [after.key]
    fresh = zipfile.ZipFile(io.BytesIO(client.get(created["data"]["download_url"]).content))
    assert fresh.read("model.safetensors") == b"2" * 5000


def test_signing_key_file_is_private(client):
    settings = client.app.state.registry.settings
    path = settings.resolved_signing_key_file
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_signed_link_needs_the_download_permission_of_its_user(client, auth):
    client.post(
        "/users",
        headers=auth,
        json={"name": "ivy", "password": "s3cret-pass", "permissions": ["search"]},
    )
    ivy = {"X-Authorization": login(client, "ivy", "s3cret-pass", False)}
    created = upload(client, auth, "model", name="no-dl", weights=WEIGHTS)
    meta = created["metadata"]
    url = client.get(f"/artifacts/model/{meta['id']}", headers=ivy).json()["data"]["download_url"]
    r = client.get(url)  # ivy may search, so she sees the link, but may not download
    assert r.status_code == 401 and "download" in r.json()["message"]
    assert _downloads(client, auth, created) == []
