"""The reference experiment (REQUIREMENTS §1.7): a registry of 500 models, Tiny-LLM among them,
downloaded by 100 concurrent clients running the contract flow, with nginx serving the same bytes
in the same run as the baseline.

``run_workload`` runs the flow against a registry that is already up (the dashboard's button
calls it); ``experiment`` does everything: starts a registry in a temporary folder (pinned to one
core), registers the models by upload, starts Debian's nginx (``sendfile on``) on the same core
with the same bytes, and alternates the two sides, the load generator pinned to the other core.
``tmr bench downloads`` prints the figures and the ratios.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tmr.bench.loadgen import FlowStats, run_flows

ADMIN = {
    "user": {"name": "ece30861defaultadminuser", "is_admin": True},
    "secret": {"password": "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE artifacts;"},
}
# Tiny-LLM's files (arnir0/Tiny-LLM on the Hugging Face Hub): 17.4 MB in all.
TINY_LLM_FILES = {
    "model.safetensors": 15_023_624,
    "tokenizer.json": 1_842_767,
    "tokenizer.model": 499_723,
    ".gitattributes": 1_477,
    "tokenizer_config.json": 1_450,
    "special_tokens_map.json": 414,
    "config.json": 332,
    "README.md": 306,
    "generation_config.json": 119,
}


def tiny_llm_zip() -> bytes:
    """An upload laid out like Tiny-LLM, same names and sizes (weights incompressible)."""
    rng = __import__("random").Random(461)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, size in TINY_LLM_FILES.items():
            if name == "README.md":
                data = b"---\nlicense: mit\n---\n# Tiny-LLM\nA tiny language model.\n"
            elif name == "config.json":
                data = json.dumps({"model_type": "llama", "hidden_size": 192}).encode()
            elif name.endswith(".json"):
                words = [f'"tok{rng.randrange(50000)}": {i}' for i in range(size // 16 + 1)]
                data = ("{" + ", ".join(words) + "}").encode()
            else:
                data = rng.randbytes(size)
            zf.writestr(name, data[:size] if len(data) > size else data)
    return out.getvalue()


def small_model_zip(i: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.md", f"---\nlicense: apache-2.0\n---\n# model {i}\nA small model.\n")
        zf.writestr("config.json", json.dumps({"model_type": "bert", "layers": i % 12}))
        zf.writestr("model.safetensors", os.urandom(2048))
    return out.getvalue()


def login(base: str) -> str:
    r = httpx.put(f"{base}/authenticate", json=ADMIN, timeout=60)
    r.raise_for_status()
    return str(r.json())


def register_models(base: str, token: str, count: int, workers: int = 4) -> str:
    """Upload ``count`` models (the first is Tiny-LLM); return Tiny-LLM's id."""
    headers = {"X-Authorization": token}

    def upload(i: int) -> str:
        body = tiny_llm_zip() if i == 0 else small_model_zip(i)
        name = "Tiny-LLM" if i == 0 else f"bench-model-{i}"
        with httpx.Client(timeout=300) as c:
            r = c.post(
                f"{base}/artifact/model/upload",
                headers=headers,
                data={"name": name},
                files={"file": (f"{name}.zip", body, "application/zip")},
            )
        if r.status_code != 201:
            raise RuntimeError(f"registering {name} failed: {r.status_code} {r.text[:200]}")
        return str(r.json()["metadata"]["id"])

    tiny = upload(0)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(upload, range(1, count)))
    return tiny


def run_workload(
    base: str, token: str, artifact_id: str, clients: int = 100, seconds: float = 10.0,
    label: str = "registry",
) -> FlowStats:  # fmt: skip
    """The contract flow against a running registry: GET the artifact, then its download_url."""
    url = f"{base}/artifacts/model/{artifact_id}"
    return run_flows(label, lambda _: url, {"X-Authorization": token}, clients, seconds)


