"""Outages survived: PostgreSQL, the S3 object store and the Hugging Face upstream are cut and
restored behind a TCP proxy of the tests' own (tests/support/proxy.py), in two ways: ``refuse``
(nothing listens) and ``partition`` (connections are accepted, nothing ever answers).

While a component is down, a request that needs it gets 503 (502 for the upstream) naming the
component within LIMIT seconds, ``/health/components`` answers within LIMIT and marks it, and
requests that do not need it keep working. Nothing acknowledged is lost, nothing refused appears
later (not even an upload whose client gave up while the store was partitioned), and the registry
serves again within RECOVERY seconds of the restore, without a restart.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from fastapi.testclient import TestClient

from tests.conftest import drop_pg_database, login, new_pg_database
from tests.support.proxy import Proxy
from tests.support.zips import hf_zip

LIMIT = 10.0  # no request waits longer than this while a component is down
RECOVERY = 5.0  # after the restore the registry serves again within this
MODES = ["refuse", "partition"]
TIMINGS: list[str] = []  # printed at the end (-s), recorded in the README


@dataclass
class Stack:
    """A registry on PostgreSQL + S3, each reached through its own proxy."""

    db: Proxy
    s3: Proxy
    bucket: str
    prefix: str
    endpoint: str
    settings: dict[str, object] = field(default_factory=dict)

    def objects(self) -> list[str]:
        """Every key under this registry's prefix, read straight from S3 (not via the proxy)."""
        client = boto3.client(
            "s3", endpoint_url=self.endpoint, config=Config(s3={"addressing_style": "path"})
        )
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture
def stack(pg_template: str, s3_server: str, s3_bucket: str) -> Iterator[Stack]:
    url = new_pg_database(pg_template)
    host_port, name = url.rsplit("@", 1)[1].split("/", 1)
    host, port = host_port.split(":")
    db = Proxy(host, int(port))
    s3_host, s3_port = s3_server.rsplit("/", 1)[1].split(":")
    s3 = Proxy(s3_host, int(s3_port))
    prefix = f"{secrets.token_hex(6)}/bundles"
    proxied_db = url.replace(host_port, db.url_host)
    made = Stack(db, s3, s3_bucket, prefix, s3_server)
    made.settings = {
        "database_url": proxied_db,
        "blob_url": f"s3://{s3_bucket}/{prefix}",
        "s3_endpoint_url": f"http://{s3.url_host}",
    }
    try:
        yield made
    finally:
        db.close()
        s3.close()
        drop_pg_database(url)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def recovery_time(ok: Callable[[], bool]) -> float:
    """Seconds until ``ok()`` holds (polled), failing past RECOVERY."""
    started = time.monotonic()
    while not ok():
        assert time.monotonic() - started < RECOVERY, f"not serving again within {RECOVERY} s"
        time.sleep(0.05)
    return time.monotonic() - started


def upload(c: TestClient, auth: dict[str, str], name: str) -> httpx.Response:
    return c.post(
        "/artifact/model/upload",
        headers=auth,
        data={"name": name},
        files={"file": (f"{name}.zip", hf_zip(name=name), "application/zip")},
    )


def component(c: TestClient, cid: str) -> tuple[dict[str, Any], float]:
    r, took = timed(lambda: c.get("/health/components"))
    assert r.status_code == 200, r.text
    return next(x for x in r.json()["components"] if x["id"] == cid), took


def names(c: TestClient, auth: dict[str, str]) -> set[str]:
    r = c.post("/artifacts", headers=auth, json=[{"name": "*"}])
    assert r.status_code == 200, r.text
    return {a["name"] for a in r.json()}


