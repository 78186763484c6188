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
from typing import NoReturn

import pytest

from tests.support import redirects

pytest_plugins = ["tests.support.hermetic", "tests.replay.fixtures", "tests.support.seaweed"]
redirects.install()  # TestClient follows a download's 302 to the S3 server with a real request

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


@pytest.fixture(autouse=True)
def _coverage_context(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes a test starts are measured under its group's name (``unit-subprocess``,
    ``integration-subprocess``…): scripts/coverage_gates.py counts unit + integration apart."""
    if os.environ.get("COVERAGE_PROCESS_START"):
        parts = request.node.nodeid.split("/")
        group = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
        monkeypatch.setenv("TMR_COVERAGE_CONTEXT", f"{group}-subprocess")


CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite+file", "postgres+s3"]


def unavailable(reason: str) -> NoReturn:
    """A server a test needs is missing: a skip on a laptop, a FAILURE under ``CI=true``."""
    if CI:
        pytest.fail(f"{reason} (CI=true: every backend must run, so this fails the run)")
    pytest.skip(reason)


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot run here"
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}"


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _pg_url(name: str) -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated once per session; each test's database is a copy of it (fast)."""
    reason = _pg_available()
    if reason:
        unavailable(reason)
    from tmr.storage.db.engine import Database
    from tmr.storage.db.migrate import upgrade

    name = f"tmr_tmpl_{secrets.token_hex(6)}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    db = Database(_pg_url(name))
    try:
        upgrade(db.engine)
    finally:
        db.dispose()
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_pg_database(template: str) -> str:
    """A fresh, migrated database copied from ``template``; returns its URL."""
    name = f"tmr_test_{secrets.token_hex(6)}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _pg_url(name)


def drop_pg_database(url: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (already migrated); dropped afterwards."""
    url = new_pg_database(pg_template)
    yield url
    drop_pg_database(url)


def _s3_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    endpoint = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return {
        "blob_url": f"s3://{bucket}/{secrets.token_hex(6)}/bundles",
        "s3_endpoint_url": endpoint,
    }


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """Settings overrides for one storage backend pair (each test: its own database and prefix)."""
    if request.param == "sqlite+file":
        return {"data_dir": tmp_path / "data"}
    return {
        "data_dir": tmp_path / "data",
        "database_url": request.getfixturevalue("pg_database"),
        **_s3_overrides(request),
    }


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, object]]:
    """``backend`` for module-scoped fixtures (one registry shared by a module's tests)."""
    data_dir = tmp_path_factory.mktemp("backend")
    if request.param == "sqlite+file":
        yield {"data_dir": data_dir}
        return
    url = new_pg_database(request.getfixturevalue("pg_template"))
    yield {"data_dir": data_dir, "database_url": url, **_s3_overrides(request)}
    drop_pg_database(url)


def backend_env(overrides: dict[str, object], data_dir: bool = True) -> dict[str, str]:
    """The environment variables that select the same backend in a subprocess (without
    ``TMR_DATA_DIR`` when ``data_dir`` is false: the process gets a folder of its own)."""
    names = {
        "data_dir": "TMR_DATA_DIR",
        "database_url": "TMR_DATABASE_URL",
        "blob_url": "TMR_BLOB_URL",
        "s3_endpoint_url": "TMR_S3_ENDPOINT_URL",
    }
    return {
        names[k]: str(v)
        for k, v in overrides.items()
        if k in names and (data_dir or k != "data_dir")
    }


@pytest.fixture
def storage() -> dict[str, object]:
    """Backend overrides every ``make_settings`` app gets: none here (SQLite + files).

    ``tests/api`` and ``tests/e2e`` override this with ``backend``, so every API and end-to-end
    test runs on SQLite + files and again on PostgreSQL + S3.
    """
    return {}


@pytest.fixture
def make_settings(tmp_path: Path, storage: dict[str, object]):  # type: ignore[no-untyped-def]
    from tmr.config import load_settings

    def make(**overrides: object):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {"data_dir": tmp_path / "data", "log_level": 0, **storage}
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

    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.registry.db.dispose()


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
