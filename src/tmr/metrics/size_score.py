"""size_score: how well the model's weights fit each target device.

Motivation: a model that does not fit in a device's memory, or leaves nothing for activations and
the rest of the application, cannot be deployed there whatever its quality.
Method: sum the real sizes of the weight files of one format. Repositories often carry the same
weights several times (``.safetensors``, ``.bin``, ``.h5``, ``.msgpack``, ``.onnx``, ``.ot``,
Core ML, GGUF); we count one format set only, preferring safetensors, then PyTorch, then the
largest remaining set (what a user actually downloads to run the model). Each device has a
comfortable budget for weights, well below its RAM because the OS, the runtime, activations and
the application share it: Raspberry Pi 500 MB, Jetson Nano 650 MB (4 GB shared with the GPU),
desktop PC 2 GB (a typical 8 GB-VRAM GPU with headroom), AWS server 16 GB. The score falls
quadratically with the share of the budget used: ``max(0, 1 - (size / budget)^2)`` (a model at
a third of the budget still scores 0.89; at the budget, 0).
Outcome: a score in [0, 1] per device; inconclusive (all 0) when no weight file is listed.
"""

from __future__ import annotations

from collections import defaultdict

from tmr.domain.rating import SIZE_DEVICES, MetricResult
from tmr.domain.snapshot import RepoFile
from tmr.metrics.inputs import RatingInput

NAME = "size_score"
MB = 1_000_000
BUDGET_MB = {"raspberry_pi": 500, "jetson_nano": 650, "desktop_pc": 2000, "aws_server": 16000}
# Weight formats, most preferred first: file suffix -> format name.
FORMATS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("safetensors", (".safetensors",)),
    ("pytorch", (".bin", ".pt", ".pth", ".ckpt")),
    ("gguf", (".gguf",)),
    ("tensorflow", (".h5", ".keras", ".tflite", ".pb")),
    ("flax", (".msgpack",)),
    ("onnx", (".onnx", ".onnx_data")),
    ("rust", (".ot",)),
    ("coreml", (".mlmodel", ".mlpackage")),
)
PREFERRED = ("safetensors", "pytorch")


def weight_format(file: RepoFile) -> str | None:
    path = file.path.lower()
    if "/.mlpackage" in path or ".mlpackage/" in path:
        return "coreml"
    if path.endswith("training_args.bin") or path.split("/")[-1].startswith("optimizer"):
        return None
    for name, suffixes in FORMATS:
        if path.endswith(suffixes):
            return name
    return None


def weight_sets(files: list[RepoFile]) -> dict[str, int]:
    sets: dict[str, int] = defaultdict(int)
    for file in files:
        fmt = weight_format(file)
        if fmt is not None:
            sets[fmt] += file.size
    return dict(sets)


def chosen_weights(files: list[RepoFile]) -> tuple[str | None, int, dict[str, int]]:
    sets = weight_sets(files)
    for fmt in PREFERRED:
        if sets.get(fmt):
            return fmt, sets[fmt], sets
    if not sets:
        return None, 0, sets
    fmt = max(sets, key=lambda k: sets[k])
    return fmt, sets[fmt], sets


def device_score(size_bytes: int, budget_mb: float) -> float:
    return max(0.0, 1.0 - (size_bytes / (budget_mb * MB)) ** 2)


def compute(inp: RatingInput) -> MetricResult:
    fmt, size, sets = chosen_weights(inp.snapshot.files)
    if fmt is None or size <= 0:
        return MetricResult(
            name=NAME,
            score={d: 0.0 for d in SIZE_DEVICES},
            inconclusive=True,
            summary="No weight file with a known size was found, so fit cannot be judged.",
            evidence={"weight_sets": sets},
        )
    scores = {d: round(device_score(size, BUDGET_MB[d]), 4) for d in SIZE_DEVICES}
    fits = [d for d in SIZE_DEVICES if scores[d] >= 0.5]
    return MetricResult(
        name=NAME,
        score=scores,
        summary=(
            f"{size / MB:.0f} MB of {fmt} weights fit "
            f"{', '.join(fits) if fits else 'no device'} comfortably."
        ),
        evidence={
            "format": fmt,
            "weight_bytes": size,
            "weight_sets": sets,
            "budgets_mb": BUDGET_MB,
        },
    )
