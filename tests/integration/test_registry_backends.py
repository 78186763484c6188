"""The registry on both storage pairs: SQLite + local files, PostgreSQL + SeaweedFS S3.

The same scenarios run on each: register, read, download byte-exact, enumerate, delete, audit,
reset, and a failure in the middle of registration that must leave nothing behind.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.support.zips import upload


@pytest.fixture
def backend_client(backend, make_settings):  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    app = create_app(make_settings(**backend))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.app_registry = app.state.registry  # type: ignore[attr-defined]
        yield c
    app.state.registry.db.dispose()


def test_round_trip_on_each_backend(backend_client):
    c = backend_client
    auth = {"X-Authorization": login(c)}
    weights = b"\x01\x02" * 300_000
    made = upload(c, auth, "dataset", name="round-trip", weights=weights)["metadata"]
    assert c.get(f"/artifacts/dataset/{made['id']}", headers=auth).json()["metadata"] == made
    r = c.get(
        f"/download/{made['id']}", params={"part": "weights"}, headers=auth, follow_redirects=False
    )
    if r.status_code == 302:  # S3: the materialised zip by a presigned URL
        import httpx

        r = httpx.get(r.headers["location"])
    assert zipfile.ZipFile(io.BytesIO(r.content)).read("model.safetensors") == weights
    single = c.get(
        f"/download/{made['id']}/files/model.safetensors", headers=auth, follow_redirects=False
    )
    if single.status_code == 302:  # S3: a presigned URL straight to the object store
        import httpx

        single = httpx.get(single.headers["location"])
    assert single.status_code == 200
    assert single.content == weights
    assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == [made]
    assert c.delete(f"/artifacts/dataset/{made['id']}", headers=auth).status_code == 200
    blobs = c.app_registry.blobs
    assert list(blobs.list(f"artifacts/{made['id']}/")) == []


def test_failed_registration_leaves_no_row_and_no_blob(backend_client, monkeypatch):
    c = backend_client
    auth = {"X-Authorization": login(c)}
    from tmr.storage.db import audit

    def explode(self, entry):  # type: ignore[no-untyped-def]
        raise RuntimeError("simulated crash after the row was written, before commit")

    monkeypatch.setattr(audit.AuditRepository, "append", explode)
    r = c.post(
        "/artifact/dataset/upload",
        headers=auth,
        data={"name": "half"},
        files={"file": ("half.zip", _zip(), "application/zip")},
    )
    assert r.status_code == 500
    monkeypatch.undo()
    assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
    assert list(c.app_registry.blobs.list("artifacts/")) == []


def test_reset_clears_rows_and_blobs(backend_client):
    c = backend_client
    auth = {"X-Authorization": login(c)}
    upload(c, auth, "code", name="a")
    upload(c, auth, "dataset", name="b")
    assert c.delete("/reset", headers=auth).status_code == 200
    assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
    assert list(c.app_registry.blobs.list("artifacts/")) == []


def test_audit_chain_verifies_and_detects_tampering(backend_client):
    """Keyed chains on both backends: an edit (even with its plain hashes recomputed), removed
    last entries and an emptied table are all detected."""
    c = backend_client
    auth = {"X-Authorization": login(c)}
    made = upload(c, auth, "dataset", name="chained")["metadata"]
    c.get(f"/artifact/dataset/{made['id']}/audit", headers=auth)
    registry = c.app_registry
    from sqlalchemy import text

    from tmr.storage.db.audit import (
        AuditRepository,
        SecurityLogRepository,
        _to_entry,
        legacy_entry_hash,
    )
    from tmr.storage.db.tables import AuditRow

    def verify() -> str | None:
        with registry.db.read() as s:
            return AuditRepository(s, registry.audit_key).verify().problem

    assert verify() is None
    with registry.db.read() as s:
        assert SecurityLogRepository(s, registry.audit_key).verify().intact
    # an edit whose chain is recomputed with plain SHA-256 (what an attacker without the key can do)
    with registry.db.transaction() as s:
        rows = s.execute(text("SELECT seq FROM audit_log ORDER BY seq")).scalars().all()
        s.execute(text("UPDATE audit_log SET user_name = 'mallory' WHERE action = 'CREATE'"))
        prev = "0" * 64
        for seq in rows:
            row = s.get(AuditRow, seq)
            assert row is not None
            row.prev_hash = prev
            row.hash = legacy_entry_hash(prev, _to_entry(row))
            prev = row.hash
    assert "altered" in (verify() or "")
    # the last entry removed / the table emptied
    with registry.db.transaction() as s:
        s.execute(text("DELETE FROM audit_log"))
    assert "checkpoint" in (verify() or "")


def _zip() -> bytes:
    from tests.support.zips import hf_zip

    return hf_zip(name="half")


def test_object_store_outage_gives_503_and_loses_nothing(make_settings):
    """S3 down: uploads fail clearly, metadata stays consistent, health says so."""
    from tests.conftest import free_port
    from tmr.app import create_app

    dead = f"http://127.0.0.1:{free_port()}"
    app = create_app(make_settings(blob_url="s3://tmr-down/bundles", s3_endpoint_url=dead))
    with TestClient(app) as c:
        auth = {"X-Authorization": login(c)}
        r = c.post("/artifact/dataset/upload", headers=auth, data={"name": "x"},
                   files={"file": ("x.zip", _zip(), "application/zip")})
        assert r.status_code == 503
        assert "s3" in r.json()["message"].lower()
        assert c.post("/artifacts", headers=auth, json=[{"name": "*"}]).json() == []
        health = c.get("/health/components").json()
        blob = next(comp for comp in health["components"] if comp["id"] == "blob-store")
        assert blob["status"] == "critical" and blob["issues"]


def test_failed_update_keeps_the_old_version_and_its_blobs(
    backend, make_settings, hf_replay, github_replay, monkeypatch
):
    from tmr.app import create_app
    from tmr.storage.db import audit

    app = create_app(make_settings(**backend, hf_endpoint=hf_replay, github_api_url=github_replay,
                                   allow_private_upstream=True, ingest_gate="off"))
    squad = "https://huggingface.co/datasets/rajpurkar/squad"
    with TestClient(app, raise_server_exceptions=False) as c:
        auth = {"X-Authorization": login(c)}
        made = c.post("/artifact/dataset", headers=auth, json={"url": squad, "name": "squad"})
        meta = made.json()["metadata"]
        blobs = app.state.registry.blobs
        before = sorted(b.key for b in blobs.list(f"artifacts/{meta['id']}/"))
        assert before, "small files are stored at registration"

        def explode(self, entry):  # type: ignore[no-untyped-def]
            raise RuntimeError("simulated crash inside the update transaction")

        monkeypatch.setattr(audit.AuditRepository, "append", explode)
        r = c.put(f"/artifacts/dataset/{meta['id']}", headers=auth, json={
            "metadata": meta, "data": {"url": "https://huggingface.co/datasets/lerobot/pusht"}})
        assert r.status_code == 500
        monkeypatch.undo()
        current = c.get(f"/artifacts/dataset/{meta['id']}", headers=auth).json()
        assert current["data"]["url"] == squad
        assert sorted(b.key for b in blobs.list(f"artifacts/{meta['id']}/")) == before
        card = c.get(
            f"/download/{meta['id']}", params={"part": "card"}, headers=auth,
            follow_redirects=False,
        )  # fmt: skip
        assert card.status_code in (200, 302)  # S3: a presigned redirect
    app.state.registry.db.dispose()
