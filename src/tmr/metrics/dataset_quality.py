"""dataset_quality: how well the linked training datasets are documented, and how much used.

Motivation: a model inherits the flaws of its data; a dataset with no description, license,
splits or stated limitations cannot be vetted.
Method: for each linked dataset, credit a description (0.25), size information (size category,
number of examples or data files: 0.15), a license (0.15, half for 'unknown'/'other'), splits or
configurations (0.15), provenance (homepage, paper or source datasets: 0.10), a section on
limitations, biases or considerations (0.10) and popularity (0.10: downloads on a log scale, full
at 10,000, plus likes). A dataset known only by a web page (Kaggle…) gets at most its
description. The best linked dataset counts (a model is as well documented as its main data).
Outcome: a score in [0, 1]; 0 and inconclusive when no dataset is linked.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tmr.domain.rating import MetricResult
from tmr.domain.snapshot import HfRepo, Snapshot
from tmr.metrics import _card
from tmr.metrics.inputs import RatingInput

NAME = "dataset_quality"
WEIGHTS = {
    "description": 0.25,
    "size": 0.15,
    "license": 0.15,
    "splits": 0.15,
    "provenance": 0.10,
    "limitations": 0.10,
    "popularity": 0.10,
}
DATA_EXT = (
    ".parquet",
    ".arrow",
    ".csv",
    ".json",
    ".jsonl",
    ".tar",
    ".zip",
    ".gz",
    ".txt",
    ".tsv",
    ".h5",
    ".npz",
    ".tfrecord",
    ".mp4",
    ".wav",
    ".flac",
    ".png",
    ".jpg",
)


def _hf_credits(hf: HfRepo) -> dict[str, float]:
    card, data = hf.card_text, hf.card_data
    secs = _card.sections(card)
    info: Any = data.get("dataset_info") or {}
    infos = info if isinstance(info, list) else [info]
    splits = [s for i in infos if isinstance(i, dict) for s in i.get("splits") or []]
    license_value: Any = data.get("license") or hf.license
    if isinstance(license_value, list):
        license_value = license_value[0] if license_value else None
    lic = str(license_value or "").lower()
    downloads_part = min(1.0, math.log10(1 + hf.downloads) / 4)
    return {
        "description": float(
            _card.find_section(secs, r"summary|description|overview") is not None
            or _card.substantive(_card.intro(card), 200)
        ),
        "size": float(
            bool(
                data.get("size_categories")
                or splits
                or any(f.path.lower().endswith(DATA_EXT) for f in hf.files)
            )
        ),
        "license": 0.0 if not lic else 0.5 if lic in {"unknown", "other"} else 1.0,
        "splits": float(
            bool(
                splits
                or data.get("configs")
                or _card.find_section(secs, r"split|data fields|structure")
            )
        ),
        "provenance": float(
            bool(
                data.get("source_datasets")
                or data.get("paperswithcode_id")
                or re.search(r"homepage|paper|arxiv", card, re.IGNORECASE)
            )
        ),
        "limitations": float(
            _card.find_section(secs, r"limitation|bias|consideration|social impact|caveat")
            is not None
        ),
        "popularity": min(1.0, 0.8 * downloads_part + 0.2 * min(1.0, hf.likes / 50)),
    }


def dataset_score(snap: Snapshot) -> tuple[float, dict[str, float]]:
    if snap.hf is not None:
        credits = _hf_credits(snap.hf)
    else:
        page = snap.page
        described = bool(page and (page.description or "").strip())
        credits = {k: 0.0 for k in WEIGHTS} | {"description": float(described)}
    return sum(WEIGHTS[k] * v for k, v in credits.items()), credits


def compute(inp: RatingInput) -> MetricResult:
    datasets = inp.snapshot.linked_of("dataset")
    if not datasets:
        return MetricResult(
            name=NAME,
            score=0.0,
            inconclusive=True,
            summary="No training dataset is linked, so its quality is unknown.",
            evidence={"datasets": []},
        )
    scored = sorted(((dataset_score(s), s.url) for s in datasets), key=lambda x: -x[0][0])
    (best, credits), url = scored[0]
    missing = [k for k, v in credits.items() if v < 0.5]
    return MetricResult(
        name=NAME,
        score=round(min(1.0, best), 4),
        summary=(
            f"Best linked dataset {url} scores {best:.2f}"
            + (f"; it lacks {', '.join(missing)}." if missing else ".")
        ),
        evidence={
            "datasets": {u: round(s, 4) for (s, _), u in scored},
            "best": url,
            "credits": credits,
        },
    )
