import pytest

from tests.unit.metrics.builders import code, model, pull, rate_input
from tmr.metrics import reviewedness

# 3500 bytes of Python = 100 estimated lines; weights and docs are not code.
FILES = {"pkg/model.py": 3500, "weights.bin": 10**9, "README.md": 20_000, "data.csv": 10**6}


@pytest.mark.parametrize(
    ("pulls", "expected"),
    [
        ([], 0.0),
        ([pull(1, True, 1, {"pkg/model.py": 40})], 0.4),
        ([pull(1, True, 0, {"pkg/model.py": 40})], 0.0),
        ([pull(1, False, 2, {"pkg/model.py": 40})], 0.0),
        ([pull(1, True, 1, {"README.md": 500, "data.csv": 900})], 0.0),
        ([pull(1, True, 1, {"pkg/model.py": 80}), pull(2, True, 1, {"pkg/model.py": 80})], 1.0),
        ([pull(1, True, 1, {"pkg/gone.py": 80})], 0.0),
    ],
    ids=[
        "no-prs",
        "reviewed",
        "unreviewed",
        "unmerged",
        "non-code",
        "capped-per-file",
        "deleted-file",
    ],
)
def test_reviewed_share_of_code_lines(pulls, expected):
    snap = model(linked=[code(FILES, pulls=pulls)])
    result = reviewedness.compute(rate_input(snap))
    assert result.score == pytest.approx(expected, abs=1e-3)
    assert result.applicable
    assert result.evidence["code_lines_estimate"] == 100


def test_no_repository_is_not_applicable_minus_one():
    result = reviewedness.compute(rate_input(model()))
    assert result.score == -1.0 and not result.applicable


def test_repository_without_code_is_not_applicable():
    snap = model(linked=[code({"README.md": 100, "model.safetensors": 10**8})])
    result = reviewedness.compute(rate_input(snap))
    assert result.score == -1.0 and not result.applicable


def test_truncated_pull_list_is_inconclusive():
    snap = model(
        linked=[code(FILES, pulls=[pull(1, True, 1, {"pkg/model.py": 10})], truncated=True)]
    )
    result = reviewedness.compute(rate_input(snap))
    assert result.inconclusive and result.score == pytest.approx(0.1)