@pytest.mark.parametrize("mode", MODES)
def test_database_outage(stack: Stack, make_settings, mode: str) -> None:  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    app = create_app(make_settings(ingest_gate="off", **stack.settings))
    with TestClient(app) as c:
        auth = {"X-Authorization": login(c)}
        kept = upload(c, auth, "kept")
        assert kept.status_code == 201, kept.text
        kept_id = kept.json()["metadata"]["id"]

        stack.db.set(mode)
        read, took_read = timed(lambda: c.get(f"/artifacts/model/{kept_id}", headers=auth))
        assert read.status_code == 503, read.text
        assert read.json()["message"] == "database unavailable (postgresql); nothing was written"
        assert took_read < LIMIT
        lost, took_upload = timed(lambda: upload(c, auth, "lost"))
        assert lost.status_code == 503, lost.text
        assert "database unavailable (postgresql)" in lost.json()["message"]
        assert took_upload < LIMIT
        login_r, took_login = timed(
            lambda: c.put("/authenticate", json={"user": {"name": "x", "is_admin": False},
                                                  "secret": {"password": "whatever-it-is"}})
        )  # fmt: skip
        assert login_r.status_code == 503 and "database" in login_r.json()["message"]
        assert took_login < LIMIT
        db, took_health = component(c, "database")
        assert took_health < LIMIT
        assert db["status"] == "critical"
        assert db["issues"][0]["summary"] == "Metadata database is unreachable"
        assert db["issues"][0]["details"] == "database unavailable (postgresql)"
        blobs, _ = component(c, "blob-store")
        assert blobs["status"] == "ok"  # the object store is fine and said so
        tracks, took_tracks = timed(lambda: c.get("/tracks"))
        assert tracks.status_code == 200 and took_tracks < LIMIT  # needs no database
        heartbeat = c.get("/health")
        assert heartbeat.status_code == 200 and heartbeat.json()["status"] == "degraded"

        stack.db.set("forward")
        back = recovery_time(
            lambda: c.get(f"/artifacts/model/{kept_id}", headers=auth).status_code == 200
        )
        assert component(c, "database")[0]["status"] == "ok"
        assert names(c, auth) == {"kept"}  # acknowledged kept, refused never appears
        whole = c.get(f"/download/{kept_id}", headers=auth)
        assert whole.status_code == 200 and whole.content[:2] == b"PK"
        again = upload(c, auth, "after")
        assert again.status_code == 201, again.text
    slowest = max(took_read, took_upload, took_login, took_health)
    TIMINGS.append(
        f"database {mode}: slowest answer while down {slowest:.2f} s "
        f"(health {took_health:.2f} s), serving again {back:.2f} s after the restore"
    )
    app.state.registry.db.dispose()


@pytest.mark.parametrize("mode", MODES)
def test_object_store_outage(stack: Stack, make_settings, mode: str) -> None:  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    app = create_app(make_settings(ingest_gate="off", **stack.settings))
    with TestClient(app, follow_redirects=False) as c:
        auth = {"X-Authorization": login(c)}
        kept = upload(c, auth, "kept")
        assert kept.status_code == 201, kept.text
        kept_id = kept.json()["metadata"]["id"]
        stored = sorted(stack.objects())
        assert stored

        stack.s3.set(mode)
        lost, took_upload = timed(lambda: upload(c, auth, "lost"))
        assert lost.status_code == 503, lost.text
        message = lost.json()["message"]
        assert message.startswith("S3 store <blob store> at <object store>: "), message
        assert stack.bucket not in message and stack.prefix not in message
        assert took_upload < LIMIT
        part, took_part = timed(
            lambda: c.get(f"/download/{kept_id}/files/README.md", headers=auth)
        )  # a sensitive-free file is handed to S3 by a presigned redirect: no S3 call here
        assert part.status_code == 302 and took_part < LIMIT
        blobs, took_health = component(c, "blob-store")
        assert took_health < LIMIT
        assert blobs["status"] == "critical"
        assert blobs["issues"][0]["summary"] == "Bundle object store is unreachable"
        assert blobs["issues"][0]["details"].startswith("S3 store <blob store> at <object store>")
        db, _ = component(c, "database")
        assert db["status"] == "ok"
        read = c.get(f"/artifacts/model/{kept_id}", headers=auth)  # metadata needs no S3
        assert read.status_code == 200 and read.json()["metadata"]["name"] == "kept"
        rated = c.get(f"/artifact/model/{kept_id}/rate", headers=auth)
        assert rated.status_code == 200
        assert names(c, auth) == {"kept"}

        stack.s3.set("forward")
        back = recovery_time(lambda: component(c, "blob-store")[0]["status"] == "ok")
        assert sorted(stack.objects()) == stored  # nothing lost, nothing of the refused upload
        again = upload(c, auth, "after")
        assert again.status_code == 201, again.text
        assert names(c, auth) == {"kept", "after"}
        with TestClient(app) as follow:  # follows the redirect to S3 itself
            whole = follow.get(f"/download/{kept_id}", headers=auth)
            assert whole.status_code == 200 and whole.content[:2] == b"PK"
    TIMINGS.append(
        f"object store {mode}: upload answered 503 in {took_upload:.2f} s, health in "
        f"{took_health:.2f} s, serving again {back:.2f} s after the restore"
    )
    app.state.registry.db.dispose()


