"""`tmr rate` when parts of a line fail (over the Hub and GitHub replays): a code repository
that does not exist is reported and the model still rated with what could be fetched; a web
dataset page counts as a linked dataset; an unwritable LOG_FILE and an unexpected failure are
reported as one line each, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tmr.commands import rate
from tmr.config import Settings, load_settings

WHISPER = "https://huggingface.co/openai/whisper-tiny"


def test_a_missing_code_repository_is_reported_and_the_model_still_rated(
    upstream_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"https://github.com/nobody-here/nothing-here,https://www.kaggle.com/datasets/acme/flowers,{WHISPER}\n"
    )
    assert rate.run(urls, upstream_env) == 1
    out, err = capsys.readouterr()
    [record] = map(json.loads, out.splitlines())
    assert record["name"] == "whisper-tiny"
    assert record["dataset_and_code_score"] > 0  # the Kaggle page counts as its dataset
    assert err.startswith(
        "tmr rate: line 1: cannot fetch code https://github.com/nobody-here/nothing-here: "
        "GitHub repository nobody-here/nothing-here does not exist"
    )


def test_an_unwritable_log_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f",,{WHISPER}\n")
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    settings = load_settings(LOG_LEVEL=1, LOG_FILE=str(blocker / "rate.log"))
    assert rate.run(urls, settings) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tmr rate: cannot open LOG_FILE {blocker / 'rate.log'}: ")


def test_an_unexpected_failure_is_one_line_not_a_traceback(
    upstream_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("cardData")

    monkeypatch.setattr(rate, "rate_model", broken)
    urls = tmp_path / "urls.txt"
    urls.write_text(f",,{WHISPER}\n")
    assert rate.run(urls, upstream_env) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"tmr rate: line 1: cannot rate {WHISPER}: KeyError: 'cardData'\n"
