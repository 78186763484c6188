import pytest

from tests.unit.metrics.builders import model, rate_input
from tmr.metrics import performance_claims

MODEL_INDEX = {
    "model-index": [
        {
            "name": "m",
            "results": [
                {
                    "task": {"type": "asr"},
                    "metrics": [{"type": "wer", "value": 7.5}, {"type": "wer", "value": 17.1}],
                }
            ],
        }
    ]
}
TABLE_CARD = """# M

## Evaluation results

| Task | SST-2 | CoLA |
|------|-------|------|
|      | 93.5  | 52.1 |

See https://arxiv.org/abs/1810.04805 for GLUE details.
"""
FILE_TABLE = "| Size | Link |\n|---|---|\n| tiny | [x](y) |\n"


@pytest.mark.parametrize(
    ("snapshot", "low", "high"),
    [
        (
            model(
                card="# M\n\n## Evaluation\n\nWER is 7.5 on LibriSpeech test-clean, 17.1 on other.",
                card_data=MODEL_INDEX,
            ),
            0.9,
            1.0,
        ),
        (model(card=TABLE_CARD), 0.85, 0.95),
        (model(card="# M\n\n" + FILE_TABLE), 0.0, 0.0),
        (model(card="# M\n\nIt is very accurate, trust us."), 0.0, 0.0),
    ],
    ids=["model-index", "results-table", "non-numeric-table", "unsupported-claim"],
)
def test_performance_claims_rewards_evidence(snapshot, low, high):
    result = performance_claims.compute(rate_input(snapshot))
    assert low <= result.score <= high, result.evidence


def test_performance_claims_counts_structured_values_and_tables():
    result = performance_claims.compute(rate_input(model(card=TABLE_CARD, card_data=MODEL_INDEX)))
    assert result.evidence["model_index_values"] == 2
    assert result.evidence["results_tables"] == 1
    assert "GLUE" in result.evidence["benchmarks"]


def test_performance_claims_without_card_is_inconclusive():
    result = performance_claims.compute(rate_input(model()))
    assert result.inconclusive and result.score == 0.0
