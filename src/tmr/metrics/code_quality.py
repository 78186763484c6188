"""code_quality: engineering quality of the linked code repository.

Motivation: example and training code is what engineers will copy; untested, undeclared,
unstructured code turns into weeks of debugging.
Method: from the repository's file tree and metadata, credit tests (test files or a tests folder:
0.25), declared dependencies (requirements, pyproject, setup.py, environment files: 0.20), a
substantial README (0.15), a license (0.10), structure (more code modules than notebooks, at
least two modules: 0.10), and 0.05 each for continuous integration, style/lint
configuration, type checking and contribution guidelines. The best linked repository counts.
Outcome: a score in [0, 1]; 0 and inconclusive when no code repository is linked.
"""

from __future__ import annotations

import re

from tmr.domain.rating import MetricResult
from tmr.domain.snapshot import GitHubRepo
from tmr.metrics._files import is_code
from tmr.metrics.inputs import RatingInput

NAME = "code_quality"
WEIGHTS = {
    "tests": 0.25,
    "dependencies": 0.20,
    "readme": 0.15,
    "license": 0.10,
    "structure": 0.10,
    "ci": 0.05,
    "style": 0.05,
    "typing": 0.05,
    "contributing": 0.05,
}
_TEST = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]+$|_test\.\w+$|\.test\.\w+$|\.spec\.\w+$")
_DEPS = re.compile(
    r"(^|/)(requirements[^/]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|"
    r"environment\.ya?ml|Pipfile|poetry\.lock|package\.json|Cargo\.toml|go\.mod|"
    r"conda\.ya?ml)$",
    re.IGNORECASE,
)
_CI = re.compile(
    r"^\.github/workflows/|^\.gitlab-ci\.yml$|^\.circleci/|^\.travis\.yml$|"
    r"^azure-pipelines\.yml$|^Jenkinsfile$"
)
_STYLE = re.compile(
    r"(^|/)(\.flake8|\.pylintrc|pylintrc|ruff\.toml|\.ruff\.toml|"
    r"\.pre-commit-config\.yaml|\.editorconfig|\.eslintrc[^/]*|\.prettierrc[^/]*|"
    r"tox\.ini|\.style\.yapf|\.isort\.cfg)$"
)
_TYPING = re.compile(r"(^|/)(py\.typed|mypy\.ini|\.mypy\.ini|pyrightconfig\.json|tsconfig\.json)$")
_CONTRIB = re.compile(r"(^|/)(CONTRIBUTING|CODE_OF_CONDUCT)(\.\w+)?$", re.IGNORECASE)


def repo_credits(repo: GitHubRepo) -> dict[str, float]:
    paths = [f.path for f in repo.files]
    code = [p for p in paths if is_code(p)]
    notebooks = [p for p in paths if p.endswith(".ipynb")]
    pyproject_tools = any(p.endswith("pyproject.toml") for p in paths)
    return {
        "tests": float(any(_TEST.search(p) for p in paths)),
        "dependencies": float(any(_DEPS.search(p) for p in paths)),
        "readme": min(1.0, len(repo.readme_text) / 2000),
        "license": float(
            bool(
                repo.license_spdx
                or any(
                    re.match(r"(LICEN[CS]E|COPYING)", p.split("/")[-1], re.IGNORECASE)
                    for p in paths
                )
            )
        ),
        "structure": float(len(code) >= 2 and len(code) >= len(notebooks)),
        "ci": float(any(_CI.search(p) for p in paths)),
        "style": float(any(_STYLE.search(p) for p in paths) or pyproject_tools),
        "typing": float(any(_TYPING.search(p) for p in paths)),
        "contributing": float(any(_CONTRIB.search(p) for p in paths)),
    }


def compute(inp: RatingInput) -> MetricResult:
    repos = inp.code_repos()
    if not repos:
        return MetricResult(
            name=NAME,
            score=0.0,
            inconclusive=True,
            summary="No code repository is linked, so code quality is unknown.",
            evidence={"repositories": []},
        )
    if not any(r.files for r in repos):
        return MetricResult(
            name=NAME,
            score=0.0,
            inconclusive=True,
            summary="The linked repositories list no files.",
            evidence={"repositories": [r.full_name for r in repos]},
        )
    scored = []
    for repo in repos:
        credits = repo_credits(repo)
        scored.append((sum(WEIGHTS[k] * v for k, v in credits.items()), repo.full_name, credits))
    best, name, credits = max(scored, key=lambda x: x[0])
    has = [k for k, v in credits.items() if v >= 0.5]
    lacks = [k for k, v in credits.items() if v < 0.5]
    return MetricResult(
        name=NAME,
        score=round(min(1.0, best), 4),
        summary=(
            f"{name} has {', '.join(has) or 'nothing we look for'}"
            + (f"; lacks {', '.join(lacks)}." if lacks else ".")
        ),
        evidence={
            "repository": name,
            "credits": credits,
            "scores": {n: round(s, 4) for s, n, _ in scored},
        },
    )
