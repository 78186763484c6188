import pytest

from tests.unit.metrics.builders import model, rate_input
from tmr.metrics import tree_score


@pytest.mark.parametrize(
    ("parents", "scores", "expected", "applicable", "inconclusive"),
    [
        (["a/base"], [0.8], 0.8, True, False),
        (["a/base", "b/base"], [0.6, 1.0], 0.8, True, False),
        (["a/base"], [1.7], 1.0, True, False),
        ([], [], 0.0, False, False),
        (["a/not-registered"], [], 0.0, False, True),
    ],
    ids=["one-parent", "mean-of-two", "clamped", "root", "parent-unknown"],
)
def test_tree_score(parents, scores, expected, applicable, inconclusive):
    result = tree_score.compute(rate_input(model(parents=parents), parent_scores=scores))
    assert result.score == pytest.approx(expected)
    assert result.applicable is applicable
    assert result.inconclusive is inconclusive
