"""ramp_up_time: how quickly an engineer can start using the model.

Motivation: a model nobody can figure out how to call costs days before it earns anything; the
model card is the first (often only) documentation.
Method: read the card (template filler and ``[More Information Needed]`` count as nothing) and
credit what a newcomer needs, each with a fixed weight: a description (0.25), a usage section
(0.20), a runnable example code block (0.25), installation instructions or a well-known loading
library (0.10), a limitations/bias section (0.10) and enough substance overall (0.10, full at 600
words).
Outcome: the sum of the credits in [0, 1]; inconclusive 0 when the model has no card at all.
"""

from __future__ import annotations

import re

from tmr.domain.rating import MetricResult
from tmr.metrics import _card
from tmr.metrics.inputs import RatingInput

NAME = "ramp_up_time"
WEIGHTS = {
    "description": 0.25,
    "usage": 0.20,
    "example_code": 0.25,
    "installation": 0.10,
    "limitations": 0.10,
    "substance": 0.10,
}
KNOWN_LIBRARIES = {
    "transformers",
    "sentence-transformers",
    "diffusers",
    "timm",
    "open_clip",
    "peft",
    "keras",
    "onnx",
    "transformers.js",
    "pytorch",
    "tf-keras",
    "lerobot",
    "gguf",
    "mlx",
}
USAGE = r"usage|how to use|get(ting)? started|quick ?start|inference|example|use (the|this) model"
DESCRIPTION = r"description|overview|summary|model details|about|introduction"
LIMITS = r"limitation|bias|risk|out-of-scope|caveat"
FULL_WORDS = 600


def compute(inp: RatingInput) -> MetricResult:
    hf = inp.snapshot.hf
    card = inp.snapshot.readme
    if not card.strip():
        return MetricResult(
            name=NAME,
            score=0.0,
            inconclusive=True,
            summary="No model card was found, so nothing documents how to start.",
            evidence={"card_chars": 0},
        )
    secs = _card.sections(card)
    code = [
        c
        for lang, c in _card.code_blocks(card)
        if lang in {"python", "py", "python3", "bash", "sh", "shell", ""}
        and len([ln for ln in c.splitlines() if ln.strip()]) >= 2
        and re.search(r"import |from_pretrained|pipeline\(|pip install", c)
    ]
    library = (hf.library_name if hf else None) or ""
    found = {
        "description": _card.find_section(secs, DESCRIPTION) is not None
        or _card.substantive(_card.intro(card), 120),
        "usage": _card.find_section(secs, USAGE) is not None,
        "example_code": bool(code),
        "installation": bool(
            re.search(
                r"(pip|conda|uv pip) install|^#+.*install", card, re.IGNORECASE | re.MULTILINE
            )
        )
        or library.lower() in KNOWN_LIBRARIES,
        "limitations": _card.find_section(secs, LIMITS) is not None,
    }
    n_words = _card.words(_card.strip_front_matter(card))
    credits = {k: WEIGHTS[k] * float(v) for k, v in found.items()}
    credits["substance"] = WEIGHTS["substance"] * min(1.0, n_words / FULL_WORDS)
    score = round(min(1.0, sum(credits.values())), 4)
    missing = [k for k, v in found.items() if not v]
    summary = (
        f"Card has {', '.join(k for k, v in found.items() if v) or 'no usable parts'}"
        + (f"; missing {', '.join(missing)}" if missing else "")
        + f" ({n_words} words)."
    )
    return MetricResult(
        name=NAME,
        score=score,
        summary=summary,
        evidence={
            **found,
            "words": n_words,
            "library": library or None,
            "code_blocks": len(code),
            "placeholders": _card.placeholder_count(card),
            "credits": credits,
        },
    )
