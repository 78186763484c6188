import pytest

from tests.unit.metrics.builders import dataset, model, rate_input, web_dataset
from tmr.metrics import dataset_quality

RICH_CARD = """# Data

## Dataset Summary

A large corpus of English news headlines collected from public feeds in 2020, cleaned and
deduplicated, with one topic label per headline. Paper: https://arxiv.org/abs/1234.5678

## Considerations for Using the Data

Headlines over-represent US outlets and contain the biases of their editors.
"""
RICH_DATA = {
    "license": "cc-by-4.0",
    "size_categories": ["100K<n<1M"],
    "dataset_info": {"splits": [{"name": "train"}, {"name": "test"}]},
    "source_datasets": ["original"],
}


@pytest.mark.parametrize(
    ("linked", "low", "high"),
    [
        ([dataset(RICH_CARD, RICH_DATA, downloads=100_000, likes=80)], 0.99, 1.0),
        ([dataset(RICH_CARD, RICH_DATA | {"license": "unknown"}, downloads=0)], 0.8, 0.85),
        ([dataset("# x")], 0.0, 0.0),
        ([web_dataset("Flickr images with captions")], 0.25, 0.25),
        (
            [dataset("# x"), dataset(RICH_CARD, RICH_DATA, downloads=10, repo_id="acme/rich")],
            0.85,
            1.0,
        ),
    ],
    ids=["complete", "unknown-license-unpopular", "bare", "web-page", "best-of-two"],
)
def test_dataset_quality(linked, low, high):
    result = dataset_quality.compute(rate_input(model(linked=linked)))
    assert low <= result.score <= high, result.evidence
    assert not result.inconclusive


def test_no_dataset_is_inconclusive_zero():
    result = dataset_quality.compute(rate_input(model()))
    assert result.inconclusive and result.score == 0.0
