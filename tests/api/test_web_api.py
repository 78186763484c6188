"""The API behind the web interface and dashboard: /, static files, /users/me, download part
sizes, /health/dashboard, the admins' log lines, the workload and Prometheus /metrics."""

from __future__ import annotations

import io
import time
import uuid
import zipfile

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.support.zips import upload
from tmr.app import create_app
from tmr.services.workload import WorkloadResult, WorkloadSpec


def test_root_serves_the_interface_and_its_files_from_the_package(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert '<main id="main"' in r.text and "/static/js/app.js" in r.text
    js = client.get("/static/js/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    chart = client.get("/static/vendor/chart.umd.min.js", headers={"accept-encoding": "gzip"})
    assert chart.status_code == 200 and chart.headers["content-encoding"] == "gzip"
    assert client.get("/static/nope.js").status_code == 404
    # The interface's own files are not API traffic.
    routes = client.get("/health/dashboard").json()["routes"]
    assert not any("/static" in r["route"] for r in routes)


def test_users_me_reports_the_caller_and_their_permissions(client, auth):
    r = client.get("/users/me", headers=auth)
    assert r.status_code == 200
    assert r.json()["is_admin"] is True and "admin" in r.json()["permissions"]
    client.post(
        "/users",
        headers=auth,
        json={"name": "reader", "password": "reader-pass-1", "permissions": ["search"]},
    )
    reader = {"X-Authorization": login(client, "reader", "reader-pass-1", False)}
    me = client.get("/users/me", headers=reader).json()
    assert me == {"name": "reader", "is_admin": False, "permissions": ["search"], "disabled": False}
    assert client.get("/users/me").status_code == 403


def test_download_parts_lists_sizes_per_part(client, auth):
    made = upload(client, auth, name="sized")
    parts = client.get(f"/download/{made['metadata']['id']}/parts", headers=auth)
    assert parts.status_code == 200
    by_part = {p["part"]: p for p in parts.json()}
    assert set(by_part) == {"all", "weights", "card", "datasets", "code"}
    assert by_part["weights"]["bytes"] == 4096 and by_part["weights"]["files"] == 1
    assert by_part["all"]["bytes"] >= by_part["weights"]["bytes"] + by_part["card"]["bytes"]
    assert client.get("/download/123/parts", headers=auth).status_code == 404
    # Each part carries its own signed link, fetched without a token (the browser navigates to it).
    weights = client.get(by_part["weights"]["download_url"])
    assert weights.status_code == 200, weights.text
    assert "weights" in weights.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(weights.content)) as z:
        assert [n for n in z.namelist() if not n.endswith("/")]
    # A link signed for one part does not open another.
    other = by_part["card"]["download_url"].replace("part=card", "part=weights")
    assert client.get(other).status_code == 403


def test_dashboard_series_and_routes(client, auth):
    for _ in range(3):
        client.get("/artifacts/model/nope", headers=auth)
    made = upload(client, auth, name="dash")
    client.get(f"/download/{made['metadata']['id']}", headers=auth, params={"part": "card"})
    body = client.get("/health/dashboard", params={"windowMinutes": 60}).json()
    assert body["bucket_seconds"] == 60 and len(body["buckets"]) == 60
    api = body["series"]["api"]
    assert sum(api["requests"]) >= 5 and len(api["p99_ms"]) == 60
    assert sum(body["series"]["ingest"]["requests"]) == 1
    assert sum(body["series"]["downloads"]["requests"]) == 1
    route = {r["route"]: r for r in body["routes"]}["GET /artifacts/{artifact_type}/{id}"]
    assert route["requests"] == 3 and route["client_errors"] == 3 and route["p99_ms"] > 0
    assert body["totals"]["ingests"] == 1 and body["totals"]["downloads"] == 1
    assert client.get("/health/dashboard", params={"windowMinutes": 2}).status_code == 400


@pytest.fixture
def logged_client(make_settings):  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(log_level=1))) as c:
        yield c