def model_names(base: str, token: str) -> list[str]:
    """The names of every model registered at ``base`` (the contract's enumeration, paged)."""
    names: list[str] = []
    offset: str | None = None
    with httpx.Client(timeout=120, headers={"X-Authorization": token}) as c:
        while True:
            r = c.post(f"{base}/artifacts", params={"offset": offset} if offset else None,
                       json=[{"name": "*", "types": ["model"]}])  # fmt: skip
            r.raise_for_status()
            names += [str(m["name"]) for m in r.json()]
            offset = r.headers.get("offset")
            if not offset:
                return names


def seed_models(
    base: str, token: str, count: int, progress: Callable[[int, int], None] | None = None,
    workers: int = 4,
) -> str:  # fmt: skip
    """Make the registry at ``base`` hold at least ``count`` models, Tiny-LLM among them, by
    uploading only what is missing (Tiny-LLM as ``register_models`` does, then small models);
    return the id of the model named Tiny-LLM. ``progress(done, missing)`` after each upload."""
    headers = {"X-Authorization": token}
    names = model_names(base, token)
    found = httpx.get(f"{base}/artifact/byName/Tiny-LLM", headers=headers, timeout=60)
    tiny_models = [a for a in found.json() if a.get("type") == "model"] if found.is_success else []
    missing = max(0, count - len(names) - (0 if tiny_models else 1))
    taken = set(names)
    fresh = (f"bench-model-{i}" for i in range(1, 10**9) if f"bench-model-{i}" not in taken)
    wanted = [next(fresh) for _ in range(missing)]
    total = missing + (0 if tiny_models else 1)
    done = 0

    def upload(name: str) -> str:
        nonlocal done
        body = tiny_llm_zip() if name == "Tiny-LLM" else small_model_zip(len(name))
        with httpx.Client(timeout=300) as c:
            r = c.post(f"{base}/artifact/model/upload", headers=headers, data={"name": name},
                       files={"file": (f"{name}.zip", body, "application/zip")})  # fmt: skip
        if r.status_code != 201:
            raise RuntimeError(f"registering {name} failed: {r.status_code} {r.text[:200]}")
        done += 1
        if progress:
            progress(done, total)
        return str(r.json()["metadata"]["id"])

    tiny = str(tiny_models[0]["id"]) if tiny_models else upload("Tiny-LLM")
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(upload, wanted))
    return tiny


