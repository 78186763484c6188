"""Every source URL form we accept parses to the right SourceRef; unsafe URLs are refused."""

from __future__ import annotations

import pytest

from tmr.config import load_settings
from tmr.errors import InvalidSourceUrl
from tmr.sources.urls import SourceRef, parse_source_url

STRICT = load_settings(allow_private_upstream=False)


@pytest.mark.parametrize(
    ("url", "kind", "repo_id", "revision", "subdir"),
    [
        (
            "https://huggingface.co/google-bert/bert-base-uncased",
            "hf-model",
            "google-bert/bert-base-uncased",
            None,
            None,
        ),
        (
            "https://huggingface.co/google-bert/bert-base-uncased/",
            "hf-model",
            "google-bert/bert-base-uncased",
            None,
            None,
        ),
        (
            "https://huggingface.co/google-bert/bert-base-uncased/tree/main",
            "hf-model",
            "google-bert/bert-base-uncased",
            "main",
            None,
        ),
        (
            "https://huggingface.co/org/name/tree/main/sub/dir/",
            "hf-model",
            "org/name",
            "main",
            "sub/dir",
        ),
        (
            "https://huggingface.co/org/name/blob/v1.0/config.json",
            "hf-model",
            "org/name",
            "v1.0",
            None,
        ),
        (
            "https://huggingface.co/org/name/blob/main/text_encoder/config.json",
            "hf-model",
            "org/name",
            "main",
            "text_encoder",
        ),
        ("https://huggingface.co/bert-base-uncased", "hf-model", "bert-base-uncased", None, None),
        (
            "https://huggingface.co/bert-base-uncased/tree/main",
            "hf-model",
            "bert-base-uncased",
            "main",
            None,
        ),
        (
            "https://www.huggingface.co/openai/whisper-tiny",
            "hf-model",
            "openai/whisper-tiny",
            None,
            None,
        ),
        (
            "http://huggingface.co/openai/whisper-tiny?library=transformers#usage",
            "hf-model",
            "openai/whisper-tiny",
            None,
            None,
        ),
        ("https://hf.co/openai/whisper-tiny", "hf-model", "openai/whisper-tiny", None, None),
        (
            "https://huggingface.co/datasets/bookcorpus/bookcorpus",
            "hf-dataset",
            "bookcorpus/bookcorpus",
            None,
            None,
        ),
        (
            "https://huggingface.co/datasets/rajpurkar/squad/tree/main/plain_text",
            "hf-dataset",
            "rajpurkar/squad",
            "main",
            "plain_text",
        ),
        ("https://huggingface.co/datasets/squad", "hf-dataset", "squad", None, None),
        ("https://github.com/google-research/bert", "github", "google-research/bert", None, None),
        (
            "https://github.com/google-research/bert.git",
            "github",
            "google-research/bert",
            None,
            None,
        ),
        ("https://github.com/google-research/bert/", "github", "google-research/bert", None, None),
        ("https://www.github.com/openai/whisper", "github", "openai/whisper", None, None),
        (
            "https://github.com/huggingface/transformers-research-projects/tree/main/distillation",
            "github",
            "huggingface/transformers-research-projects",
            "main",
            "distillation",
        ),
        ("https://github.com/a/b/tree/dev/x/y/", "github", "a/b", "dev", "x/y"),
        ("https://github.com/a/b/blob/master/README.md", "github", "a/b", "master", None),
        ("https://github.com/a/b/blob/master/docs/x.md", "github", "a/b", "master", "docs"),
        (
            "https://huggingface.co/parthvpatil18/" + "a" * 95 + "b",
            "hf-model",
            "parthvpatil18/" + "a" * 95 + "b",
            None,
            None,
        ),
    ],
)
def test_accepted_url_forms_parse_to_their_repository(
    url: str, kind: str, repo_id: str, revision: str | None, subdir: str | None
) -> None:
    ref = parse_source_url(url, STRICT)
    assert (ref.kind, ref.repo_id, ref.revision, ref.subdir) == (kind, repo_id, revision, subdir)
    assert ref.url == url


def test_dataset_pages_elsewhere_are_web_refs_named_by_their_path() -> None:
    ref = parse_source_url("https://www.kaggle.com/datasets/hliang001/flickr2k")
    assert ref == SourceRef(
        kind="web",
        url="https://www.kaggle.com/datasets/hliang001/flickr2k",
        host="www.kaggle.com",
        path="/datasets/hliang001/flickr2k",
    )
    assert parse_source_url("https://huggingface.co/spaces/org/demo").kind == "web"


def test_legacy_ids_have_no_owner_but_a_name() -> None:
    ref = parse_source_url("https://huggingface.co/bert-base-uncased")
    assert ref.owner is None and ref.name == "bert-base-uncased"
    assert ref.hf_repo_type == "model"
    assert parse_source_url("https://huggingface.co/datasets/a/b").hf_repo_type == "dataset"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://huggingface.co/google-bert/bert-base-uncased",
        "file:///etc/passwd",
        "git@github.com:google-research/bert.git",
        "javascript:alert(1)",
        "huggingface.co/google-bert/bert-base-uncased",
        "https://user:secret@huggingface.co/google-bert/bert-base-uncased",
        "https://token@github.com/google-research/bert",
        "https://huggingface.co/",
        "https://huggingface.co/models",
        "https://huggingface.co/docs/transformers",
        "https://huggingface.co/datasets",
        "https://huggingface.co/org/na$me",
        "https://huggingface.co/org/../etc",
        "https://github.com/google-research",
        "https://github.com/features/actions",
        "https://github.com/orgs/google/repositories",
        "https://github.com/a/b/tree/main/../../x",
        "https://github.com/a/b/tree/../x",
        "https://huggingface.co/a/b/tree/ma:in",
        "https://huggingface.co/a/b/tree/a%20b",
        "https://huggingface.co:99999/a/b",
    ],
)
def test_malformed_or_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidSourceUrl):
        parse_source_url(url, STRICT)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/org/model",
        "http://localhost/data.csv",
        "http://10.0.0.7/internal",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/x",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/x",
    ],
)
def test_internal_addresses_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidSourceUrl, match="internal address"):
        parse_source_url(url, STRICT)
    allowed = load_settings(allow_private_upstream=True)
    assert parse_source_url(url, allowed).kind == "web"


def test_the_configured_hub_endpoint_is_a_hugging_face_host() -> None:
    settings = load_settings(hf_endpoint="http://127.0.0.1:5555", allow_private_upstream=True)
    ref = parse_source_url("http://127.0.0.1:5555/google-bert/bert-base-uncased", settings)
    assert (ref.kind, ref.repo_id) == ("hf-model", "google-bert/bert-base-uncased")
    other_port = parse_source_url("http://127.0.0.1:5556/google-bert/bert-base-uncased", settings)
    assert other_port.kind == "web"
    strict = load_settings(hf_endpoint="http://127.0.0.1:5555", allow_private_upstream=False)
    with pytest.raises(InvalidSourceUrl):
        parse_source_url("http://127.0.0.1:5555/google-bert/bert-base-uncased", strict)
