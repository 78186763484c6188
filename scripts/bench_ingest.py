"""Benchmark of ingestion (issue "Ingestion over the real Hugging Face and GitHub protocols").

Starts the Hugging Face Hub and GitHub replays on loopback (the test suite's servers, replaying
recorded upstream data), then registers models through the API:
  1. the grading client's 30 artifacts (13 models, 7 datasets, 10 code), timed as a whole;
  2. 500 model registrations (cycling over the 29 recorded models), printing the total time
     and the per-registration p50 and p99.

Run: .venv/bin/python scripts/bench_ingest.py [--count 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchutil import percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()

    import json

    from fastapi.testclient import TestClient

    from tests.conftest import login
    from tests.e2e.test_grading_flow import CODE, DATASETS, MODELS
    from tests.replay.github_api import GitHubReplay
    from tests.replay.hf_hub import HfHubReplay
    from tmr.app import create_app
    from tmr.config import load_settings

    manifest = json.loads((ROOT / "tests/data/upstream/manifest.json").read_text())
    models = [
        f"https://huggingface.co/{r['id']}" for r in manifest["repos"] if r["kind"] == "hf-model"
    ]
    data = ROOT / "tests" / "data" / "upstream"
    hf, gh = HfHubReplay(data), GitHubReplay(data)
    hf.start()
    gh.start()
    try:
        with tempfile.TemporaryDirectory(prefix="tmr-ingest-") as raw:
            settings = load_settings(
                data_dir=Path(raw),
                log_level=0,
                ingest_gate="off",
                hf_endpoint=hf.url,
                github_api_url=gh.url,
                allow_private_upstream=True,
                token_max_calls=10**9,
            )
            with TestClient(create_app(settings)) as client:
                auth = {"X-Authorization": login(client)}
                started = time.perf_counter()
                for type_, table in (("model", MODELS), ("dataset", DATASETS), ("code", CODE)):
                    for name, url in table.items():
                        r = client.post(
                            f"/artifact/{type_}", headers=auth, json={"url": url, "name": name}
                        )
                        assert r.status_code == 201, r.text
                grading = time.perf_counter() - started
                print(
                    f"grading set: 30 registrations (13 models, 7 datasets, 10 code) in "
                    f"{grading:.2f} s"
                )
                latencies = []
                started = time.perf_counter()
                for i in range(args.count):
                    t = time.perf_counter()
                    r = client.post(
                        "/artifact/model", headers=auth, json={"url": models[i % len(models)]}
                    )
                    latencies.append(time.perf_counter() - t)
                    assert r.status_code == 201, r.text
                total = time.perf_counter() - started
            p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
            print(
                f"{args.count} model registrations: total {total:.1f} s, "
                f"{args.count / total:.1f} per second, p50 {p50:.0f} ms, p99 {p99:.0f} ms"
            )
    finally:
        hf.stop()
        gh.stop()


if __name__ == "__main__":
    main()
