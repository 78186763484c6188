import pytest

from tests.unit.metrics.builders import code, model, rate_input
from tmr.metrics import license as license_metric


@pytest.mark.parametrize(
    ("snapshot", "expected", "source"),
    [
        (model(card_data={"license": "apache-2.0"}), 1.0, "card_data"),
        (model(card_data={"license": ["MIT"]}), 1.0, "card_data"),
        (model(tags=["license:gpl-3.0"]), 0.0, "hub_tag"),
        (model(card_data={"license": "cc-by-nc-4.0"}), 0.0, "card_data"),
        (model(card_data={"license": "llama3.1"}), 0.25, "card_data"),
        (model(card_data={"license": "openrail"}), 0.5, "card_data"),
        (
            model(card_data={"license": "other", "license_name": "gemma"}),
            0.5,
            "card_data.license_name",
        ),
        (model(card="## License\n\n- **License:** MIT\n"), 1.0, "card_text"),
        (model(), 0.0, "none"),
        (code(license_spdx="BSD-3-Clause"), 1.0, "github_license"),
    ],
    ids=[
        "apache",
        "list",
        "gpl-tag",
        "nc",
        "llama",
        "openrail",
        "other-named",
        "card-line",
        "missing",
        "github",
    ],
)
def test_license_scores_lgpl_compatibility(snapshot, expected, source):
    result = license_metric.compute(rate_input(snapshot))
    assert result.score == expected
    assert result.evidence["source"] == source
    assert result.inconclusive is False  # a missing license is evidence: nothing is granted
