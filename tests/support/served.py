"""`tmr serve` in its own process against the upstream replays, for the browser tests and the
Lighthouse script; plus a helper seeding a few artifacts over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN, ADMIN_PASSWORD, free_port

__all__ = ["ADMIN", "ADMIN_PASSWORD", "admin_token", "served_registry"]


@contextmanager
def served_registry(data_dir: Path, hf: str, github: str, **env: str) -> Iterator[str]:
    port = free_port()
    full_env = {
        **os.environ,
        "TMR_DATA_DIR": str(data_dir),
        "HF_ENDPOINT": hf,
        "GITHUB_API_URL": github,
        "TMR_ALLOW_PRIVATE_UPSTREAM": "1",
        "TMR_INGEST_GATE": "off",
        "LOG_LEVEL": "1",
        "LOG_FILE": str(data_dir / "tmr.log"),
        "HF_HOME": str(data_dir / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        **env,
    }
    for var in ("TMR_DATABASE_URL", "TMR_BLOB_URL", "TMR_PUBLIC_URL", "HF_TOKEN", "GITHUB_TOKEN"):
        if var not in env:
            full_env.pop(var, None)
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tmr.cli", "serve", "--port", str(port)], env=full_env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("tmr serve exited")
            if time.time() > deadline:
                raise RuntimeError("tmr serve did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()  # a clean exit: coverage of the served process is written
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def admin_token(base: str) -> str:
    r = httpx.put(
        f"{base}/authenticate",
        json={"user": {"name": ADMIN, "is_admin": True}, "secret": {"password": ADMIN_PASSWORD}},
        timeout=30,
    )
    r.raise_for_status()
    return str(r.json())


SEED = [
    ("model", "https://huggingface.co/google-bert/bert-base-uncased", None),
    ("model", "https://huggingface.co/arnir0/Tiny-LLM", None),
    ("model", "https://huggingface.co/crangana/trained-gender", None),
    ("model", "https://huggingface.co/microsoft/resnet-50", None),
    ("model", "https://huggingface.co/onnx-community/trained-gender-ONNX", None),
    ("dataset", "https://huggingface.co/datasets/rajpurkar/squad", None),
    ("code", "https://github.com/google-research/bert", None),
]


def seed(base: str, token: str, items: list[tuple[str, str, str | None]] = SEED) -> dict[str, dict]:
    made: dict[str, dict] = {}
    with httpx.Client(base_url=base, timeout=120, headers={"X-Authorization": token}) as c:
        for type_, url, name in items:
            body = {"url": url, **({"name": name} if name else {})}
            r = c.post(f"/artifact/{type_}", json=body)
            r.raise_for_status()
            made[r.json()["metadata"]["name"]] = r.json()
    return made
