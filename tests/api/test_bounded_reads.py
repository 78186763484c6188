"""Memory stays bounded (issue 7): listing, search and lineage read narrow columns, never whole
snapshots; what a snapshot may keep of a repository's extra JSON files is capped.

(scripts/bench_security.py measures the server's memory and throughput under 30 clients.)
"""

from __future__ import annotations

import json
import random

from sqlalchemy import event, select

from tests.support.zips import upload


def _big_jsons(count: int, size: int) -> dict[str, bytes]:
    """``count`` JSON files of about ``size`` bytes that do not compress like a zip bomb."""
    rng = random.Random(7)
    return {
        f"extra/file{i:03d}.json": json.dumps(
            {"values": [rng.randbytes(50).hex() for _ in range(size // 104)]}
        ).encode()
        for i in range(count)
    }


def test_a_snapshot_keeps_at_most_its_cap_of_extra_json(client, auth):
    from tmr.domain.snapshot import MAX_EXTRA_JSON_BYTES
    from tmr.storage.db.tables import ArtifactRow

    made = upload(client, auth, "model", name="jsonful", extra=_big_jsons(40, 200_000))
    with client.app.state.registry.db.read() as s:
        stored = s.scalar(
            select(ArtifactRow.snapshot).where(ArtifactRow.id == made["metadata"]["id"])
        )
    assert len(stored) < MAX_EXTRA_JSON_BYTES + 200_000  # not 40 × 200 KB = 8 MB
    kept = json.loads(stored)["hf"]["extra_json"]
    assert 0 < len([k for k in kept if k.startswith("extra/")]) < 40


def test_listing_search_and_lineage_never_read_snapshots(client, auth, monkeypatch):
    from tmr.domain.snapshot import Snapshot

    made = upload(client, auth, "model", name="jsonful", extra=_big_jsons(10, 50_000))["metadata"]
    upload(client, auth, "model", name="broken", extra={"config.json": b"{not json"})
    statements: list[str] = []
    engine = client.app.state.registry.db.engine

    def capture(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    parsed: list[int] = []
    real = Snapshot.model_validate_json

    def counting(raw, *a, **k):  # type: ignore[no-untyped-def]
        parsed.append(len(raw))
        return real(raw, *a, **k)

    monkeypatch.setattr(Snapshot, "model_validate_json", counting)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert client.post("/artifacts", headers=auth, json=[{"name": "*"}]).status_code == 200
        assert client.get("/artifact/byName/jsonful", headers=auth).status_code == 200
        r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "json"})
        assert r.status_code == 200
        r = client.get(f"/artifact/model/{made['id']}/lineage", headers=auth)
        assert r.status_code == 200
        broken = client.get("/artifact/byName/broken", headers=auth).json()[0]["id"]
        r = client.get(f"/artifact/model/{broken}/lineage", headers=auth)
        assert r.status_code == 400 and "config.json" in r.json()["message"]
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert reads
    assert not [s for s in reads if "artifacts.snapshot" in s]
    assert parsed == []
