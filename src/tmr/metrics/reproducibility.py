"""reproducibility: can the model be run with only the example code in its card?

Motivation: an example that does not run costs every new user the same hour of repairs, and a
card without one leaves them guessing.
Method: take the card's Python code blocks (doctest prompts are unwrapped, not held against the
card). By default judge each block statically: it must parse; import only the standard library
or well-known ML libraries; use no name it does not define; refer to this model (its hub id or
name); and read no local file. Problems an automatic repair fixes (a missing import of a
well-known name, a variable defined in an earlier block of the card, a local model path instead
of the hub id, notebook shell lines) make the block "runs after repair"; files the model
repository itself provides do not count as local files. When a sandbox interpreter is
configured the candidate blocks are executed instead (``tmr.metrics.sandbox``: no network, CPU,
memory and time limits), first unchanged, then repaired. The best block counts.
Outcome: 1 runs unchanged, 0.5 runs after automatic repair, 0 no code or it does not run. The
evidence says which path (static or sandbox) was taken and what each block needed.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tmr.domain.rating import MetricResult
from tmr.metrics import _card
from tmr.metrics.inputs import RatingInput
from tmr.metrics.sandbox import SandboxConfig, StagedRepo, run_python

NAME = "reproducibility"
MAX_SANDBOX_BLOCKS = 3
KNOWN_MODULES = frozenset(
    {
        "transformers",
        "torch",
        "torchvision",
        "torchaudio",
        "tensorflow",
        "tf_keras",
        "keras",
        "jax",
        "flax",
        "optax",
        "numpy",
        "scipy",
        "pandas",
        "sklearn",
        "datasets",
        "evaluate",
        "huggingface_hub",
        "tokenizers",
        "sentence_transformers",
        "diffusers",
        "accelerate",
        "peft",
        "safetensors",
        "timm",
        "PIL",
        "cv2",
        "requests",
        "soundfile",
        "librosa",
        "jiwer",
        "onnxruntime",
        "optimum",
        "bitsandbytes",
        "matplotlib",
        "tqdm",
        "open_clip",
        "lerobot",
        "gradio",
        "einops",
        "nltk",
        "spacy",
        "sentencepiece",
        "yaml",
        "ultralytics",
        "llama_cpp",
        "vllm",
        "trl",
        "mlx",
        "mlx_lm",
        "av",
        "decord",
        "tiktoken",
        "whisper",
        "gymnasium",
        "gym",
        "IPython",
        "skimage",
        "imageio",
        "pydub",
        "seaborn",
        "xformers",
        "flash_attn",
        "einx",
    }
)
STDLIB = frozenset(sys.stdlib_module_names)
BUILTINS = frozenset(dir(builtins)) | {"__file__", "__name__", "display", "get_ipython"}
REPAIR_IMPORTS = {
    "torch": "import torch",
    "np": "import numpy as np",
    "numpy": "import numpy",
    "pd": "import pandas as pd",
    "plt": "import matplotlib.pyplot as plt",
    "tf": "import tensorflow as tf",
    "nn": "from torch import nn",
    "F": "import torch.nn.functional as F",
    "Image": "from PIL import Image",
    "requests": "import requests",
    "load_dataset": "from datasets import load_dataset",
    "pipeline": "from transformers import pipeline",
    "SentenceTransformer": "from sentence_transformers import SentenceTransformer",
    "hf_hub_download": "from huggingface_hub import hf_hub_download",
}
_TRANSFORMERS_NAME = re.compile(
    r"^(Auto\w+|\w+(For\w+|Tokenizer(Fast)?|Processor|FeatureExtractor|ImageProcessor|Model|"
    r"Config))$"
)
_LOCAL_PATH = re.compile(r"^(\.{0,2}/|~/|[A-Za-z]:\\)|^(path/to|your[_-]|my[_-])", re.IGNORECASE)
_FILE_EXT = re.compile(
    r"\.(wav|mp3|flac|jpe?g|png|gif|bmp|mp4|txt|csv|jsonl?|parquet|pdf|npy|"
    r"pt|pth|bin|safetensors|ckpt|h5)$",
    re.IGNORECASE,
)
_LOADERS = (
    "from_pretrained",
    "pipeline",
    "SentenceTransformer",
    "load",
    "hf_hub_download",
    "snapshot_download",
    "create_model",
    "load_model",
)


@dataclass
class BlockJudgement:
    index: int
    score: float
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    code: str = ""
    repaired: str = ""


def python_blocks(card: str) -> list[str]:
    blocks = []
    for lang, code in _card.code_blocks(card):
        if lang in {"python", "py", "python3", "pycon", "ipython"}:
            blocks.append(unwrap_doctest(code))
    return [b for b in blocks if b.strip()]


def unwrap_doctest(code: str) -> str:
    lines = code.splitlines()
    if not any(ln.lstrip().startswith(">>>") for ln in lines):
        return code
    kept = [
        re.sub(r"^\s*(>>>|\.\.\.) ?", "", ln)
        for ln in lines
        if re.match(r"^\s*(>>>|\.\.\.)( |$)", ln)
    ]
    return "\n".join(kept)


class _Names(ast.NodeVisitor):
    def __init__(self) -> None:
        self.defined: set[str] = set()
        self.used: set[str] = set()
        self.imports: set[str] = set()
        self.strings: list[tuple[str, str | None]] = []  # (value, enclosing call name)
        self._call: list[str | None] = []

    def visit_Name(self, node: ast.Name) -> None:
        (self.used if isinstance(node.ctx, ast.Load) else self.defined).add(node.id)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.add(alias.name.split(".")[0])
            self.defined.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.imports.add(node.module.split(".")[0])
        else:
            self.imports.add(".")
        for alias in node.names:
            self.defined.add(alias.asname or alias.name)

    def _define(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.defined.add(node.name)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _define

    def visit_arg(self, node: ast.arg) -> None:
        self.defined.add(node.arg)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.defined.add(node.name)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        self._call.append(name)
        self.generic_visit(node)
        self._call.pop()

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.strings.append((node.value, self._call[-1] if self._call else None))


def _model_refs(repo_id: str, name: str) -> set[str]:
    refs = {repo_id.lower(), repo_id.split("/")[-1].lower(), name.lower()}
    return {r for r in refs if r}


def judge_block(
    index: int,
    code: str,
    earlier: list[str],
    refs: set[str],
    repo_id: str,
    repo_files: frozenset[str] = frozenset(),
) -> BlockJudgement:
    """Static verdict on one block; ``repo_files`` are paths the model repository provides."""
    verdict = BlockJudgement(index, 1.0, code=code)
    body = code
    shell = [ln for ln in body.splitlines() if re.match(r"^\s*[!%]", ln)]
    if shell:
        body = "\n".join(ln for ln in body.splitlines() if ln not in shell)
        verdict.repairs.append("removed notebook shell lines")
    try:
        tree = ast.parse(body)
    except SyntaxError as exc:
        return BlockJudgement(
            index, 0.0, [f"does not parse: {exc.msg} (line {exc.lineno})"], code=code
        )
    names = _Names()
    names.visit(tree)
    unknown = sorted(m for m in names.imports if m not in STDLIB and m not in KNOWN_MODULES)
    if unknown:
        verdict.problems.append(f"imports modules we cannot resolve: {', '.join(unknown)}")
    prelude: list[str] = []
    missing = sorted(names.used - names.defined - BUILTINS)
    earlier_defs = _defined_in(earlier)
    for name in missing:
        if name in REPAIR_IMPORTS:
            prelude.append(REPAIR_IMPORTS[name])
        elif _TRANSFORMERS_NAME.match(name):
            prelude.append(f"from transformers import {name}")
        elif name in STDLIB:
            prelude.append(f"import {name}")
        elif name in earlier_defs:
            prelude.append(f"# {name}: defined in an earlier block of the card")
        else:
            verdict.problems.append(f"uses undefined name '{name}'")
    if prelude:
        verdict.repairs.append(f"added {len(prelude)} missing definition(s)")
        if any(p.startswith("#") for p in prelude):
            prelude = [p for p in prelude if not p.startswith("#")] + ["\n".join(earlier)]
    refs_found = any(
        s.lower().strip() in refs or repo_id.lower() in s.lower() for s, _ in names.strings
    )
    local_model = [
        s
        for s, call in names.strings
        if call in _LOADERS and (_LOCAL_PATH.search(s) or s.startswith("."))
    ]
    local_files = [
        s
        for s, _ in names.strings
        if _FILE_EXT.search(s.strip())
        and not s.startswith(("http://", "https://"))
        and " " not in s.strip()
        and s.strip() not in repo_files
        and s.strip().rsplit("/", 1)[-1] not in repo_files
    ]
    if local_model:
        verdict.repairs.append(f"replaced local model path(s) {local_model[:2]} by the hub id")
        for path in local_model:
            body = body.replace(repr(path), repr(repo_id)).replace(f'"{path}"', repr(repo_id))
    elif not refs_found:
        verdict.problems.append("does not load this model (no reference to its id)")
    if local_files:
        verdict.problems.append(f"reads local file(s) the card does not provide: {local_files[:3]}")
    verdict.repaired = "\n".join(prelude + [body])
    if verdict.problems:
        verdict.score = 0.0
    elif verdict.repairs:
        verdict.score = 0.5
    return verdict


def _defined_in(blocks: list[str]) -> set[str]:
    names = _Names()
    for block in blocks:
        try:
            names.visit(ast.parse(block))
        except SyntaxError:
            continue
    return names.defined


def compute(inp: RatingInput) -> MetricResult:
    hf = inp.snapshot.hf
    repo_id = hf.repo_id if hf else inp.name
    blocks = python_blocks(inp.snapshot.readme)
    if not blocks:
        return MetricResult(
            name=NAME,
            score=0.0,
            summary="The card has no Python example code.",
            evidence={"path": "static", "blocks": 0},
        )
    refs = _model_refs(repo_id, inp.name)
    files = frozenset(f.path for f in inp.snapshot.files)
    files |= frozenset(p.rsplit("/", 1)[-1] for p in files)
    verdicts = [judge_block(i, b, blocks[:i], refs, repo_id, files) for i, b in enumerate(blocks)]
    if inp.sandbox is not None:
        return _run_in_sandbox(verdicts, inp.sandbox, _staged_repo(inp, repo_id))
    best = max(verdicts, key=lambda v: v.score)
    outcome = {1.0: "runs unchanged", 0.5: "runs after automatic repair", 0.0: "would not run"}
    return MetricResult(
        name=NAME,
        score=best.score,
        summary=(
            f"Static check of {len(blocks)} Python block(s): the best (block {best.index + 1})"
            f" {outcome[best.score]}"
            + (f" ({'; '.join(best.problems or best.repairs)})." if best.score < 1 else ".")
        ),
        evidence={
            "path": "static",
            "blocks": len(blocks),
            "best_block": best.index,
            "judgements": [
                {"block": v.index, "score": v.score, "problems": v.problems, "repairs": v.repairs}
                for v in verdicts
            ],
        },
    )


def _staged_repo(inp: RatingInput, repo_id: str) -> StagedRepo:
    """The model's files the registry holds locally (and what the fetch read), as a cache."""
    files: dict[str, Path | bytes] = dict(inp.snapshot.staged)
    files.update(inp.local_files)
    hf = inp.snapshot.hf
    sha = hf.sha if hf is not None and hf.sha and re.fullmatch(r"[0-9a-f]{40}", hf.sha) else None
    revision = sha or hashlib.sha1(repo_id.encode()).hexdigest()  # noqa: S324 (a cache key)
    names = [repo_id, inp.name, repo_id.rsplit("/", 1)[-1]]
    return StagedRepo(tuple(n for n in names if n), files, revision)


