"""The download benchmark's figures: per-side statistics, the registry/nginx ratios, the printed
report, the command line, and the helpers that start and measure the servers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tmr.bench import downloads as bench
from tmr.bench.downloads import (
    TINY_LLM_FILES,
    Result,
    _pinned,
    _wait_http,
    format_result,
    measured,
    small_model_zip,
    tiny_llm_zip,
    tree_cpu_seconds,
)
from tmr.bench.loadgen import FlowStats


def _stats(label: str, latencies: list[float], nbytes: int, seconds: float,
           server_cpu: float = 0.0, client_cpu: float = 0.0) -> FlowStats:  # fmt: skip
    return FlowStats(label, list(latencies), nbytes, 0, seconds, "", server_cpu, client_cpu)


def test_flow_stats_summary_figures() -> None:
    s = _stats("registry", [0.01 * i for i in range(1, 101)], 2_000_000_000, 4.0, 3.0, 2.0)
    assert s.flows == 100
    assert s.mb_per_s == 500.0 and s.flows_per_s == 25.0
    assert s.pct(0.5) == pytest.approx(0.51) and s.pct(0.99) == pytest.approx(1.0)
    assert s.summary() == {
        "label": "registry",
        "flows": 100,
        "errors": 0,
        "seconds": 4.0,
        "mb_per_s": 500.0,
        "flows_per_s": 25.0,
        "mean_ms": 505.0,
        "median_ms": 510.0,
        "p99_ms": 1000.0,
        "server_cpu_s_per_gb": 1.5,  # 3 CPU-s for 2 GB
        "client_cores": 0.5,
    }


def test_empty_flow_stats_report_zeros_not_errors() -> None:
    s = FlowStats("nginx")
    assert (s.mb_per_s, s.flows_per_s, s.pct(0.99), s.mean) == (0.0, 0.0, 0.0, 0.0)
    summary = s.summary()
    assert summary["server_cpu_s_per_gb"] == 0.0 and summary["client_cores"] == 0.0


def test_merge_adds_everything_and_keeps_the_first_error() -> None:
    a = FlowStats("registry", [0.1], 10, 1, 1.0, "", 0.5, 0.25)
    b = FlowStats("registry", [0.2, 0.3], 20, 2, 2.0, "HttpError: first", 1.0, 0.5)
    c = FlowStats("registry", [], 0, 1, 1.0, "OSError: later", 0.0, 0.0)
    a.merge(b)
    a.merge(c)
    assert a.latencies == [0.1, 0.2, 0.3] and a.bytes == 30 and a.errors == 4
    assert a.seconds == 4.0 and a.server_cpu == 1.5 and a.client_cpu == 0.75
    assert a.first_error == "HttpError: first"


def _result(with_nginx: bool, nginx_cpu: float = 1.0) -> Result:
    reg = _stats("registry", [0.1] * 99 + [0.5], 1_000_000_000, 10.0, 2.0, 3.0)
    ngx = _stats("nginx", [0.1] * 99 + [0.4], 1_250_000_000, 10.0, nginx_cpu, 4.0)
    return Result(reg, ngx if with_nginx else None, 500, 100, 17_400_000)


def test_result_ratios_compare_the_registry_with_nginx() -> None:
    d = _result(True).as_dict()
    assert d["models"] == 500 and d["clients"] == 100 and d["bundle_bytes"] == 17_400_000
    assert d["registry"]["mb_per_s"] == 100.0 and d["nginx"]["mb_per_s"] == 125.0
    assert d["throughput_ratio"] == 0.8
    assert d["p99_ratio"] == 1.25  # 500 ms against 400 ms
    assert d["cpu_per_gb_ratio"] == 2.5  # 2 s/GB against 0.8 s/GB


def test_result_without_nginx_cpu_has_no_cpu_ratio() -> None:
    d = _result(True, nginx_cpu=0.0).as_dict()
    assert "throughput_ratio" in d and "cpu_per_gb_ratio" not in d
    alone = _result(False).as_dict()
    assert set(alone) == {"models", "clients", "bundle_bytes", "registry"}


def test_format_result_prints_both_sides_and_the_targets() -> None:
    text = format_result(_result(True))
    lines = text.splitlines()
    assert lines[0] == (
        "download flow: 500 models registered, 100 concurrent clients, Tiny-LLM bundle 17.4 MB"
    )
    assert lines[1] == (
        "  registry:    100.0 MB/s    10.0 flows/s  mean 104 ms  median 100 ms  p99 500 ms  "
        "server CPU 2.00 s/GB  load generator 0.30 cores  (100 flows, 0 errors)"
    )
    assert lines[2].startswith("  nginx   :    125.0 MB/s")
    assert lines[3] == (
        "  ratio registry/nginx: throughput 0.80x (target >= 0.9), p99 1.25x (target <= 1.2), "
        "server CPU per GB 2.50x"
    )
    assert len(format_result(_result(False)).splitlines()) == 2  # no nginx line, no ratios


def test_main_falls_back_without_nginx_and_prints_the_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[object, ...]] = []

    def fake_experiment(*args: object) -> Result:
        calls.append(args)
        return _result(False)

    monkeypatch.setattr(bench, "nginx_binary", lambda: None)
    monkeypatch.setattr(bench, "experiment", fake_experiment)
    assert bench.main(["--models", "7", "--clients", "3", "--seconds", "1.5", "--rounds", "1"]) == 0
    assert calls == [(7, 3, 1.5, 1, "uvicorn", False)]
    out = capsys.readouterr()
    assert "nginx not found: running without the baseline" in out.err
    assert out.out == format_result(_result(False)) + "\n"

    assert bench.main(["--no-nginx", "--json", "--server", "granian"]) == 0
    assert calls[-1] == (500, 100, 10.0, 2, "granian", False)
    out = capsys.readouterr()
    assert json.loads(out.out) == _result(False).as_dict() and out.err == ""


def test_uploads_are_laid_out_like_tiny_llm() -> None:
    members = zipfile.ZipFile(io.BytesIO(tiny_llm_zip()))
    sizes = {i.filename: i.file_size for i in members.infolist()}
    assert set(sizes) == set(TINY_LLM_FILES)
    assert sizes["model.safetensors"] == TINY_LLM_FILES["model.safetensors"]
    assert json.loads(members.read("config.json"))["model_type"] == "llama"
    assert all(sizes[n] <= TINY_LLM_FILES[n] for n in sizes)
    small = zipfile.ZipFile(io.BytesIO(small_model_zip(3)))
    assert small.namelist() == ["README.md", "config.json", "model.safetensors"]
    assert b"# model 3" in small.read("README.md")


def test_pinned_prefixes_taskset_only_for_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert _pinned(["nginx"], 1) == ["/usr/bin/taskset", "-c", "1", "nginx"]
    assert _pinned(["nginx"], None) == ["nginx"]
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    assert _pinned(["nginx"], 0) == ["nginx"]


def test_measured_counts_the_cpu_of_the_servers_children() -> None:
    """The CPU a server's worker (a grandchild here) burns during the run is charged to it."""
    spin = ("import sys, time\nsys.stdin.readline()\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\nprint('done', flush=True)\n")  # fmt: skip
    launcher = (
        f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {spin!r}])\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", launcher], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert parent.stdin is not None and parent.stdout is not None

    def run() -> FlowStats:
        assert parent.stdin is not None and parent.stdout is not None
        parent.stdin.write(b"go\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == b"done\n"
        return FlowStats("registry", [0.1], 1000, 0, 1.0)

    try:
        time.sleep(0.5)  # the grandchild is waiting for its line by now (idle)
        stats = measured(parent.pid, run)
    finally:
        parent.kill()
        parent.wait()
        parent.stdin.close()
        parent.stdout.close()
    assert stats.flows == 1 and stats.bytes == 1000
    assert stats.server_cpu >= 0.25
    assert tree_cpu_seconds(2**22 + 12345) == 0.0  # no such process: nothing counted


def test_tree_cpu_seconds_sees_a_busy_child() -> None:
    spin = (
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"
        "time.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        deadline = time.time() + 15
        while tree_cpu_seconds(child.pid) < 0.3 and time.time() < deadline:
            time.sleep(0.1)
        assert tree_cpu_seconds(child.pid) >= 0.3
    finally:
        child.kill()
        child.wait()


def test_waiting_for_a_server_that_exits_or_never_answers() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    gone.wait()
    with pytest.raises(RuntimeError, match=r"^nginx exited with 3$"):
        _wait_http("http://127.0.0.1:9/", gone, "nginx")
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(RuntimeError, match=r"^the registry did not start$"):
            _wait_http("http://127.0.0.1:9/", silent, "the registry", timeout=0.5)
    finally:
        silent.kill()
        silent.wait()


def test_nginx_server_refuses_without_nginx(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bench, "nginx_binary", lambda: None)
    wanted = r"^nginx is not installed \(Debian: apt-get install nginx-light\)$"
    with pytest.raises(RuntimeError, match=wanted), bench.nginx_server(tmp_path, None, {}):
        pass


def test_stop_kills_a_server_that_ignores_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    ignore = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(60)\n"
    )
    stubborn = subprocess.Popen([sys.executable, "-c", ignore], stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    real_wait = stubborn.wait

    def short_wait(timeout: float | None = None) -> int:
        return real_wait(0.3 if timeout is not None else None)

    monkeypatch.setattr(stubborn, "wait", short_wait)
    bench._stop(stubborn)
    assert stubborn.returncode == -9
    stubborn.stdout.close()
