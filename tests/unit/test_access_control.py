"""The access-control middleware and its table, on a small app of real routes (no registry)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tmr.api.errors import error_response
from tmr.api.permissions import (
    ADMIN,
    AUTHENTICATED,
    LEVELS,
    OWNER_OR_ADMIN,
    PUBLIC,
    ROUTE_PERMISSIONS,
    SELF_OR_ADMIN,
    AccessControlMiddleware,
    app_routes,
    check_table,
    matrix_markdown,
    may,
    require,
)
from tmr.domain.artifact import User
from tmr.errors import Forbidden, Unauthorized

ALICE = User("alice", is_admin=False, permissions=frozenset({"search"}))
ROOT = User("root", is_admin=True)
NOBODY = User("nobody", is_admin=False)
TOKENS = {"alice-token": ALICE, "root-token": ROOT, "nobody-token": NOBODY}


def authenticate(header: str | None) -> User:
    if header is None:
        raise Forbidden("the X-Authorization header is missing")
    user = TOKENS.get(header)
    if user is None:
        raise Forbidden("the token is invalid or expired")
    return user


def small_app(denied: list[tuple[str, str, str, str]], cached: dict[str, User]) -> FastAPI:
    app = FastAPI()

    def who(request: Request) -> dict[str, str | None]:
        return {"user": request.scope.get("state", {}).get("user")}

    app.add_api_route("/health", who, methods=["GET"])
    app.add_api_route("/users/me", who, methods=["GET"])
    app.add_api_route("/artifacts/{artifact_type}/{id}", who, methods=["GET", "PUT"])
    app.add_api_route("/reset", who, methods=["DELETE"])
    app.add_api_route("/download/{id}", who, methods=["GET"])
    app.add_api_route("/not-in-the-table", who, methods=["GET"])
    app.add_middleware(
        AccessControlMiddleware,
        routes=app.routes,
        cached=lambda header: cached.get(header or ""),
        authenticate=authenticate,
        render=error_response,
        on_denied=lambda user, need, method, path: denied.append((user.name, need, method, path)),
    )
    return app


@pytest.fixture
def denied() -> list[tuple[str, str, str, str]]:
    return []


@pytest.fixture
def client(denied: list[tuple[str, str, str, str]]) -> TestClient:
    return TestClient(small_app(denied, {}))


def call(client: TestClient, method: str, path: str, token: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"X-Authorization": token} if token else {}
    return client.request(method, path, headers=headers)


def test_may_and_require() -> None:
    assert may(NOBODY, PUBLIC) and may(NOBODY, AUTHENTICATED)
    assert may(ALICE, "search") and not may(ALICE, "upload")
    assert all(may(ROOT, level) for level in LEVELS)
    require(ALICE, "search")
    with pytest.raises(Unauthorized) as caught:
        require(ALICE, ADMIN)
    assert caught.value.message == "user 'alice' lacks the 'admin' permission this request needs"
    assert caught.value.details == {"permission": "admin"}


def test_public_routes_need_no_token(client: TestClient) -> None:
    response = call(client, "GET", "/health")
    assert response.status_code == 200 and response.json() == {"user": None}


def test_a_missing_or_bad_token_is_the_contracts_403(client: TestClient) -> None:
    missing = call(client, "GET", "/users/me")
    assert missing.status_code == 403
    assert "header is missing" in missing.text
    bad = call(client, "GET", "/artifacts/model/1", "wrong")
    assert bad.status_code == 403 and "invalid or expired" in bad.text


def test_authenticated_routes_take_any_valid_token(client: TestClient) -> None:
    response = call(client, "GET", "/users/me", "nobody-token")
    assert response.status_code == 200 and response.json() == {"user": "nobody"}


def test_a_permission_is_checked_per_method(
    client: TestClient, denied: list[tuple[str, str, str, str]]
) -> None:
    assert call(client, "GET", "/artifacts/model/1", "alice-token").status_code == 200
    refused = call(client, "PUT", "/artifacts/model/1", "alice-token")
    assert refused.status_code == 401
    assert "lacks the 'upload' permission" in refused.text
    assert denied == [("alice", "upload", "PUT", "/artifacts/{artifact_type}/{id}")]
    assert call(client, "PUT", "/artifacts/model/1", "root-token").status_code == 200


def test_admin_routes_and_routes_missing_from_the_table_need_admin(client: TestClient) -> None:
    assert call(client, "DELETE", "/reset", "alice-token").status_code == 401
    assert call(client, "DELETE", "/reset", "root-token").status_code == 200
    assert call(client, "GET", "/not-in-the-table", "alice-token").status_code == 401
    assert call(client, "GET", "/not-in-the-table", "root-token").status_code == 200


def test_unknown_paths_and_methods_reach_the_router(client: TestClient) -> None:
    assert call(client, "GET", "/no/such/path").status_code == 404
    assert call(client, "DELETE", "/health").status_code == 405


def test_a_signed_link_is_left_to_its_handler_but_a_plain_download_needs_a_token(
    client: TestClient,
) -> None:
    assert call(client, "GET", "/download/1").status_code == 403
    signed = client.get("/download/1?signature=abc&expires=1")
    assert signed.status_code == 200 and signed.json() == {"user": None}
    assert call(client, "GET", "/download/1", "alice-token").status_code == 401
    # the signature exemption holds for signed-link routes only
    assert client.get("/users/me?signature=abc").status_code == 403


def test_a_cached_user_skips_authentication() -> None:
    app = small_app([], {"cached-token": ROOT})
    response = TestClient(app).get("/reset", headers={"X-Authorization": "cached-token"})
    assert response.status_code == 405  # authorised as root, then the router's answer
    deleted = TestClient(app).delete("/reset", headers={"X-Authorization": "cached-token"})
    assert deleted.status_code == 200 and deleted.json() == {"user": "root"}


def test_the_table_must_match_the_routes() -> None:
    app = FastAPI()

    def handler() -> None: ...

    app.add_api_route("/health", handler, methods=["GET"])
    app.add_api_route("/undecided", handler, methods=["POST"])
    with pytest.raises(RuntimeError) as caught:
        check_table(app.routes)
    message = str(caught.value)
    assert "routes without an entry [('POST', '/undecided')]" in message
    assert "entries without a route [" in message and "('DELETE', '/reset')" in message
    assert [(m, p) for m, p, _ in app_routes(app.routes)][-2:] == [
        ("GET", "/health"),
        ("POST", "/undecided"),
    ]


def test_every_entry_is_a_known_level_and_the_matrix_lists_every_path() -> None:
    assert set(ROUTE_PERMISSIONS.values()) <= set(LEVELS)
    rows = matrix_markdown()
    assert rows[:2] == ["| path | methods | needs |", "|---|---|---|"]
    paths = {path for _, path in ROUTE_PERMISSIONS}
    assert {row.split("|")[1].strip().strip("`") for row in rows[2:]} == paths
    assert "| `/reset` | DELETE | `admin` |" in rows
    owner_row = "| `/artifacts/{artifact_type}/{id}` | DELETE, PUT | `upload` + owner or admin |"
    assert owner_row in rows
    assert "| `/users/{name}` | DELETE | `authenticated` + oneself or admin |" in rows
    assert ("PUT", "/artifacts/{artifact_type}/{id}") in OWNER_OR_ADMIN
    assert ("DELETE", "/users/{name}") in SELF_OR_ADMIN


def test_the_matrix_of_a_small_table() -> None:
    table = {("GET", "/a"): PUBLIC, ("POST", "/a"): ADMIN, ("PUT", "/a"): ADMIN}
    assert matrix_markdown(table) == [
        "| path | methods | needs |",
        "|---|---|---|",
        "| `/a` | POST, PUT | `admin` |",
        "| `/a` | GET | `public` |",
    ]
