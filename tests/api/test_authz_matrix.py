"""The authorization matrix: every route of the permission table × every kind of caller.

Cells are generated from ``ROUTE_PERMISSIONS`` (so a new route is in the matrix the moment it
has an entry) and asserted one by one:

- public routes answer everyone (never 401/403);
- a missing, garbage, exhausted, expired or revoked token is the contract's 403;
- a valid token without the permission is 401 with a message naming it;
- a valid token with it (administrators hold every permission) is let through (any other
  status: the request itself may be a 400/404 on purpose, so nothing is changed);
- update, delete and audit of an artifact also need its owner or an administrator (401 else),
  and a group's routes its creator or an administrator (the cells' group stays empty and open:
  the appended commands are refused with 404/400, executing it is 400).

One app serves the whole module; state-changing cells that are let through get their own
artifact or token, so cells do not depend on each other's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.support.zips import upload
from tmr.api.permissions import (
    ADMIN as NEEDS_ADMIN,
)
from tmr.api.permissions import (
    AUTHENTICATED,
    OWNER_OR_ADMIN,
    PERMISSIONS,
    PUBLIC,
    ROUTE_PERMISSIONS,
    SELF_OR_ADMIN,
)
from tmr.services.auth import token_digest
from tmr.storage.db.tables import TokenRow

PASSWORD = "matrix-pass-1"
VALID = ["admin", "owner", "perm_search", "perm_upload", "perm_download", "perm_admin", "none"]
INVALID = ["no_token", "garbage", "exhausted", "expired", "revoked"]
PRINCIPALS = VALID + INVALID
HOLDS: dict[str, set[str]] = {
    "admin": set(PERMISSIONS),
    "perm_admin": set(PERMISSIONS),  # the admin permission is the administrator role
    "owner": {"search", "upload", "download"},
    "perm_search": {"search"},
    "perm_upload": {"upload"},
    "perm_download": {"download"},
    "none": set(),
}
IS_ADMIN = {"admin", "perm_admin"}
# Routes whose success would change shared state: allowed cells get a fresh object or token.
FRESH_ARTIFACT = {
    ("DELETE", "/artifacts/{artifact_type}/{id}"),
    ("PUT", "/artifact/model/{id}/monitor"),
    ("DELETE", "/artifact/model/{id}/monitor"),
}
FRESH_TOKEN = {("POST", "/logout"), ("PUT", "/account/password")}
RESETS = ("DELETE", "/reset")


class World:
    def __init__(self, client: TestClient) -> None:
        self.c = client
        self.headers: dict[str, dict[str, str]] = {}
        self.model_id = ""
        self.group_id = ""

    def login(self, name: str, password: str = PASSWORD, is_admin: bool = False) -> str:
        r = self.c.put(
            "/authenticate",
            json={"user": {"name": name, "is_admin": is_admin}, "secret": {"password": password}},
        )
        assert r.status_code == 200, r.text
        return str(r.json())

    def set_token(self, token: str, **values: object) -> None:
        registry = self.c.app.state.registry  # type: ignore[attr-defined]
        digest = token_digest(token.split(" ", 1)[1])
        with registry.db.transaction() as s:
            s.execute(update(TokenRow).where(TokenRow.token_hash == digest).values(**values))

    def fresh_model(self) -> str:
        return str(upload(self.c, self.headers["owner"], "model", name="fresh")["metadata"]["id"])


@pytest.fixture(scope="module")
def world(module_backend: dict[str, object]) -> Iterator[World]:
    from tmr.app import create_app
    from tmr.config import load_settings

    with pytest.MonkeyPatch.context() as mp:
        for var in ("TMR_DATABASE_URL", "TMR_BLOB_URL", "TMR_DATA_DIR", "TMR_PUBLIC_URL"):
            mp.delenv(var, raising=False)
        settings = load_settings(
            **module_backend,
            log_level=0,
            ingest_gate="off",
            upstream_timeout_seconds=1,
        )
        with TestClient(create_app(settings)) as c:
            w = World(c)
            admin = w.login(ADMIN, ADMIN_PASSWORD, True)
            w.headers["admin"] = {"X-Authorization": admin}
            for name, perms in HOLDS.items():
                if name == "admin":
                    continue
                r = c.post(
                    "/users",
                    headers=w.headers["admin"],
                    json={"name": name, "password": PASSWORD, "permissions": sorted(perms)},
                )
                assert r.status_code == 201, r.text
                w.headers[name] = {"X-Authorization": w.login(name)}
            w.model_id = str(upload(c, w.headers["owner"], "model", name="owned")["metadata"]["id"])
            r = c.post("/groups", headers=w.headers["owner"])  # an empty group: cells never run it
            assert r.status_code == 201, r.text
            w.group_id = str(r.json()["id"])
            w.headers["no_token"] = {}
            w.headers["garbage"] = {"X-Authorization": "bearer not-a-real-token"}
            exhausted, expired, revoked = (w.login("perm_search") for _ in range(3))
            w.set_token(exhausted, calls_left=0)
            w.set_token(expired, expires_at=datetime.now(UTC) - timedelta(seconds=1))
            assert c.post("/logout", headers={"X-Authorization": revoked}).status_code == 200
            w.headers["exhausted"] = {"X-Authorization": exhausted}
            w.headers["expired"] = {"X-Authorization": expired}
            w.headers["revoked"] = {"X-Authorization": revoked}
            yield w


def _request(world: World, method: str, template: str, principal: str, allowed: bool) -> object:
    ids = {"id": world.model_id}
    if allowed and (method, template) in FRESH_ARTIFACT:
        ids["id"] = world.fresh_model()
    path = (
        template.replace("{artifact_type}", "model")
        .replace("{id}", ids["id"])
        .replace("{name}", "nobody-here")
        .replace("{token_id}", "00000000")
        .replace("{path:path}", "README.md")
        .replace("{group_id}", world.group_id)
    )
    headers = dict(world.headers[principal])
    if allowed and (method, template) in FRESH_TOKEN and principal in VALID:
        name = ADMIN if principal == "admin" else principal
        password = ADMIN_PASSWORD if principal == "admin" else PASSWORD
        headers = {"X-Authorization": world.login(name, password, principal == "admin")}
    bodies: dict[tuple[str, str], object] = {
        ("POST", "/artifacts"): [{"name": "*"}],
        ("POST", "/artifact/byRegEx"): {"regex": "owned"},
        ("POST", "/artifact/byVersion"): {"version": "1.2.3"},
        ("POST", "/artifact/model/{id}/license-check"): {"github_url": "not a url"},
        ("POST", "/artifact/{artifact_type}"): {"url": "ftp://not-http"},
        ("PUT", "/artifacts/{artifact_type}/{id}"): {
            "metadata": {"name": "wrong-name", "id": ids["id"], "type": "model"},
            "data": {"url": "https://huggingface.co/x/y"},
        },
        ("POST", "/users"): {"name": "x", "password": "short"},
        ("PUT", "/users/{name}/password"): {"new_password": "long-enough-1"},
        ("PUT", "/account/password"): {"current_password": "x", "new_password": "short"},
        ("PUT", "/authenticate"): {},
        ("PUT", "/artifact/{artifact_type}/{id}/lifecycle"): {"state": "active"},  # no change
        ("PUT", "/artifact/model/{id}/sensitive"): {"sensitive": False},  # no change
        ("PUT", "/artifact/model/{id}/monitor"): {"program": "process.exit(0);\n"},
        # a command on an artifact that does not exist: 404 for those let through
        ("POST", "/groups/{group_id}/commands"): {"op": "delete", "type": "model", "id": "0"},
    }
    if (method, template) == ("POST", "/groups/{group_id}/commands/upload"):
        return world.c.post(  # not a zip: 400 for those let through
            path, headers=headers, data={"type": "model"}, files={"file": ("x.zip", b"no zip")}
        )
    body = bodies.get((method, template))
    return world.c.request(method, path, headers=headers, json=body)


def _cells() -> Iterator[tuple[str, str, str]]:
    for method, path in sorted(ROUTE_PERMISSIONS, key=lambda k: (k[1], k[0])):
        if (method, path) == RESETS:
            continue  # tested below on its own app: a reset would wipe the shared users
        for principal in PRINCIPALS:
            yield method, path, principal


def expectation(method: str, path: str, principal: str) -> str:
    need = ROUTE_PERMISSIONS[(method, path)]
    if need == PUBLIC:
        return "through"
    if principal in INVALID:
        return "403"
    if (method, path) in SELF_OR_ADMIN and principal not in IS_ADMIN:
        return "401-self"  # the cells act on another account ({name} is someone else)
    if need == AUTHENTICATED:
        return "through"
    if need not in HOLDS[principal]:
        return "401-permission"
    if (method, path) in OWNER_OR_ADMIN and principal not in IS_ADMIN and principal != "owner":
        return "401-owner"
    return "through"


@pytest.mark.parametrize(("method", "path", "principal"), list(_cells()))
def test_cell(world: World, method: str, path: str, principal: str) -> None:
    expected = expectation(method, path, principal)
    r = _request(world, method, path, principal, expected == "through")
    status = r.status_code  # type: ignore[attr-defined]
    if expected == "through":
        assert status not in (401, 403), r.text  # type: ignore[attr-defined]
        assert status < 500, r.text  # type: ignore[attr-defined]
    elif expected == "403":
        assert status == 403, r.text  # type: ignore[attr-defined]
    elif expected == "401-permission":
        need = ROUTE_PERMISSIONS[(method, path)]
        assert status == 401, r.text  # type: ignore[attr-defined]
        if method != "HEAD":  # HEAD answers carry no body
            assert f"{need!r} permission" in r.json()["message"]  # type: ignore[attr-defined]
    elif expected == "401-self":
        assert status == 401, r.text  # type: ignore[attr-defined]
        assert "only themselves" in r.json()["message"]  # type: ignore[attr-defined]
    else:
        assert status == 401, r.text  # type: ignore[attr-defined]
        if method != "HEAD":
            assert "owner" in r.json()["message"]  # type: ignore[attr-defined]


def test_the_matrix_covers_every_route_and_principal() -> None:
    cells = list(_cells())
    routes = {(m, p) for m, p, _ in cells} | {RESETS}
    assert routes == set(ROUTE_PERMISSIONS)
    assert len(cells) == (len(ROUTE_PERMISSIONS) - 1) * len(PRINCIPALS)


def test_reset_row(make_settings) -> None:  # type: ignore[no-untyped-def]
    """DELETE /reset for every caller, on its own app: refused callers first, then the two
    administrators (a permitted reset wipes the other users; the default admin's token stays)."""
    from tmr.app import create_app

    with TestClient(create_app(make_settings(ingest_gate="off"))) as c:
        w = World(c)
        w.headers["admin"] = {"X-Authorization": w.login(ADMIN, ADMIN_PASSWORD, True)}
        for name in VALID:
            if name != "admin":
                perms = sorted(HOLDS[name])
                r = c.post(
                    "/users",
                    headers=w.headers["admin"],
                    json={"name": name, "password": PASSWORD, "permissions": perms},
                )
                assert r.status_code == 201
                w.headers[name] = {"X-Authorization": w.login(name)}
        w.headers["no_token"] = {}
        w.headers["garbage"] = {"X-Authorization": "bearer nope"}
        for name in ("exhausted", "expired", "revoked"):
            token = w.login(ADMIN, ADMIN_PASSWORD, True)
            w.headers[name] = {"X-Authorization": token}
        w.set_token(w.headers["exhausted"]["X-Authorization"], calls_left=0)
        w.set_token(
            w.headers["expired"]["X-Authorization"],
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        assert c.post("/logout", headers=w.headers["revoked"]).status_code == 200
        order = sorted(PRINCIPALS, key=lambda p: (p in IS_ADMIN, p == "admin"))
        assert order[-2:] == ["perm_admin", "admin"]
        for principal in order:
            r = c.delete("/reset", headers=w.headers[principal])
            expected = expectation("DELETE", "/reset", principal)
            if expected == "through":
                assert r.status_code == 200, (principal, r.text)
            elif expected == "403":
                assert r.status_code == 403, (principal, r.text)
            else:
                assert r.status_code == 401, (principal, r.text)
                assert f"{NEEDS_ADMIN!r} permission" in r.json()["message"]
