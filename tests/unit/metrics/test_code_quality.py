import pytest

from tests.unit.metrics.builders import code, model, rate_input
from tmr.metrics import code_quality

FULL = {
    "src/pkg/__init__.py": 10,
    "src/pkg/core.py": 900,
    "tests/test_core.py": 300,
    "pyproject.toml": 500,
    ".github/workflows/ci.yml": 300,
    "src/pkg/py.typed": 0,
    ".pre-commit-config.yaml": 100,
    "CONTRIBUTING.md": 100,
    "LICENSE": 1000,
}
NOTEBOOKS = {"demo.ipynb": 50_000, "explore.ipynb": 9000, "utils.py": 300}


@pytest.mark.parametrize(
    ("repo", "low", "high"),
    [
        (code(FULL, readme="x" * 3000, license_spdx="MIT"), 1.0, 1.0),
        (code(NOTEBOOKS, readme="short"), 0.0, 0.05),
        (
            code({"train.py": 100, "model.py": 100, "requirements.txt": 20}, readme="x" * 1000),
            0.35,
            0.40,
        ),
    ],
    ids=["well-engineered", "notebooks-only", "scripts-with-deps"],
)
def test_code_quality(repo, low, high):
    result = code_quality.compute(rate_input(model(linked=[repo])))
    assert low <= result.score <= high, result.evidence


@pytest.mark.parametrize(
    "snapshot", [model(), model(linked=[code({})])], ids=["no-repo", "empty-tree"]
)
def test_code_quality_without_code_is_inconclusive(snapshot):
    result = code_quality.compute(rate_input(snapshot))
    assert result.inconclusive and result.score == 0.0
