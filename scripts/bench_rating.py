"""Benchmark rating from stored snapshots (no network): one model, then a grading-style set.

    .venv/bin/python scripts/bench_rating.py [--runs 50]

1. Rates google-bert/bert-base-uncased (with google-research/bert and bookcorpus linked) ``--runs``
   times and prints p50/p95/max (goal: well under 0.5 s).
2. Builds a grading-style set of 30 artifacts from tests/data/upstream (13 models, 7 datasets and
   10 code repositories, the datasets and code linked to the models the way the sources link
   them), then rates the 13 models one after another and all at once (14 concurrent rating
   calls is what the grading client sends).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.fixture_snapshots import load_url, model_snapshot  # noqa: E402
from tmr.domain.snapshot import Snapshot  # noqa: E402
from tmr.metrics.runner import RatingInput, rate_model  # noqa: E402

MODELS = (
    "google-bert/bert-base-uncased",
    "openai/whisper-tiny",
    "parvk11/audience_classifier_model",
    "distilbert/distilbert-base-uncased-distilled-squad",
    "facebook/bart-large",
    "google/gemma-3-270m",
    "microsoft/DialoGPT-small",
    "sentence-transformers/all-MiniLM-L6-v2",
    "caidas/swin2SR-lightweight-x2-64",
    "vikhyatk/moondream2",
    "microsoft/git-base",
    "patrickjohncyh/fashion-clip",
    "lerobot/diffusion_pusht",
)
DATASETS = (
    "bookcorpus/bookcorpus",
    "rajpurkar/squad",
    "lerobot/pusht",
    "ILSVRC/imagenet-1k",
    "HuggingFaceM4/FairFace",
)
CODE = (
    "google-research/bert",
    "openai/whisper",
    "huggingface/transformers",
    "mv-lab/swin2sr",
    "vikhyat/moondream",
    "microsoft/git",
    "patrickjohncyh/fashion-clip",
    "huggingface/lerobot",
    "KaimingHe/deep-residual-networks",
    "zalandoresearch/fashion-mnist",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def grading_set() -> tuple[list[Snapshot], int]:
    models = [model_snapshot(m) for m in MODELS]
    extra = [load_url(f"https://huggingface.co/datasets/{d}") for d in DATASETS]
    extra += [load_url(f"https://github.com/{c}") for c in CODE]
    linked = {s.url for m in models for s in m.linked}
    # Artifacts registered on their own are linked to the model whose card or line names them.
    for snap in extra:
        if snap is not None and snap.url not in linked:
            models[len(linked) % len(models)].linked.append(snap)
            linked.add(snap.url)
    artifacts = len(models) + len({u for m in models for u in (s.url for s in m.linked)})
    return models, artifacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    bert = model_snapshot(
        "google-bert/bert-base-uncased",
        ("https://github.com/google-research/bert",),
        ("https://huggingface.co/datasets/bookcorpus/bookcorpus",),
    )
    rate_model(RatingInput(snapshot=bert, name="warm-up"))
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        rate_model(RatingInput(snapshot=bert, name="bert-base-uncased"))
        times.append(time.perf_counter() - start)
    print(
        f"one model (bert-base-uncased), {args.runs} runs: "
        f"p50 {statistics.median(times) * 1000:.1f} ms, p95 {percentile(times, 0.95) * 1000:.1f}"
        f" ms, max {max(times) * 1000:.1f} ms"
    )

    models, artifacts = grading_set()
    start = time.perf_counter()
    for snap in models:
        rate_model(RatingInput(snapshot=snap, name=snap.url.rsplit("/", 1)[-1]))
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=14) as pool:
        list(pool.map(lambda s: rate_model(RatingInput(snapshot=s, name=s.url)), models))
    concurrent = time.perf_counter() - start
    print(
        f"grading-style set: {artifacts} artifacts ({len(models)} models rated): "
        f"sequential {sequential * 1000:.0f} ms, 14 concurrent {concurrent * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
