"""`tmr rate` end to end over the Hub and GitHub replays (real fetch_snapshot, no internet).

The replay serves generated weight files scaled down, so size_score is not compared here (the
calibration test checks it on the recorded sizes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tmr.commands import rate
from tmr.config import Settings

DATA = Path(__file__).resolve().parents[1] / "data"


def test_reference_url_file_rates_every_model(
    upstream_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = rate.run(DATA / "course_reference_urls.txt", upstream_env)
    out, err = capsys.readouterr()
    assert code == 0, err
    records = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert list(records) == ["bert-base-uncased", "audience_classifier_model", "whisper-tiny"]
    bert, audience, whisper = records.values()
    assert bert["license"] == whisper["license"] == 1.0 and audience["license"] == 0.0
    assert bert["dataset_and_code_score"] == 1.0 and audience["dataset_and_code_score"] == 0.0
    assert bert["code_quality"] > 0.7 and whisper["code_quality"] > 0.7
    assert bert["net_score"] > whisper["net_score"] > audience["net_score"]
