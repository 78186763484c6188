"""The ``tmr`` command as installed: rate, ingest, audit-verify, and clear failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import backend_env

DATA = Path(__file__).resolve().parents[1] / "data"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tmr.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


def _env(tmp_path: Path, hf: str, gh: str) -> dict[str, str]:
    return {"HF_ENDPOINT": hf, "GITHUB_API_URL": gh, "TMR_ALLOW_PRIVATE_UPSTREAM": "1",
            "TMR_DATA_DIR": str(tmp_path / "cli"), "HF_HOME": str(tmp_path / "hf"),
            "LOG_LEVEL": "2", "LOG_FILE": str(tmp_path / "cli.log")}


def test_tmr_rate_prints_one_ndjson_record_per_model(tmp_path, hf_replay, github_replay):
    done = _run(["rate", str(DATA / "course_reference_urls.txt")],
                _env(tmp_path, hf_replay, github_replay))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["name"] for r in records] == ["bert-base-uncased", "audience_classifier_model",
                                            "whisper-tiny"]
    for record in records:
        assert record["category"] == "MODEL"
        assert all(isinstance(v, int) for k, v in record.items() if k.endswith("_latency"))
    assert (tmp_path / "cli.log").read_text()  # LOG_FILE honoured


def test_tmr_rate_fails_with_exit_1_and_a_message(tmp_path, hf_replay, github_replay):
    urls = tmp_path / "urls.txt"
    urls.write_text(",,https://huggingface.co/nobody/no-such-model\n")
    done = _run(["rate", str(urls)], _env(tmp_path, hf_replay, github_replay))
    assert done.returncode == 1
    assert "no-such-model" in done.stderr
    missing = _run(["rate", str(tmp_path / "absent.txt")], _env(tmp_path, hf_replay,
                                                                 github_replay))
    assert missing.returncode == 1 and "absent.txt" in missing.stderr


def test_tmr_ingest_then_audit_verify(tmp_path, hf_replay, github_replay, storage):
    env = {**_env(tmp_path, hf_replay, github_replay), "TMR_INGEST_GATE": "off",
           **backend_env(storage, data_dir=False)}
    done = _run(["ingest", "https://huggingface.co/microsoft/resnet-50", "--name", "r50"], env)
    assert done.returncode == 0, done.stderr
    artifact_id, type_, name = done.stdout.strip().split("\t")
    assert type_ == "model" and name == "r50" and artifact_id.isdigit()
    verified = _run(["audit-verify"], env)
    assert verified.returncode == 0 and "intact" in verified.stdout
