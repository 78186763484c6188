import shutil
import sys

import pytest

from tests.unit.metrics.builders import model, rate_input
from tmr.metrics import reproducibility
from tmr.metrics.sandbox import SandboxConfig, run_python


def card(*blocks: str) -> str:
    return "# M\n\n" + "\n\n".join(f"```python\n{b}\n```" for b in blocks)


RUNS = 'from transformers import pipeline\np = pipeline("fill-mask", model="acme/tiny-model")\n'
DOCTEST = (
    ">>> from transformers import pipeline\n"
    ">>> p = pipeline('x', model='tiny-model')\n>>> p('a')\n[{'score': 1}]"
)
MISSING_IMPORT = 'tok = AutoTokenizer.from_pretrained("acme/tiny-model")\nx = torch.ones(1)'
LOCAL_PATH = 'from transformers import AutoModel\nm = AutoModel.from_pretrained("./my_model")'
UNKNOWN_LIB = 'import secretlib\nm = secretlib.load("acme/tiny-model")'
UNDEFINED = "out = model.generate(inputs)"
OTHER_MODEL = 'from transformers import pipeline\np = pipeline("x", model="someone/else")'
LOCAL_FILE = RUNS + 'p("sample.wav")'
BROKEN = "def f(:\n  pass"


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ((RUNS,), 1.0),
        ((DOCTEST,), 1.0),
        ((MISSING_IMPORT,), 0.5),
        ((LOCAL_PATH,), 0.5),
        ((RUNS.replace("pipeline(", "pipeline("), 'q = p("hi")\nprint(q)'), 1.0),
        (('import torch\nm = torch.hub.load("acme/tiny-model")', "print(m(3))"), 1.0),
        (("!pip install transformers\n" + RUNS,), 0.5),
        ((UNKNOWN_LIB,), 0.0),
        ((UNDEFINED,), 0.0),
        ((OTHER_MODEL,), 0.0),
        ((LOCAL_FILE,), 0.0),
        ((BROKEN,), 0.0),
        ((BROKEN, MISSING_IMPORT, RUNS), 1.0),
    ],
    ids=[
        "runs",
        "doctest",
        "missing-import",
        "local-model-path",
        "two-blocks",
        "best-block",
        "notebook-shell",
        "unknown-library",
        "undefined-name",
        "other-model",
        "local-data-file",
        "syntax-error",
        "best-of-three",
    ],
)
def test_static_judgement(blocks, expected):
    result = reproducibility.compute(rate_input(model(card=card(*blocks))))
    assert result.score == expected, result.evidence
    assert result.evidence["path"] == "static"


def test_variable_from_earlier_block_is_a_repair():
    blocks = (RUNS, 'print(p("hello"))\nprint(q)')
    verdict = reproducibility.judge_block(
        1, blocks[1], [blocks[0]], {"acme/tiny-model"}, "acme/tiny-model"
    )
    assert verdict.score == 0.0  # q is undefined everywhere
    ok = reproducibility.judge_block(
        1, 'x = p("acme/tiny-model")', [RUNS], {"acme/tiny-model"}, "acme/tiny-model"
    )
    assert ok.score == 0.5 and "p = pipeline" in ok.repaired


def test_no_code_scores_zero():
    result = reproducibility.compute(rate_input(model(card="# M\n\nNo code.")))
    assert result.score == 0.0 and result.evidence["blocks"] == 0


SANDBOX = SandboxConfig(
    python=sys.executable, timeout_seconds=20, cpu_seconds=10, memory_bytes=1024**3
)


def test_sandbox_blocks_network_and_reports_failure():
    result = run_python("import socket\nsocket.create_connection(('127.0.0.1', 9))", SANDBOX)
    assert not result.ok
    assert "network access is disabled" in result.stderr


def test_sandbox_enforces_timeout():
    config = SandboxConfig(python=sys.executable, timeout_seconds=1, cpu_seconds=5)
    result = run_python("while True:\n    pass", config)
    assert result.timed_out and not result.ok


def test_sandbox_enforces_memory_limit():
    config = SandboxConfig(python=sys.executable, memory_bytes=256 * 1024**2)
    result = run_python("x = bytearray(1024 ** 3)", config)
    assert not result.ok and "MemoryError" in result.stderr


def test_sandbox_environment_has_no_secrets(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret-token")
    result = run_python(
        "import os\nprint(os.environ.get('HF_TOKEN'), os.environ['HF_HUB_OFFLINE'])", SANDBOX
    )
    assert result.ok and result.stdout.strip() == "None 1"


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX system")
def test_sandbox_path_runs_unchanged_then_repaired():
    ok_card = card('import json\nprint(json.dumps({"model": "acme/tiny-model"}))')
    inp = rate_input(model(card=ok_card))
    inp.sandbox = SANDBOX
    result = reproducibility.compute(inp)
    assert result.evidence["path"] == "sandbox" and result.score == 1.0
    repaired_card = card('print(json.dumps({"model": "acme/tiny-model"}))')
    inp = rate_input(model(card=repaired_card))
    inp.sandbox = SANDBOX
    result = reproducibility.compute(inp)
    assert result.score == 0.5
    assert [r["variant"] for r in result.evidence["runs"]] == ["unchanged", "repaired"]


def test_files_of_the_model_repository_are_not_local_files():
    block = (
        "from huggingface_hub import hf_hub_download\n"
        'path = hf_hub_download("acme/tiny-model", filename="weights/model.safetensors")\n'
    )
    snap = model(card=card(block), files={"weights/model.safetensors": 10})
    assert reproducibility.compute(rate_input(snap)).score == 1.0
    missing = model(card=card(block), files={"other.bin": 10})
    assert reproducibility.compute(rate_input(missing)).score == 0.0
