"""reviewedness: share of the linked repository's code that arrived through reviewed pull requests.

Motivation: code nobody else looked at is where mistakes and malicious changes hide; weighting by
the lines actually contributed (rather than counting pull requests) stops a stream of one-line
reviewed fixes from vouching for a large unreviewed code base.
Method: code files are judged by extension (weights, data, docs and notebooks are not code). The
size of the current code is the sum of the code files' sizes in the tree, turned into lines at
``BYTES_PER_LINE`` bytes per line (the tree has sizes, not line counts). The reviewed lines are the
additions to code files of merged pull requests with at least one review, capped per file at the
file's current line estimate (a file cannot be more than fully reviewed) and only for files that
still exist. When a pull request lists no files its additions count as code. Several linked
repositories are pooled.
Outcome: reviewed lines / code lines, capped at 1; -1 (not applicable) when no GitHub repository
is linked or it has no code; inconclusive when the pull-request list was truncated.
"""

from __future__ import annotations

from collections import defaultdict

from tmr.domain.rating import MetricResult
from tmr.domain.snapshot import GitHubRepo
from tmr.metrics._files import is_code
from tmr.metrics.inputs import RatingInput

NAME = "reviewedness"
BYTES_PER_LINE = 35


def repo_lines(repo: GitHubRepo) -> tuple[dict[str, float], float, int, int]:
    """(code lines per file, reviewed lines, reviewed merged PRs, merged PRs) of one repository."""
    lines = {
        f"{repo.full_name}:{f.path}": max(1.0, f.size / BYTES_PER_LINE)
        for f in repo.files
        if is_code(f.path)
    }
    reviewed: dict[str, float] = defaultdict(float)
    unattributed = 0.0
    merged = [p for p in repo.pulls if p.merged]
    good = [p for p in merged if p.review_count >= 1 or p.approved]
    for pull in good:
        if not pull.files:
            unattributed += pull.additions
        for pf in pull.files:
            key = f"{repo.full_name}:{pf.path}"
            if key in lines:
                reviewed[key] += pf.additions
    total = sum(min(v, lines[k]) for k, v in reviewed.items()) + unattributed
    return lines, total, len(good), len(merged)


def compute(inp: RatingInput) -> MetricResult:
    repos = inp.code_repos()
    if not repos:
        return MetricResult(
            name=NAME,
            score=-1.0,
            applicable=False,
            summary="No GitHub repository is linked, so reviewedness does not apply.",
            evidence={"repositories": []},
        )
    all_lines: dict[str, float] = {}
    reviewed_total, reviewed_prs, merged_prs = 0.0, 0, 0
    for repo in repos:
        lines, reviewed, good, merged = repo_lines(repo)
        all_lines.update(lines)
        reviewed_total += reviewed
        reviewed_prs += good
        merged_prs += merged
    code_lines = sum(all_lines.values())
    names = [r.full_name for r in repos]
    if code_lines <= 0:
        return MetricResult(
            name=NAME,
            score=-1.0,
            applicable=False,
            summary="The linked repository holds no code files.",
            evidence={"repositories": names},
        )
    score = round(min(1.0, reviewed_total / code_lines), 4)
    truncated = any(r.pulls_truncated for r in repos)
    return MetricResult(
        name=NAME,
        score=score,
        inconclusive=truncated,
        summary=(
            f"About {reviewed_total:.0f} of {code_lines:.0f} code lines came through "
            f"{reviewed_prs} reviewed merged pull request(s) (of {merged_prs} merged)"
            + ("; the pull-request list was truncated." if truncated else ".")
        ),
        evidence={
            "repositories": names,
            "code_files": len(all_lines),
            "code_lines_estimate": round(code_lines),
            "reviewed_lines": round(reviewed_total),
            "reviewed_merged_prs": reviewed_prs,
            "merged_prs": merged_prs,
            "bytes_per_line": BYTES_PER_LINE,
            "pulls_truncated": truncated,
        },
    )
