import pytest

from tests.unit.metrics.builders import code, dataset, model, rate_input
from tmr.metrics import dataset_and_code_score


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (model(linked=[dataset(), code()]), 1.0),
        (model(linked=[dataset()]), 0.5),
        (model(linked=[code()]), 0.5),
        (model(card_data={"datasets": ["squad"]}, linked=[code()]), 0.75),
        (model(card="Code: https://github.com/acme/train", tags=["dataset:squad"]), 0.5),
        (model(card="Nothing here."), 0.0),
    ],
    ids=["both-linked", "dataset-only", "code-only", "declared-dataset", "mentioned-only", "none"],
)
def test_dataset_and_code_score(snapshot, expected):
    result = dataset_and_code_score.compute(rate_input(snapshot))
    assert result.score == expected
    assert result.summary