def run_on_registry(
    base: str, token: str, models: int = 500, clients: int = 100, seconds: float = 10.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> FlowStats:  # fmt: skip
    """The reference experiment's registry side against a registry that is already up (the
    dashboard's workload button): seed it to ``models`` models if it has fewer, fetch
    Tiny-LLM's bundle once (materialising it, as ``experiment`` does), then ``run_workload``.
    ``progress(phase, done, total)``: ``seeding`` per upload, ``downloading`` once at the start."""
    tiny = seed_models(base, token, models,
                       (lambda d, t: progress("seeding", d, t)) if progress else None)  # fmt: skip
    meta = httpx.get(f"{base}/artifacts/model/{tiny}",
                     headers={"X-Authorization": token}, timeout=60).json()  # fmt: skip
    with httpx.stream("GET", meta["data"]["download_url"], timeout=300) as r:
        for _ in r.iter_bytes(1 << 20):
            pass
    if progress:
        progress("downloading", 0, int(seconds))
    return run_workload(base, token, tiny, clients, seconds)


# -- the servers of the experiment --------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pinned(command: list[str], cpu: int | None) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *command] if taskset and cpu is not None else command


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Side:
    """A server under test: its base URL and process id (for its CPU time)."""

    base: str
    pid: int


def measured(pid: int, run: Callable[[], FlowStats]) -> FlowStats:
    """``run()`` with the CPU seconds that ``pid``'s process tree spent meanwhile."""
    before = tree_cpu_seconds(pid)
    stats = run()
    stats.server_cpu = tree_cpu_seconds(pid) - before
    return stats


@contextmanager
def registry_server(
    data_dir: Path, cpu: int | None, server: str = "uvicorn", workers: int = 1, **env: str
) -> Iterator[Side]:
    """``tmr serve`` on loopback, pinned to ``cpu``; yields its base URL."""
    port = _free_port()
    full_env = {**os.environ, "TMR_DATA_DIR": str(data_dir), "LOG_LEVEL": "0",
                "TMR_TOKEN_MAX_CALLS": "1000000000", **env}  # fmt: skip
    command = [sys.executable, "-m", "tmr.cli", "serve", "--port", str(port),
               "--workers", str(workers), "--server", server]  # fmt: skip
    proc = subprocess.Popen(_pinned(command, cpu), env=full_env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/health", proc, "the registry")
        yield Side(base, proc.pid)
    finally:
        _stop(proc)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


NGINX_CONF = """
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    types {{ application/json json; application/zip zip; }}
    server {{
        listen 127.0.0.1:{port} backlog=2048;
        root {prefix}/www;
    }}
}}
"""


@contextmanager
def nginx_server(prefix: Path, cpu: int | None, files: dict[str, bytes]) -> Iterator[Side]:
    """Debian's nginx (``sendfile on``) serving ``files`` from ``prefix/www``; yields its base."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    port = _free_port()
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = prefix / "www" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.chmod(prefix, 0o755)
    user = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, user=user))
    command = [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    proc = subprocess.Popen(_pinned(command, cpu))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/", proc, "nginx")
        yield Side(base, proc.pid)
    finally:
        _stop(proc)


# -- the experiment -----------------------------------------------------------------------------


@dataclass
class Result:
    registry: FlowStats
    nginx: FlowStats | None
    models: int
    clients: int
    bundle_bytes: int

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "models": self.models,
            "clients": self.clients,
            "bundle_bytes": self.bundle_bytes,
            "registry": self.registry.summary(),
        }
        if self.nginx is not None:
            out["nginx"] = self.nginx.summary()
            out["throughput_ratio"] = round(self.registry.mb_per_s / self.nginx.mb_per_s, 3)
            out["p99_ratio"] = round(self.registry.pct(0.99) / self.nginx.pct(0.99), 3)
            reg_cpu = self.registry.summary()["server_cpu_s_per_gb"]
            ngx_cpu = self.nginx.summary()["server_cpu_s_per_gb"]
            if reg_cpu and ngx_cpu:
                out["cpu_per_gb_ratio"] = round(float(reg_cpu) / float(ngx_cpu), 2)
        return out


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and all its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(p, 0.0) for p in tree)


def _pin_self(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def experiment(
    models: int = 500, clients: int = 100, seconds: float = 10.0, rounds: int = 2,
    server: str = "uvicorn", nginx: bool = True, server_cpu: int | None = 0,
    client_cpu: int | None = 1, log: Any = print,
) -> Result:  # fmt: skip
    """Registry and nginx side by side, alternating ``rounds`` times, ``seconds`` each."""
    if (os.cpu_count() or 1) < 2:
        server_cpu = client_cpu = None
    with tempfile.TemporaryDirectory(prefix="tmr-bench-dl-") as raw:
        tmp = Path(raw)
        with registry_server(tmp / "registry", server_cpu, server) as reg:
            base = reg.base
            token = login(base)
            started = time.perf_counter()
            tiny = register_models(base, token, models)
            log(f"registered {models} models by upload in {time.perf_counter() - started:.1f} s")
            meta = httpx.get(f"{base}/artifacts/model/{tiny}",
                             headers={"X-Authorization": token}, timeout=60).json()  # fmt: skip
            bundle = httpx.get(meta["data"]["download_url"], timeout=300).content
            log(f"Tiny-LLM bundle: {len(bundle) / 1e6:.1f} MB (materialised on first download)")
            previous = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
            _pin_self(client_cpu)
            try:
                reg_total, ngx_total = FlowStats("registry"), FlowStats("nginx")
                with _maybe_nginx(tmp / "nginx", server_cpu, bundle, tiny, nginx) as ngx:

                    def on_registry(secs: float) -> FlowStats:
                        return measured(
                            reg.pid, lambda: run_workload(base, token, tiny, clients, secs)
                        )

                    def on_nginx(secs: float) -> FlowStats:
                        assert ngx is not None
                        url = ngx.base
                        return measured(
                            ngx.pid, lambda: run_flows("nginx", lambda _: url, {}, clients, secs)
                        )

                    on_registry(min(3.0, seconds))  # warm-up
                    if ngx:
                        on_nginx(min(3.0, seconds))
                    for r in range(rounds):
                        sides = ["registry", "nginx"] if r % 2 == 0 else ["nginx", "registry"]
                        for side in sides:
                            if side == "registry":
                                got = on_registry(seconds)
                                reg_total.merge(got)
                            elif ngx:
                                got = on_nginx(seconds)
                                ngx_total.merge(got)
                            else:
                                continue
                            log(f"  round {r + 1} {side}: {json.dumps(got.summary())}")
            finally:
                if previous is not None:
                    os.sched_setaffinity(0, previous)
    return Result(reg_total, ngx_total if nginx else None, models, clients, len(bundle))


@contextmanager
def _maybe_nginx(
    prefix: Path, cpu: int | None, bundle: bytes, tiny: str, wanted: bool
) -> Iterator[Side | None]:
    """nginx serving the same bundle bytes, and a metadata document at the same kind of path
    whose ``download_url`` points at nginx's copy (the same two-step flow); yields a Side whose
    base is the metadata document's URL."""
    if not wanted:
        yield None
        return
    prefix.mkdir(parents=True)
    files = {f"meta/{tiny}": b"{}", "b/Tiny-LLM.zip": bundle}
    with nginx_server(prefix, cpu, files) as side:
        link = f"{side.base}/b/Tiny-LLM.zip"
        doc = {"metadata": {"id": tiny, "name": "Tiny-LLM", "type": "model"},
               "data": {"url": "upload", "download_url": link}}  # fmt: skip
        (prefix / "www" / "meta" / tiny).write_text(json.dumps(doc))
        yield Side(f"{side.base}/meta/{tiny}", side.pid)


def format_result(result: Result) -> str:
    d = result.as_dict()
    lines = [
        f"download flow: {d['models']} models registered, {d['clients']} concurrent clients, "
        f"Tiny-LLM bundle {d['bundle_bytes'] / 1e6:.1f} MB",
    ]
    for side in ("registry", "nginx"):
        if side in d:
            s = d[side]
            lines.append(
                f"  {side:8s}: {s['mb_per_s']:8.1f} MB/s  {s['flows_per_s']:6.1f} flows/s  "
                f"mean {s['mean_ms']:.0f} ms  median {s['median_ms']:.0f} ms  "
                f"p99 {s['p99_ms']:.0f} ms  server CPU {s['server_cpu_s_per_gb']:.2f} s/GB  "
                f"load generator {s['client_cores']:.2f} cores  "
                f"({s['flows']} flows, {s['errors']} errors)"
            )
    if "throughput_ratio" in d:
        lines.append(
            f"  ratio registry/nginx: throughput {d['throughput_ratio']:.2f}x (target >= 0.9), "
            f"p99 {d['p99_ratio']:.2f}x (target <= 1.2), server CPU per GB "
            f"{d.get('cpu_per_gb_ratio', 0):.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tmr bench downloads", description=__doc__)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="uvicorn")
    parser.add_argument("--no-nginx", action="store_true", help="skip the nginx baseline")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    nginx = not args.no_nginx
    if nginx and nginx_binary() is None:
        print("nginx not found: running without the baseline (apt-get install nginx-light)",
              file=sys.stderr)  # fmt: skip
        nginx = False
    result = experiment(args.models, args.clients, args.seconds, args.rounds, args.server, nginx)
    print(json.dumps(result.as_dict()) if args.json else format_result(result))
    return 0
