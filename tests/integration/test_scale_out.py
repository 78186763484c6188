"""Scale-out: two ``tmr serve`` replicas on one PostgreSQL and one SeaweedFS S3 behind nginx.

- two replicas pulling the same large upstream file through at once fetch it from upstream once;
- health and activity figures are the same whichever replica answers;
- a replica killed with SIGKILL under load costs at most its in-flight requests (runs last: it
  kills one of the module's replicas).
Needs nginx (Debian's package; scripts/test installs it): under CI=true its absence is a failure.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD, PG_ADMIN_URL, _pg_available
from tests.support.nginx import Balancer, find_nginx
from tests.support.replicas import Replica, start_replicas

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.timeout(600)]


@dataclass
class Cluster:
    lb: str
    replicas: list[Replica]
    balancer: Balancer


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing server is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_module_database() -> Iterator[str]:
    reason = _pg_available()
    if reason:
        _missing(reason)
    import psycopg

    name = f"tmr_scale_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    pg_module_database: str,
    s3_server: str,
    hf_replay: str,
    github_replay: str,
) -> Iterator[Cluster]:
    nginx = find_nginx()
    if nginx is None:
        _missing("nginx is not installed (apt-get install -y nginx)")
    assert nginx is not None
    root = tmp_path_factory.mktemp("scale-out")
    env = {
        "TMR_DATABASE_URL": pg_module_database,
        "TMR_BLOB_URL": f"s3://tmr-scale-{secrets.token_hex(4)}/bundles",
        "TMR_S3_ENDPOINT_URL": s3_server,
        "HF_ENDPOINT": hf_replay,
        "GITHUB_API_URL": github_replay,
        "TMR_ALLOW_PRIVATE_UPSTREAM": "1",
        "TMR_INGEST_GATE": "off",
        "TMR_ACTIVITY_FLUSH_SECONDS": "0.2",
        "TMR_TOKEN_MAX_CALLS": "1000000",
        "LOG_LEVEL": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    replicas = start_replicas(2, env, root)
    balancer = Balancer(nginx, [r.netloc for r in replicas], root / "nginx")
    try:
        balancer.start()
        yield Cluster(balancer.url, replicas, balancer)
    finally:
        balancer.stop()
        for r in replicas:
            r.kill()


def _token(base: str) -> str:
    r = httpx.put(
        f"{base}/authenticate",
        json={"user": {"name": ADMIN, "is_admin": True}, "secret": {"password": ADMIN_PASSWORD}},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return str(r.json())


@pytest.fixture(scope="module")
def tiny_llm(cluster: Cluster) -> tuple[str, dict[str, str]]:
    auth = {"X-Authorization": _token(cluster.lb)}
    r = httpx.post(
        f"{cluster.lb}/artifact/model",
        headers=auth,
        json={"url": "https://huggingface.co/arnir0/Tiny-LLM"},
        timeout=120,
    )
    assert r.status_code == 201, r.text
    return r.json()["metadata"]["id"], auth


def test_two_replicas_pulling_the_same_large_file_fetch_it_once(
    cluster: Cluster, tiny_llm: tuple[str, dict[str, str]], hf_replay_server  # type: ignore[no-untyped-def]
) -> None:
    artifact_id, auth = tiny_llm
    mark = len(hf_replay_server.requests)
    hf_replay_server.delays["/cdn/"] = 1.5  # a slow upstream: the two pulls overlap
    results: list[httpx.Response] = []
    start = threading.Barrier(2)

    def pull(replica: Replica) -> None:
        start.wait()
        results.append(
            httpx.get(
                f"{replica.url}/download/{artifact_id}/files/model.safetensors",
                headers=auth,
                timeout=120,
            )
        )

    threads = [threading.Thread(target=pull, args=(r,)) for r in cluster.replicas]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
    finally:
        hf_replay_server.delays.clear()
    assert [r.status_code for r in results] == [302, 302], [r.text[:200] for r in results]
    fetched = [p for m, p in hf_replay_server.requests[mark:] if m == "GET" and "/cdn/" in p]
    assert len(fetched) == 1, fetched
    # both replicas hand out the same stored object, with the upstream's bytes
    blob = httpx.get(results[0].headers["location"], timeout=60)
    assert blob.status_code == 200 and len(blob.content) == 15_023_624
    assert results[0].headers["location"].split("?")[0] == results[1].headers["location"].split(
        "?"
    )[0]


def test_health_figures_are_equal_whichever_replica_answers(
    cluster: Cluster, tiny_llm: tuple[str, dict[str, str]]
) -> None:
    artifact_id, auth = tiny_llm
    with httpx.Client(base_url=cluster.lb, headers=auth, timeout=60) as http:
        for _ in range(20):
            assert http.get(f"/artifacts/model/{artifact_id}").status_code == 200
    time.sleep(3.0)  # every replica's batch (flushed every 0.2 s) is in the database

    def figures(replica: Replica) -> dict[str, object]:
        body = httpx.get(
            f"{replica.url}/health/components", params={"windowMinutes": 60}, timeout=60
        ).json()
        comps = {c["id"]: c["metrics"] for c in body["components"]}
        api = comps["api"]
        return {
            "reads": api["route GET /artifacts/{artifact_type}/{id}"],
            "logins": api["route PUT /authenticate"],
            "replicas": api["replicas"],
            "ingest": comps["ingest"]["requests"],
            "downloads": comps["downloads"].get("requests"),
            "artifacts": httpx.get(f"{replica.url}/health", timeout=30).json()["artifact_count"],
        }

    first, second = (figures(r) for r in cluster.replicas)
    assert first == second
    assert first["reads"] >= 20 and first["replicas"] == 2 and first["artifacts"] == 1


def test_a_replica_killed_under_load_costs_only_its_in_flight_requests(
    cluster: Cluster, tiny_llm: tuple[str, dict[str, str]]
) -> None:
    artifact_id, auth = tiny_llm
    clients, duration, kill_at = 12, 8.0, 3.0
    outcomes: list[tuple[float, float, bool]] = []  # (started, ended, ok) relative to t0
    lock = threading.Lock()
    t0 = time.monotonic()

    def client() -> None:
        with httpx.Client(base_url=cluster.lb, headers=auth, timeout=30) as http:
            while (started := time.monotonic() - t0) < duration:
                try:
                    ok = http.get(f"/artifacts/model/{artifact_id}").status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    outcomes.append((started, time.monotonic() - t0, ok))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(kill_at)
    victim = cluster.replicas[1]
    killed_at = time.monotonic() - t0
    victim.kill()
    for t in threads:
        t.join(timeout=120)
    assert victim.proc.returncode == -9
    failed = [o for o in outcomes if not o[2]]
    before = [o for o in outcomes if o[1] < killed_at]
    after = [o for o in outcomes if o[0] > killed_at + 0.5]
    assert len(before) > clients and len(after) > clients, (len(before), len(after))
    # every failure was in flight when the replica died: at most one per client
    assert len(failed) <= clients, failed
    assert all(s <= killed_at + 0.5 for s, _, _ in failed), failed
    assert all(ok for _, _, ok in after)
    assert httpx.get(f"{cluster.lb}/health", timeout=30).status_code == 200
