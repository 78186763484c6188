"""dataset_and_code_score: are the training data and the example/training code documented?

Motivation: a model whose training data and code are unknown cannot be audited, reproduced or
safely fine-tuned.
Method: half the score for data, half for code. Data: 0.5 when a dataset is linked and was
fetched (a Hugging Face dataset or a dataset page), 0.25 when the card only declares datasets
(``datasets:`` metadata, ``dataset:`` tags). Code: 0.5 when a GitHub repository is linked and was
fetched, 0.25 when the card only mentions a GitHub URL we could not read.
Outcome: 0, 0.25, 0.5, 0.75 or 1.
"""

from __future__ import annotations

import re
from typing import Any

from tmr.domain.rating import MetricResult
from tmr.metrics.inputs import RatingInput

NAME = "dataset_and_code_score"
_GITHUB = re.compile(r"github\.com/[\w.-]+/[\w.-]+", re.IGNORECASE)


def declared_datasets(inp: RatingInput) -> list[str]:
    hf = inp.snapshot.hf
    if hf is None:
        return []
    value: Any = hf.card_data.get("datasets") or []
    names = [value] if isinstance(value, str) else [str(v) for v in value]
    names += [t.split(":", 1)[1] for t in hf.tags if t.startswith("dataset:")]
    names += [u for u in inp.snapshot.linked_dataset_urls]
    return sorted(set(names))


def compute(inp: RatingInput) -> MetricResult:
    datasets = [s.url for s in inp.snapshot.linked_of("dataset")]
    code = [s.url for s in inp.snapshot.linked_of("code")]
    declared = declared_datasets(inp)
    mentioned = sorted(
        {m.group(0).lower() for m in _GITHUB.finditer(inp.snapshot.readme)}
        | set(inp.snapshot.linked_code_urls)
    )
    data_part = 0.5 if datasets else 0.25 if declared else 0.0
    code_part = 0.5 if code else 0.25 if mentioned else 0.0
    score = data_part + code_part
    data_txt = (
        f"{len(datasets)} linked dataset(s)"
        if datasets
        else f"datasets declared but not linked ({', '.join(declared[:3])})"
        if declared
        else "no training dataset"
    )
    code_txt = (
        f"{len(code)} linked code repositories"
        if code
        else "code mentioned but not linked"
        if mentioned
        else "no code"
    )
    return MetricResult(
        name=NAME,
        score=score,
        summary=f"{data_txt}; {code_txt}.",
        evidence={
            "linked_datasets": datasets,
            "declared_datasets": declared,
            "linked_code": code,
            "mentioned_code": mentioned[:10],
            "data_part": data_part,
            "code_part": code_part,
        },
    )