def _served_upload(base: str, auth: dict[str, str], name: str, timeout: float) -> httpx.Response:
    zipped = hf_zip(name=name)
    return httpx.post(
        f"{base}/artifact/model/upload",
        headers=auth,
        data={"name": name},
        files={"file": (f"{name}.zip", zipped, "application/zip")},
        timeout=timeout,
    )


def test_an_upload_whose_client_gave_up_during_a_partition_never_appears(
    stack: Stack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The client times out while S3 is partitioned; S3 comes back while the registry is still
    retrying; the registry must not commit the upload for a client that is gone."""
    from tests.conftest import backend_env
    from tests.support.served_process import ServedRegistry

    server = ServedRegistry(
        tmp_path / "served", TMR_INGEST_GATE="off", **backend_env(stack.settings)
    ).start()
    try:
        auth = {"X-Authorization": server.token()}
        kept = _served_upload(server.base, auth, "kept", timeout=60)
        assert kept.status_code == 201, kept.text
        before = sorted(stack.objects())

        stack.s3.set("partition")
        gave_up = threading.Event()

        def client_that_gives_up() -> None:
            with pytest.raises(httpx.TimeoutException):
                _served_upload(server.base, auth, "abandoned", timeout=1.5)
            gave_up.set()

        worker = threading.Thread(target=client_that_gives_up)
        worker.start()
        assert gave_up.wait(10), "the client never gave up"
        time.sleep(1.0)  # the registry is still retrying its S3 write when the link returns
        stack.s3.set("forward")
        worker.join()
        time.sleep(8)  # long enough for the registry to finish (or commit) the abandoned one
        listed = httpx.post(f"{server.base}/artifacts", headers=auth, json=[{"name": "*"}])
        assert {a["name"] for a in listed.json()} == {"kept"}
        assert sorted(stack.objects()) == before  # its blobs went with it
    finally:
        server.stop()


@pytest.fixture
def hf_proxy(hf_replay: str) -> Iterator[Proxy]:
    host, port = hf_replay.rsplit("/", 1)[1].split(":")
    proxy = Proxy(host, int(port))
    yield proxy
    proxy.close()


@pytest.mark.parametrize("mode", MODES)
def test_upstream_outage(make_settings, hf_proxy: Proxy, github_replay: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    settings = make_settings(
        ingest_gate="off",
        hf_endpoint=f"http://{hf_proxy.url_host}",
        github_api_url=github_replay,
        allow_private_upstream=True,
        upstream_timeout_seconds=2,
    )
    app = create_app(settings)
    url = "https://huggingface.co/microsoft/resnet-50"
    with TestClient(app) as c:
        auth = {"X-Authorization": login(c)}
        hf_proxy.set(mode)
        r, took = timed(lambda: c.post("/artifact/model", headers=auth, json={"url": url}))
        assert r.status_code == 502, r.text
        message = r.json()["message"]
        assert "could not be fetched from the Hub (" in message, message
        assert "127.0.0.1" not in message and "<" not in message  # no address, no placeholder
        assert "check HF_ENDPOINT and the network, then retry" in message
        assert took < LIMIT  # 3 attempts of a 2 s timeout, with backoff
        assert names(c, auth) == set()  # nothing half-registered
        assert not list(app.state.registry.blobs.list("artifacts/"))
        assert c.get("/tracks").status_code == 200

        hf_proxy.set("forward")  # the very next registration works
        done, took_ok = timed(lambda: c.post("/artifact/model", headers=auth, json={"url": url}))
        assert done.status_code == 201, done.text
        assert names(c, auth) == {"resnet-50"}
    TIMINGS.append(
        f"upstream {mode}: 502 in {took:.2f} s; the next registration took {took_ok:.2f} s"
    )
    app.state.registry.db.dispose()


def teardown_module() -> None:
    for line in TIMINGS:
        print(line)