def _missing_module(code: str, config: SandboxConfig) -> str | None:
    """A top-level module the code imports that this interpreter lacks (checked only when the
    sandbox is this interpreter): such a block cannot run, so it is not started."""
    if config.python != sys.executable:
        return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            top = name.split(".", 1)[0]
            if importlib.util.find_spec(top) is None:
                return top
    return None


def _run_in_sandbox(
    verdicts: list[BlockJudgement], config: SandboxConfig, staged: StagedRepo
) -> MetricResult:
    candidates = sorted(verdicts, key=lambda v: -v.score)[:MAX_SANDBOX_BLOCKS]
    runs: list[dict[str, object]] = []
    score = 0.0
    for verdict in candidates:
        for variant, code, value in (
            ("unchanged", verdict.code, 1.0),
            ("repaired", verdict.repaired, 0.5),
        ):
            if value <= score or (variant == "repaired" and verdict.repaired == verdict.code):
                continue
            missing = _missing_module(code, config)
            if missing is not None:
                runs.append(
                    {
                        "block": verdict.index,
                        "variant": variant,
                        "ok": False,
                        "not_started": f"module {missing!r} is not installed in the sandbox",
                    }
                )
                continue
            result = run_python(code, config, staged)
            runs.append(
                {
                    "block": verdict.index,
                    "variant": variant,
                    "ok": result.ok,
                    "returncode": result.returncode,
                    "timed_out": result.timed_out,
                    "seconds": round(result.seconds, 3),
                    "stderr_tail": result.stderr[-500:],
                }
            )
            if result.ok:
                score = max(score, value)
                break
        if score == 1.0:
            break
    outcome = {1.0: "ran unchanged", 0.5: "ran after automatic repair", 0.0: "did not run"}
    return MetricResult(
        name=NAME,
        score=score,
        summary=(
            "Sandboxed run of the card's example code (no network, the model's own files in an "
            f"offline Hugging Face cache): the best block {outcome[score]}."
        ),
        evidence={
            "path": "sandbox",
            "python": config.python,
            "staged_files": sorted(staged.files)[:50],
            "runs": runs,
        },
    )
