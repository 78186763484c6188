"""performance_claims: is there evidence for the performance the model claims?

Motivation: a number in a model card is only useful when it says what was measured, on which
benchmark, and can be traced; structured results can be compared across models.
Method: the core evidence is the better of structured results in the card metadata
(``model-index`` metric values: up to 0.70, full at 2 values) and tables of numeric results in
the card text (0.60); to it we add an evaluation section with real content (0.10), names of
public benchmarks or metrics (0.10) and a citable source (paper, arXiv id, BibTeX: 0.10).
Outcome: the sum in [0, 1]; 0 with ``inconclusive`` when the card is empty.
"""

from __future__ import annotations

import re
from typing import Any

from tmr.domain.rating import MetricResult
from tmr.metrics import _card
from tmr.metrics.inputs import RatingInput

NAME = "performance_claims"
BENCHMARKS = re.compile(
    r"\b(GLUE|SuperGLUE|SQuAD|MMLU|HellaSwag|ARC|TruthfulQA|GSM8K|HumanEval|MBPP|ImageNet|"
    r"COCO|LibriSpeech|Common ?Voice|FLEURS|WER|BLEU|ROUGE|F1|accuracy|perplexity|MTEB|"
    r"WinoGrande|BoolQ|PIQA|CIFAR-?10+|mAP|top-1)\b",
    re.IGNORECASE,
)
CITATION = re.compile(
    r"arxiv\.org/abs/|arxiv:\d|@(article|inproceedings|misc)\{|doi\.org/", re.IGNORECASE
)
EVAL = r"evaluat|result|benchmark|performance|metric"
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE)
_NUMBER = re.compile(r"\b\d+(\.\d+)?%?")


def model_index_values(card_data: dict[str, Any]) -> int:
    count = 0
    entries = card_data.get("model-index") or card_data.get("model_index") or []
    for entry in entries if isinstance(entries, list) else []:
        for result in (entry or {}).get("results") or []:
            for metric in (result or {}).get("metrics") or []:
                if isinstance(metric, dict) and metric.get("value") is not None:
                    count += 1
    return count


def numeric_tables(card: str) -> int:
    """Markdown tables with at least one row of several numbers (results, not a file list)."""
    count, in_table, numeric = 0, False, False
    for line in _card.strip_front_matter(card).splitlines() + [""]:
        if _TABLE_ROW.match(line):
            in_table = True
            cells = [c for c in line.strip().strip("|").split("|") if c.strip()]
            if sum(bool(_NUMBER.fullmatch(c.strip().split("/")[0])) for c in cells) >= 2:
                numeric = True
        elif in_table:
            count += numeric
            in_table, numeric = False, False
    return count


def compute(inp: RatingInput) -> MetricResult:
    card = inp.snapshot.readme
    hf = inp.snapshot.hf
    card_data = hf.card_data if hf else {}
    if not card.strip() and not card_data:
        return MetricResult(
            name=NAME,
            score=0.0,
            inconclusive=True,
            summary="No model card, so no performance claim can be checked.",
        )
    n_values = model_index_values(card_data)
    n_tables = numeric_tables(card)
    text = _card.clean(_card.strip_front_matter(card))
    benchmarks = sorted({m.group(0).upper() for m in BENCHMARKS.finditer(text)})
    eval_section = _card.find_section(_card.sections(card), EVAL)
    cited = bool(CITATION.search(text))
    credits = {
        "core_results": max(0.70 * min(1.0, n_values / 2), 0.60 * min(1.0, float(n_tables))),
        "evaluation_section": 0.10 * (eval_section is not None),
        "benchmarks": 0.10 * bool(benchmarks),
        "citation": 0.10 * cited,
    }
    score = round(min(1.0, sum(credits.values())), 4)
    summary = (
        f"{n_values} structured result value(s), {n_tables} results table(s), "
        f"{'an' if eval_section else 'no'} evaluation section"
        f"{', benchmarks ' + ', '.join(benchmarks[:4]) if benchmarks else ''}"
        f"{', cited source' if cited else ''}."
    )
    return MetricResult(
        name=NAME,
        score=score,
        summary=summary,
        evidence={
            "model_index_values": n_values,
            "results_tables": n_tables,
            "evaluation_section": eval_section.title if eval_section else None,
            "benchmarks": benchmarks,
            "citation": cited,
            "credits": credits,
        },
    )
