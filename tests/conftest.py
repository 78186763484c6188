"""Shared fixtures: settings on a fresh data dir, the app, tokens, and the storage backends.

Storage-touching tests take ``backend``, which runs them on SQLite + local files and again on
PostgreSQL (127.0.0.1:5432, a fresh database per test) + SeaweedFS S3 (a real server started
once per session).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.hermetic", "tests.replay.fixtures", "tests.support.seaweed"]

ADMIN = "ece30861defaultadminuser"
ADMIN_PASSWORD = "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE artifacts;"
PG_ADMIN_URL = os.environ.get("TMR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "TMR_DATABASE_URL",
        "TMR_BLOB_URL",
        "TMR_DATA_DIR",
        "TMR_INGEST_GATE",
        "LOG_FILE",
        "TMR_PUBLIC_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOG_LEVEL", "0")


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot run here"
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}"


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test; dropped afterwards."""
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"tmr_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite+file", "postgres+s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """Settings overrides for one storage backend pair."""
    if request.param == "sqlite+file":
        return {"data_dir": tmp_path / "data"}
    db_url = request.getfixturevalue("pg_database")
    s3 = request.getfixturevalue("s3_server")
    bucket = f"tmr-{secrets.token_hex(4)}"
    return {
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "blob_url": f"s3://{bucket}/bundles",
        "s3_endpoint_url": s3,
    }


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tmr.config import load_settings

    def make(**overrides: object):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {"data_dir": tmp_path / "data", "log_level": 0}
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings()


@pytest.fixture
def client(settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c


def login(client, name: str = ADMIN, password: str = ADMIN_PASSWORD, is_admin: bool = True) -> str:  # type: ignore[no-untyped-def]
    r = client.put(
        "/authenticate",
        json={"user": {"name": name, "is_admin": is_admin}, "secret": {"password": password}},
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def token(client) -> str:  # type: ignore[no-untyped-def]
    return login(client)


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"X-Authorization": token}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
