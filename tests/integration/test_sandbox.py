"""The reproducibility sandbox can succeed: card examples run against the model's own files,
staged as an offline Hugging Face cache, with the network blocked."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.unit.metrics.builders import model
from tmr.metrics import reproducibility
from tmr.metrics.inputs import RatingInput
from tmr.metrics.sandbox import SandboxConfig

CONFIG = b'{"model_type": "bert", "hidden_size": 8, "architectures": ["BertModel"]}'
SANDBOX = SandboxConfig(python=sys.executable, timeout_seconds=60)


def _card(code: str) -> str:
    return f"---\nlicense: mit\n---\n# Model\n\n## Usage\n\n```python\n{code}\n```\n"


def _rate(tmp_path: Path, code: str) -> reproducibility.MetricResult:
    config = tmp_path / "config.json"
    config.write_bytes(CONFIG)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\nhello\n")
    snap = model(
        card=_card(code),
        repo_id="acme/sandboxed",
        files={"config.json": len(CONFIG), "vocab.txt": 18, "model.safetensors": 10**6},
    )
    inp = RatingInput(
        snapshot=snap,
        name="sandboxed",
        sandbox=SANDBOX,
        local_files={"config.json": config, "vocab.txt": vocab},
    )
    return reproducibility.compute(inp)


LOADS = """import json
from huggingface_hub import hf_hub_download, snapshot_download
config = json.load(open(hf_hub_download("acme/sandboxed", "config.json")))
folder = snapshot_download("acme/sandboxed")
vocab = open(hf_hub_download(repo_id="acme/sandboxed", filename="vocab.txt")).read().split()
assert config["model_type"] == "bert" and "hello" in vocab, (config, vocab)
print("ok", folder)"""


def test_an_example_that_loads_the_models_small_files_scores_1(tmp_path: Path):
    result = _rate(tmp_path, LOADS)
    assert result.evidence["path"] == "sandbox", result.evidence
    assert result.score == 1.0, result.evidence["runs"]
    assert "config.json" in result.evidence["staged_files"]


def test_an_example_that_fails_scores_0(tmp_path: Path):
    failing = LOADS.replace('"config.json"))', '"no-such-file.json"))', 1)
    result = _rate(tmp_path, failing)
    assert result.evidence["path"] == "sandbox"
    assert result.score == 0.0
    assert result.evidence["runs"] and not any(r["ok"] for r in result.evidence["runs"])


def test_an_example_fixed_by_the_repair_rules_scores_half(tmp_path: Path):
    # hf_hub_download used without its import: the documented repair adds it
    unrepaired = LOADS.replace(
        "from huggingface_hub import hf_hub_download, snapshot_download\n",
        "from huggingface_hub import snapshot_download\n",
    )
    result = _rate(tmp_path, unrepaired)
    assert result.evidence["path"] == "sandbox"
    assert result.score == 0.5, result.evidence["runs"]
    variants = [(r["variant"], r["ok"]) for r in result.evidence["runs"]]
    assert ("unchanged", False) in variants and ("repaired", True) in variants


def test_the_network_stays_blocked(tmp_path: Path):
    code = (
        LOADS + "\nimport urllib.request\nurllib.request.urlopen('http://example.org', timeout=2)"
    )
    assert _rate(tmp_path, code).score == 0.0
