import json
from pathlib import Path

import pytest

import tmr.sources
from tests.support.fixture_snapshots import load_url, model_snapshot
from tmr.commands import rate
from tmr.config import load_settings
from tmr.errors import UpstreamNotFound

DATA = Path(__file__).resolve().parents[1] / "data"
PHASE1_KEYS = [
    "name",
    "category",
    "net_score",
    "net_score_latency",
    "ramp_up_time",
    "ramp_up_time_latency",
    "bus_factor",
    "bus_factor_latency",
    "performance_claims",
    "performance_claims_latency",
    "license",
    "license_latency",
    "size_score",
    "size_score_latency",
    "dataset_and_code_score",
    "dataset_and_code_score_latency",
    "dataset_quality",
    "dataset_quality_latency",
    "code_quality",
    "code_quality_latency",
]


def fake_fetch(url, artifact_type, settings):
    if artifact_type == "model" and "huggingface.co/" in url and "/datasets/" not in url:
        repo_id = url.split("huggingface.co/", 1)[1].split("/tree/", 1)[0].strip("/")
        try:
            return model_snapshot(repo_id)
        except (FileNotFoundError, AttributeError, TypeError) as exc:
            raise UpstreamNotFound(f"no such model {repo_id}") from exc
    snap = load_url(url)
    if snap is None:
        raise UpstreamNotFound(f"no such repository {url}")
    return snap


@pytest.fixture
def settings(monkeypatch, tmp_path):
    monkeypatch.setattr(tmr.sources, "fetch_snapshot", fake_fetch)
    return load_settings(LOG_LEVEL=0, LOG_FILE=str(tmp_path / "tmr.log"))


def test_reference_url_file_prints_phase1_records(settings, capsys):
    code = rate.run(DATA / "course_reference_urls.txt", settings)
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert [r["name"] for r in records] == [
        "bert-base-uncased",
        "audience_classifier_model",
        "whisper-tiny",
    ]
    for record in records:
        assert list(record) == PHASE1_KEYS
        assert record["category"] == "MODEL"
        assert all(isinstance(record[k], int) for k in PHASE1_KEYS if k.endswith("_latency"))
        assert set(record["size_score"]) == {
            "raspberry_pi",
            "jetson_nano",
            "desktop_pc",
            "aws_server",
        }
    assert records[0]["dataset_and_code_score"] == 1.0


def test_blank_lines_are_skipped_and_explicit_links_deduplicated(settings, tmp_path, capsys):
    url_file = tmp_path / "urls.txt"
    url_file.write_text(
        "\n,,https://huggingface.co/openai/whisper-tiny\n\n"
        "https://github.com/openai/whisper,,https://huggingface.co/openai/whisper-tiny\n"
    )
    assert rate.run(url_file, settings) == 0
    first, second = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert first["code_quality"] == second["code_quality"] > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("https://github.com/a/b,https://huggingface.co/x\n", "expected 'code_url,dataset_url"),
        (",,\n", "expected 'code_url,dataset_url"),
    ],
)
def test_malformed_file_exits_1_with_message(settings, tmp_path, capsys, content, message):
    url_file = tmp_path / "urls.txt"
    url_file.write_text(content)
    assert rate.run(url_file, settings) == 1
    out, err = capsys.readouterr()
    assert out == "" and message in err


def test_missing_file_exits_1(settings, tmp_path, capsys):
    assert rate.run(tmp_path / "nope.txt", settings) == 1
    assert "cannot read URL file" in capsys.readouterr().err


def test_upstream_error_is_reported_and_other_lines_still_rated(settings, tmp_path, capsys):
    url_file = tmp_path / "urls.txt"
    url_file.write_text(
        ",,https://huggingface.co/nobody/nothing\n,,https://huggingface.co/openai/whisper-tiny\n"
    )
    assert rate.run(url_file, settings) == 1
    out, err = capsys.readouterr()
    assert [json.loads(x)["name"] for x in out.splitlines()] == ["whisper-tiny"]
    assert "line 1" in err and "nobody/nothing" in err


def test_log_file_receives_info_lines(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tmr.sources, "fetch_snapshot", fake_fetch)
    log_file = tmp_path / "rate.log"
    settings = load_settings(LOG_LEVEL=1, LOG_FILE=str(log_file))
    assert rate.run(DATA / "course_reference_urls.txt", settings) == 0
    lines = [json.loads(x) for x in log_file.read_text().splitlines()]
    assert any(line["msg"] == "rated" and line.get("name") == "whisper-tiny" for line in lines)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://huggingface.co/google-bert/bert-base-uncased", "bert-base-uncased"),
        ("https://huggingface.co/openai/whisper-tiny/tree/main", "whisper-tiny"),
        ("https://huggingface.co/gpt2/", "gpt2"),
    ],
)
def test_model_name_is_the_last_repository_segment(url, name):
    assert rate.model_name(url) == name