def test_logs_are_for_admins_and_filter_by_level_route_and_request_id(logged_client, make_settings):
    c = logged_client
    admin = {"X-Authorization": login(c)}
    trace = f"trace-me-{uuid.uuid4().hex}"  # the log ring is per process: one id per run
    c.get("/artifacts/model/nope", headers={**admin, "x-request-id": trace})
    c.post("/users", headers=admin, json={"name": "u1", "password": "password-1"})
    user = {"X-Authorization": login(c, "u1", "password-1", False)}
    assert c.get("/health/logs", headers=user).status_code == 401
    assert c.get("/health/logs").status_code == 403
    lines = c.get("/health/logs", headers=admin, params={"request_id": trace}).json()["lines"]
    assert len(lines) == 1 and lines[0]["status"] == 404
    assert lines[0]["route"] == "/artifacts/{artifact_type}/{id}"
    by_route = c.get("/health/logs", headers=admin, params={"route": "/users"}).json()["lines"]
    assert by_route and all("/users" in (x["route"] + x["path"]) for x in by_route)
    errors = c.get("/health/logs", headers=admin, params={"level": "error"}).json()["lines"]
    assert all(x["level"] in ("error", "critical") for x in errors)
    limited = c.get("/health/logs", headers=admin, params={"limit": 2}).json()
    assert len(limited["lines"]) == 2 and limited["buffered"] >= 4
    assert limited["lines"][0]["seq"] > limited["lines"][1]["seq"]  # newest first
    downloads = c.get("/health/logs", headers=admin, params={"component": "downloads"}).json()
    assert downloads["lines"] == []
    assert c.get("/health/logs", headers=admin, params={"level": "loud"}).status_code == 400


def test_component_health_links_to_the_log_endpoint(client, auth):
    body = client.get("/health/components").json()
    for component in body["components"]:
        (ref,) = component["logs"]
        assert ref["url"].endswith(f"/health/logs?component={component['id']}")
        assert ref["url"].startswith("http") and ref["tail_available"] is True
        path = ref["url"].split("://", 1)[1].split("/", 1)[1]
        assert client.get(f"/{path}", headers=auth).status_code == 200


def test_metrics_for_prometheus(client, auth):
    made = upload(client, auth, name="prom")
    client.get(f"/download/{made['metadata']['id']}", headers=auth, params={"part": "card"})
    client.get("/artifacts/model/nope", headers=auth)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert (
        'tmr_http_requests_total{method="GET",route="/artifacts/{artifact_type}/{id}",'
        'status="404"} 1.0' in text
    )
    assert 'tmr_http_request_duration_seconds_bucket{le="0.005",method="GET"' in text
    assert 'tmr_ingests_total{outcome="ok",type="model"} 1.0' in text
    assert 'tmr_downloads_total{kind="bundle",outcome="ok"} 1.0' in text
    assert "/download/" + made["metadata"]["id"] not in text  # templates, never raw paths


def test_workload_runs_the_reference_code_is_admin_only_and_reports_its_result(client, auth):
    from tmr.api.workload_runner import reference_workload

    # The button runs tmr bench downloads' own code (tests/web drives it against a real server).
    assert client.app.state.workloads.runner is reference_workload
    seen: list[tuple[WorkloadSpec, str]] = []

    def runner(spec, base_url, token, progress):  # type: ignore[no-untyped-def]
        seen.append((spec, token))
        assert client.get("/users/me", headers={"X-Authorization": token}).status_code == 200
        for i in range(3):
            progress("seeding", i + 1, 3)
        progress("downloading", 0, int(spec.seconds))
        return WorkloadResult(12, 0, 0.5, 1200, 24.0, 0.0, 5.0, 4.0, 9.0)

    client.app.state.workloads.runner = runner
    none_yet = client.get("/health/workload", headers=auth)
    assert none_yet.status_code == 404
    assert none_yet.json()["message"] == "no workload has run in this process yet"
    started = client.post("/health/workload", headers=auth, json={})
    assert started.status_code == 202 and started.json()["spec"] == {
        "models": 500, "clients": 100, "seconds": 10.0  # the reference experiment by default
    }  # fmt: skip
    deadline = time.time() + 10
    while (job := client.get("/health/workload", headers=auth).json())["state"] == "running":
        assert time.time() < deadline
        time.sleep(0.05)
    assert job["state"] == "finished" and job["phase"] == "done"
    assert job["result"]["throughput_per_second"] == 24.0 and job["result"]["p99_ms"] == 9.0
    spec, token = seen[0]
    assert spec == WorkloadSpec(500, 100, 10.0)
    assert token != auth["X-Authorization"]  # its own token, not the admin's
    assert client.get("/users/me", headers={"X-Authorization": token}).status_code == 403
    small = client.post("/health/workload", headers=auth, json={"models": 20, "clients": 5})
    assert small.status_code == 202 and small.json()["spec"]["clients"] == 5
    for bad in ({"clients": 0}, {"models": 0}, {"seconds": 1000}):
        assert client.post("/health/workload", headers=auth, json=bad).status_code == 400
    client.post("/users", headers=auth, json={"name": "u2", "password": "password-2"})
    user = {"X-Authorization": login(client, "u2", "password-2", False)}
    assert client.post("/health/workload", headers=user, json={}).status_code == 401


def test_every_component_has_a_log_scope():
    from tmr.api.health import LOG_SCOPES, Component

    assert set(LOG_SCOPES) == set(Component.__args__)
