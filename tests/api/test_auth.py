"""Authentication per REQUIREMENTS §1.5."""

from __future__ import annotations

from tests.conftest import ADMIN, login

PACKAGES_SPELLING = "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE packages;"


def test_default_admin_logs_in_with_both_password_spellings(client):
    assert login(client).startswith("bearer ")
    assert login(client, password=PACKAGES_SPELLING).startswith("bearer ")


def test_wrong_password_is_401_and_says_so(client):
    r = client.put(
        "/authenticate",
        json={"user": {"name": ADMIN, "is_admin": True}, "secret": {"password": "nope"}},
    )
    assert r.status_code == 401
    assert "invalid" in r.json()["message"]


def test_malformed_login_is_400(client):
    r = client.put("/authenticate", json={"user": {"name": ADMIN}})
    assert r.status_code == 400
    assert "secret" in r.json()["message"]


def test_missing_or_invalid_token_is_403(client):
    assert client.post("/artifacts", json=[{"name": "*"}]).status_code == 403
    r = client.post("/artifacts", json=[{"name": "*"}], headers={"X-Authorization": "bearer x"})
    assert r.status_code == 403
    assert "invalid or expired" in r.json()["message"]


def test_token_works_with_and_without_bearer_prefix(client, token):
    raw = token.removeprefix("bearer ")
    for header in (token, raw):
        assert (
            client.post(
                "/artifacts", json=[{"name": "*"}], headers={"X-Authorization": header}
            ).status_code
            == 200
        )


def test_token_expires_after_its_call_budget(make_settings):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    with TestClient(create_app(make_settings(token_max_calls=3))) as c:
        token = login(c)
        codes = [
            c.post(
                "/artifacts", json=[{"name": "*"}], headers={"X-Authorization": token}
            ).status_code
            for _ in range(4)
        ]
    assert codes == [200, 200, 200, 403]


def test_token_expires_after_its_lifetime(make_settings):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    with TestClient(create_app(make_settings(token_ttl_seconds=0))) as c:
        token = login(c)
        assert (
            c.post(
                "/artifacts", json=[{"name": "*"}], headers={"X-Authorization": token}
            ).status_code
            == 403
        )


def test_a_user_may_hold_several_tokens_and_they_survive_reset(client):
    first, second = login(client), login(client)
    assert first != second
    assert client.delete("/reset", headers={"X-Authorization": first}).status_code == 200
    for token in (first, second):
        assert (
            client.post(
                "/artifacts", json=[{"name": "*"}], headers={"X-Authorization": token}
            ).status_code
            == 200
        )


def test_reset_is_admin_only(client, auth):
    r = client.post(
        "/users",
        headers=auth,
        json={"name": "casey", "password": "s3cret-pass", "permissions": ["search"]},
    )
    assert r.status_code == 201, r.text
    casey = login(client, "casey", "s3cret-pass", is_admin=False)
    r = client.delete("/reset", headers={"X-Authorization": casey})
    assert r.status_code == 401
    assert "admin" in r.json()["message"]


def test_reset_removes_other_users(client, auth):
    client.post("/users", headers=auth, json={"name": "dana", "password": "s3cret-pass"})
    assert client.delete("/reset", headers=auth).status_code == 200
    r = client.put(
        "/authenticate",
        json={"user": {"name": "dana", "is_admin": False}, "secret": {"password": "s3cret-pass"}},
    )
    assert r.status_code == 401
    names = [u["name"] for u in client.get("/users", headers=auth).json()]
    assert names == [ADMIN]


def test_passwords_are_stored_as_argon2_hashes(client, settings):
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "DROP TABLE" not in stored


def test_only_admins_register_users_and_users_delete_only_themselves(client, auth):
    for name in ("eli", "fay"):
        r = client.post("/users", headers=auth, json={"name": name, "password": "s3cret-pass"})
        assert r.status_code == 201, r.text
    eli = {"X-Authorization": login(client, "eli", "s3cret-pass", False)}
    r = client.post("/users", headers=eli, json={"name": "gil", "password": "s3cret-pass"})
    assert r.status_code == 401
    assert "'admin' permission" in r.json()["message"]
    r = client.delete("/users/fay", headers=eli)
    assert r.status_code == 401 and "only themselves" in r.json()["message"]
    assert client.delete("/users/eli", headers=eli).status_code == 200  # oneself
    assert client.post("/artifacts", json=[{"name": "*"}], headers=eli).status_code == 403
    assert client.delete("/users/fay", headers=auth).status_code == 200  # admins: anyone


def test_two_replicas_never_exceed_a_tokens_budget(make_settings):
    """Two processes' worth of AuthService on one database: leases never over-spend, and
    what one replica leased but did not use is still served by it (nothing is lost)."""
    from tmr.composition import build_registry
    from tmr.errors import Forbidden
    from tmr.services.auth import AuthService

    settings = make_settings(token_max_calls=60)
    registry = build_registry(settings)
    token = registry.auth.login(ADMIN, True, PACKAGES_SPELLING)
    replicas = [registry.auth, AuthService(registry.db, settings)]
    accepted = 0
    for i in range(200):
        try:
            replicas[i % 2].user_for_token(token)
            accepted += 1
        except Forbidden:
            pass
    assert accepted == 60


def test_a_token_spent_fast_renews_in_growing_leases(make_settings):
    """A busy token takes leases of 25, 50, 100… calls (at most a quarter of what is left),
    so thousands of requests a second cost a few renewals a second, not a hundred."""
    from sqlalchemy import select

    from tmr.composition import build_registry
    from tmr.services.auth import token_digest
    from tmr.storage.db.tables import TokenRow

    settings = make_settings(token_max_calls=100_000)
    registry = build_registry(settings)
    token = registry.auth.login(ADMIN, True, PACKAGES_SPELLING)
    for _ in range(400):
        assert registry.auth.cached_user(token) or registry.auth.user_for_token(token)
    digest = token_digest(token.removeprefix("bearer "))
    with registry.db.read() as s:
        left = s.scalar(select(TokenRow.calls_left).where(TokenRow.token_hash == digest))
    assert left is not None
    reserved = 100_000 - left  # spent plus what this process holds
    assert reserved > 400 + 25  # the last lease was larger than the first
    assert reserved <= 400 + 1000  # and never more than the largest lease beyond what was used
    registry.db.dispose()
