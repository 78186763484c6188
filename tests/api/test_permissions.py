"""The permission table: every route has an entry; the middleware enforces it before the body."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from tests.conftest import login
from tmr.api.permissions import ROUTE_PERMISSIONS, app_routes, check_table


def test_every_route_of_the_app_has_an_entry_and_every_entry_a_route(client):
    routes = {(m, p) for m, p, _ in app_routes(client.app.routes)}
    assert routes, "no routes found"
    missing = sorted(routes - ROUTE_PERMISSIONS.keys())
    stale = sorted(ROUTE_PERMISSIONS.keys() - routes)
    assert not missing, f"routes without an entry in ROUTE_PERMISSIONS: {missing}"
    assert not stale, f"entries without a route: {stale}"


def test_an_app_with_an_undecided_route_does_not_start(client):
    extra = APIRouter()

    @extra.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    client.app.include_router(extra)
    with pytest.raises(RuntimeError, match="/forgotten"):
        check_table(client.app.routes)


def test_missing_permission_is_401_naming_it(client, auth):
    r = client.post(
        "/users", headers=auth, json={"name": "sam", "password": "s3cret-pass", "permissions": []}
    )
    assert r.status_code == 201, r.text
    sam = {"X-Authorization": login(client, "sam", "s3cret-pass", False)}
    r = client.post("/artifacts", headers=sam, json=[{"name": "*"}])
    assert r.status_code == 401
    body = r.json()
    assert "'search' permission" in body["message"]
    assert body["details"]["permission"] == "search"
    assert body["request_id"] == r.headers["x-request-id"]


def test_unauthenticated_body_is_never_read(client):
    """The token is checked before the body: a refused upload's bytes are not consumed."""
    import anyio

    app = client.app
    chunks_read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/artifact/model/upload",
        "raw_path": b"/artifact/model/upload",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"multipart/form-data; boundary=x")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    assert sent[0]["status"] == 403
    assert chunks_read == 0
