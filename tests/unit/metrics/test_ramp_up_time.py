import pytest

from tests.unit.metrics.builders import model, rate_input
from tmr.metrics import ramp_up_time

GOOD = """---
license: mit
---
# Tiny model

Tiny model classifies short English texts into topics. It was trained on news headlines and is
small enough for laptops; this paragraph describes the model in enough words to count.

## How to use

```python
from transformers import pipeline
clf = pipeline("text-classification", model="acme/tiny-model")
print(clf("hello"))
```

Install with `pip install transformers`.

## Limitations and bias

It was trained on English news only and fails on other languages and on long documents.
"""
TEMPLATE = """# Model Card for Model ID

## Model Details

### Model Description

This is the model card of a 🤗 transformers model that has been pushed on the Hub. \
This model card has been automatically generated.

- **Developed by:** [More Information Needed]

## Uses

[More Information Needed]

## Bias, Risks, and Limitations

[More Information Needed]

## How to Get Started with the Model

Use the code below to get started with the model.

[More Information Needed]
"""


@pytest.mark.parametrize(
    ("card", "library", "low", "high", "inconclusive"),
    [
        (GOOD, None, 0.9, 1.0, False),
        (TEMPLATE, None, 0.0, 0.05, False),
        (TEMPLATE, "transformers", 0.1, 0.15, False),
        ("# Title\n\nJust a title and one line.", None, 0.0, 0.05, False),
        ("", None, 0.0, 0.0, True),
    ],
    ids=["complete-card", "unfilled-template", "template-known-library", "stub", "no-card"],
)
def test_ramp_up_credits_what_a_newcomer_needs(card, library, low, high, inconclusive):
    result = ramp_up_time.compute(rate_input(model(card=card, library_name=library)))
    assert low <= result.score <= high
    assert result.inconclusive is inconclusive
    assert result.summary


def test_ramp_up_evidence_names_missing_parts():
    result = ramp_up_time.compute(rate_input(model(card=TEMPLATE)))
    assert result.evidence["usage"] is False
    assert result.evidence["placeholders"] >= 3
    assert "missing" in result.summary
