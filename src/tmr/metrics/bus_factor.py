"""bus_factor: how many people the upstream project depends on (higher is safer).

Motivation: a model whose code and weights only one person understands dies with that person's
interest; many active contributors mean someone can fix what breaks.
Method: over the linked GitHub repositories (the best one counts), take the contributors with
their commit counts (anonymous ones included) and combine the head count (0.4: log scale, full at
20 people) with the spread of the work (0.6: the number of people who together made 80% of the
commits, full at 5). Without a linked repository, fall back to the people the model card names
(BibTeX authors, "Developed by"), full at 6, scaled by 0.8 because authorship is weaker evidence
than commits. Failing both, the account that owns the Hugging Face repository is the one person
known to be accountable for it: scored as a repository with one contributor (bus factor 1).
Outcome: a score in [0, 1]; 0 and inconclusive when nobody can be identified.
"""

from __future__ import annotations

import math
import re

from tmr.domain.rating import MetricResult
from tmr.domain.snapshot import GitHubRepo
from tmr.metrics import _card
from tmr.metrics.inputs import RatingInput

NAME = "bus_factor"
FULL_HEADCOUNT = 20
FULL_CORE = 5
CORE_SHARE = 0.8
FULL_CARD_PEOPLE = 6
CARD_WEIGHT = 0.8
_BIBTEX_AUTHOR = re.compile(r"author\s*=\s*[{\"](.+?)[}\"]\s*,?\s*$", re.IGNORECASE | re.MULTILINE)
_DEVELOPED_BY = re.compile(r"developed by:?\**\s*:?\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def core_size(commits: list[int], share: float = CORE_SHARE) -> int:
    """The fewest contributors who together made ``share`` of all commits."""
    total = sum(commits)
    if total <= 0:
        return 0
    acc, k = 0, 0
    for count in sorted(commits, reverse=True):
        acc += count
        k += 1
        if acc >= share * total:
            break
    return k


def repo_score(repo: GitHubRepo) -> tuple[float, dict[str, object]]:
    commits = [max(0, c.contributions) for c in repo.contributors]
    n = len(commits)
    core = core_size(commits)
    headcount = min(1.0, math.log2(1 + n) / math.log2(1 + FULL_HEADCOUNT)) if n else 0.0
    spread = min(1.0, core / FULL_CORE)
    total = sum(commits)
    return 0.4 * headcount + 0.6 * spread, {
        "repository": repo.full_name,
        "contributors": n,
        "commits": total,
        "core_80pct": core,
        "top_share": round(max(commits) / total, 3) if total else None,
    }


def card_people(card: str) -> set[str]:
    people: set[str] = set()
    for match in _BIBTEX_AUTHOR.finditer(card):
        people.update(p.strip() for p in re.split(r"\s+and\s+", match.group(1)) if p.strip())
    for match in _DEVELOPED_BY.finditer(_card.clean(card)):
        people.update(
            p.strip(" *[]") for p in re.split(r",|\band\b", match.group(1)) if p.strip(" *[]")
        )
    return {p for p in people if re.search(r"[A-Za-z]", p)}


def compute(inp: RatingInput) -> MetricResult:
    repos = inp.code_repos()
    scored = [repo_score(r) for r in repos if r.contributors]
    if scored:
        score, evidence = max(scored, key=lambda pair: pair[0])
        return MetricResult(
            name=NAME,
            score=round(score, 4),
            summary=(
                f"{evidence['repository']} has {evidence['contributors']} contributors; "
                f"{evidence['core_80pct']} of them made 80% of the commits."
            ),
            evidence={"source": "github_contributors", **evidence},
        )
    people = card_people(inp.snapshot.readme)
    if people:
        score = CARD_WEIGHT * min(1.0, len(people) / FULL_CARD_PEOPLE)
        return MetricResult(
            name=NAME,
            score=round(score, 4),
            summary=f"No code repository linked; the card names {len(people)} author(s).",
            evidence={
                "source": "model_card",
                "people": sorted(people)[:20],
                "linked_repositories": len(repos),
            },
        )
    owner = _hub_owner(inp)
    if owner is not None:
        score = 0.4 * math.log2(2) / math.log2(1 + FULL_HEADCOUNT) + 0.6 * (1 / FULL_CORE)
        return MetricResult(
            name=NAME,
            score=round(score, 4),
            summary=(
                f"No code repository or card authors; only the repository's owner ({owner}) is "
                "known to maintain it: a bus factor of one."
            ),
            evidence={"source": "hub_owner", "owner": owner, "linked_repositories": len(repos)},
        )
    return MetricResult(
        name=NAME,
        score=0.0,
        inconclusive=True,
        summary="No linked repository with contributors and no authors named in the card.",
        evidence={"source": "none", "linked_repositories": len(repos)},
    )


def _hub_owner(inp: RatingInput) -> str | None:
    hf = inp.snapshot.hf
    if hf is None or inp.snapshot.source != "huggingface" or "/" not in hf.repo_id:
        return None
    return hf.repo_id.split("/", 1)[0]
