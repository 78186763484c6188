"""``tmr bench downloads`` at toy size: the reference experiment end to end (a real ``tmr serve``
and Debian's nginx serving the same bundle), and the dashboard's workload against a running
registry (seeding by upload, only what is missing; then the timed contract flow).

Tiny-LLM is shrunk to an eighth here (same files, 2.2 MB), so a run takes seconds; the full
layout is checked in tests/unit/test_bench_report.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.nginx import find_nginx
from tmr.api.workload_runner import reference_workload
from tmr.bench import downloads as bench
from tmr.bench.downloads import (
    experiment,
    login,
    model_names,
    register_models,
    registry_server,
    run_on_registry,
    seed_models,
)
from tmr.services.workload import WorkloadJobs, WorkloadSpec

SMALL_TINY_LLM = {name: max(1, size // 8) for name, size in bench.TINY_LLM_FILES.items()}
WEIGHTS = SMALL_TINY_LLM["model.safetensors"]


@pytest.fixture(autouse=True, scope="module")
def _small_tiny_llm() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench, "TINY_LLM_FILES", SMALL_TINY_LLM)
        yield


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One ``tmr serve`` for the module, enumerating two models per page (so paging shows)."""
    with registry_server(tmp_path_factory.mktemp("bench"), None, TMR_PAGE_SIZE="2") as side:
        yield side


def test_experiment_measures_registry_and_nginx_on_the_same_bundle() -> None:
    if find_nginx() is None:
        pytest.skip("nginx is not installed")
    lines: list[str] = []
    result = experiment(models=3, clients=2, seconds=0.3, rounds=2, log=lines.append)
    assert result.models == 3 and result.clients == 2
    # The upload laid out like Tiny-LLM (incompressible weights) comes back as one bundle.
    assert result.bundle_bytes > WEIGHTS
    assert result.nginx is not None
    for side in (result.registry, result.nginx):
        assert side.flows > 0 and side.errors == 0, side.first_error
        assert side.bytes == side.flows * result.bundle_bytes  # every flow got the whole bundle
        assert side.seconds >= 0.6  # two rounds of 0.3 s each
        assert side.server_cpu > 0
    d = result.as_dict()
    assert d["throughput_ratio"] > 0 and d["p99_ratio"] > 0
    assert lines[0].startswith("registered 3 models by upload in ")
    assert lines[1].startswith("Tiny-LLM bundle: ")
    # Round 1 runs the registry first, round 2 nginx first (alternating the order).
    rounds = [line.split(":")[0].strip() for line in lines[2:]]
    assert rounds == ["round 1 registry", "round 1 nginx", "round 2 nginx", "round 2 registry"]


def test_seeding_uploads_only_the_missing_models(registry) -> None:  # type: ignore[no-untyped-def]
    token = login(registry.base)
    seen: list[tuple[int, int]] = []
    tiny = seed_models(registry.base, token, 3, lambda d, t: seen.append((d, t)), workers=2)
    assert seen[-1] == (3, 3) and sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    names = model_names(registry.base, token)  # three models over two pages
    assert len(names) == 3 and "Tiny-LLM" in names
    auth = {"X-Authorization": token}
    meta = httpx.get(f"{registry.base}/artifacts/model/{tiny}", headers=auth).json()
    assert meta["metadata"]["name"] == "Tiny-LLM"

    again: list[tuple[int, int]] = []
    assert seed_models(registry.base, token, 3, lambda d, t: again.append((d, t))) == tiny
    assert again == []  # enough models already: nothing uploaded

    assert seed_models(registry.base, token, 4) == tiny
    after = model_names(registry.base, token)
    assert len(after) == 4 and len(set(after)) == 4  # the new name is not one already taken


def test_dashboard_workload_runs_the_reference_flow(registry) -> None:  # type: ignore[no-untyped-def]
    token = login(registry.base)
    jobs = WorkloadJobs(reference_workload)
    finished: list[bool] = []
    job = jobs.start(WorkloadSpec(models=2, clients=2, seconds=1.0), registry.base, token,
                     on_done=lambda: finished.append(True))  # fmt: skip
    deadline = time.time() + 60
    while job.state == "running" and time.time() < deadline:
        time.sleep(0.1)
    view = job.view()
    assert view["state"] == "finished", view["error"]
    assert view["phase"] == "done" and finished == [True]
    result = view["result"]
    assert result["flows"] > 0 and result["errors"] == 0 and result["first_error"] is None
    # Every flow downloaded Tiny-LLM's whole bundle.
    assert result["bytes"] % result["flows"] == 0 and result["bytes"] // result["flows"] > WEIGHTS
    assert view["spec"] == {"models": 2, "clients": 2, "seconds": 1.0}


def test_run_on_registry_reports_its_phases(registry) -> None:  # type: ignore[no-untyped-def]
    token = login(registry.base)
    phases: list[tuple[str, int, int]] = []
    stats = run_on_registry(registry.base, token, models=1, clients=1, seconds=0.3,
                            progress=lambda *p: phases.append(p))  # fmt: skip
    assert stats.label == "registry" and stats.flows > 0 and stats.errors == 0
    assert phases[-1] == ("downloading", 0, 0)
    assert all(p[0] == "seeding" for p in phases[:-1])


def test_registering_with_a_bad_token_fails_with_the_status(registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match=r"^registering Tiny-LLM failed: 403 "):
        register_models(registry.base, "not-a-token", 2)


def test_seeding_as_a_user_who_may_not_upload_fails_with_the_status(registry) -> None:  # type: ignore[no-untyped-def]
    admin = {"X-Authorization": login(registry.base)}
    reader = {"name": "bench-reader", "password": "a-long-enough-password",
              "is_admin": False, "permissions": ["search", "download"]}  # fmt: skip
    r = httpx.post(f"{registry.base}/users", headers=admin, json=reader, timeout=30)
    assert r.status_code == 201, r.text
    auth = {"user": {"name": "bench-reader", "is_admin": False},
            "secret": {"password": "a-long-enough-password"}}  # fmt: skip
    token = str(httpx.put(f"{registry.base}/authenticate", json=auth, timeout=30).json())
    have = len(model_names(registry.base, token))
    with pytest.raises(
        RuntimeError, match=r"^registering (Tiny-LLM|bench-model-\d+) failed: 40[13] "
    ):
        seed_models(registry.base, token, have + 2)
