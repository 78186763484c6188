"""license: clarity of the model's license and its compatibility with the company's LGPL-2.1.

Motivation: a model whose license forbids our use, or says nothing, is a legal risk however good
it is.
Method: take the license from structured metadata (card front matter, then the Hub's
``license:`` tag, then a "License:" line in the card text), normalise its spelling and look its
terms up in ``tmr.domain.licenses``.
The whole chain of registered ancestors counts (a fine-tune of a non-commercial base is not
usable commercially whatever its own card says): the lowest score along the chain wins and the
evidence names the ancestor that decided it (``decided_by``).
Outcome: 1 for licenses compatible with LGPL-2.1 (permissive, public domain, LGPL), 0 for
incompatible (GPL, non-commercial, no-derivatives) or missing ones, in between for unclear ones
(use-based restrictions, community licenses, unknown spellings).
"""

from __future__ import annotations

import re
from typing import Any

from tmr.domain.licenses import lgpl_compatibility, normalize
from tmr.domain.rating import MetricResult
from tmr.metrics import _card
from tmr.metrics.inputs import RatingInput

NAME = "license"
_CARD_LINE = re.compile(
    r"^\s*[-*]?\s*\**licen[cs]e\**\s*:?\**\s*:?\s*(.+)$", re.IGNORECASE | re.MULTILINE
)


def declared_license(inp: RatingInput) -> tuple[str | None, str]:
    """The declared license and where it was found."""
    hf = inp.snapshot.hf
    if hf is not None:
        value: Any = hf.card_data.get("license")
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            name = hf.card_data.get("license_name")
            if value.strip().lower() == "other" and isinstance(name, str):
                return name, "card_data.license_name"
            return value.strip(), "card_data"
        if hf.license:
            return hf.license, "hub_metadata"
        for tag in hf.tags:
            if tag.lower().startswith("license:"):
                return tag.split(":", 1)[1], "hub_tag"
    gh = inp.snapshot.github
    if gh is not None and gh.license_spdx and gh.license_spdx != "NOASSERTION":
        return gh.license_spdx, "github_license"
    for match in _CARD_LINE.finditer(_card.clean(inp.snapshot.readme)):
        text = match.group(1).strip(" *`")
        if text and normalize(text) is not None:
            return text, "card_text"
    return None, "none"


def compute(inp: RatingInput) -> MetricResult:
    license_id, where = declared_license(inp)
    score, reason = lgpl_compatibility(license_id)
    terms = normalize(license_id)
    scored = [(name, lic, lgpl_compatibility(lic)) for name, lic in inp.ancestor_licenses]
    chain = [{"name": n, "license": lic, "score": sc} for n, lic, (sc, _) in scored]
    decided_by = None
    lowest = min(scored, key=lambda item: item[2][0], default=None)
    if lowest is not None and lowest[2][0] < score:
        decided_by, inherited, (score, why) = lowest
        reason = (
            f"its ancestor {decided_by} is under {inherited or 'no license'}: {why}; "
            "a derivative inherits that"
        )
    return MetricResult(
        name=NAME,
        score=score,
        # No license is evidence, not a gap: nothing is granted (and the gate refuses it).
        inconclusive=False,
        summary=f"License {license_id or 'missing'} (from {where}): {reason}.",
        evidence={
            "declared": license_id,
            "source": where,
            "normalized": terms.spdx if terms else None,
            "family": terms.family if terms else None,
            "ancestors": chain,
            "decided_by": decided_by,
        },
    )
