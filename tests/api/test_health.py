"""Heartbeat, component health with real request counts, and tracks."""

from __future__ import annotations


def test_health_is_public_and_reports_uptime_and_count(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["artifact_count"] == 0
    assert body["uptime_seconds"] >= 0


def test_tracks_lists_the_access_control_track(client):
    r = client.get("/tracks")
    assert r.status_code == 200
    assert "Access control track" in r.json()["plannedTracks"]
    assert len(r.json()["plannedTracks"]) == 4


def test_components_count_real_requests_per_route(client, auth):
    for _ in range(3):
        client.get("/artifacts/model/nope", headers=auth)
    r = client.get("/health/components", params={"windowMinutes": 5, "includeTimeline": True})
    assert r.status_code == 200
    body = r.json()
    ids = {c["id"]: c for c in body["components"]}
    assert {"api", "database", "blob-store", "ingest", "downloads"} <= set(ids)
    api = ids["api"]
    assert api["metrics"]["route GET /artifacts/{artifact_type}/{id}"] == 3
    assert api["metrics"]["client_errors"] >= 3
    assert sum(e["value"] for e in api["timeline"]) >= 3
    assert ids["database"]["status"] == "ok"
    assert body["window_minutes"] == 5


def test_components_window_is_validated(client):
    assert client.get("/health/components", params={"windowMinutes": 1}).status_code == 400


def test_every_response_carries_a_request_id(client):
    r = client.get("/health")
    assert len(r.headers["x-request-id"]) >= 8
    r = client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


def test_request_log_is_one_json_line_per_request(make_settings, tmp_path):
    import json

    from fastapi.testclient import TestClient

    from tmr.app import create_app

    log_file = tmp_path / "tmr.log"
    with TestClient(create_app(make_settings(log_level=1, log_file=str(log_file)))) as c:
        c.get("/health")
        c.get("/artifacts/model/x")
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    http = [line for line in lines if line["logger"] == "tmr.http"]
    assert [(h["method"], h["path"], h["status"]) for h in http] == [
        ("GET", "/health", 200),
        ("GET", "/artifacts/model/x", 403),
    ]
    assert all(h["request_id"] and h["latency_ms"] >= 0 for h in http)


def test_log_level_zero_is_silent(make_settings, tmp_path):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    log_file = tmp_path / "quiet.log"
    with TestClient(create_app(make_settings(log_level=0, log_file=str(log_file)))) as c:
        c.get("/health")
    assert log_file.read_text() == ""


def test_cors_origins_come_from_configuration(make_settings):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    with TestClient(create_app(make_settings(cors_origins="https://ui.example"))) as c:
        ok = c.options(
            "/health",
            headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"},
        )
        assert ok.headers.get("access-control-allow-origin") == "https://ui.example"
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
