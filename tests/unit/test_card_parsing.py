"""Parents, linked datasets and linked code are read from cards and configs, malformed or not."""

from __future__ import annotations

from typing import Any

import pytest

from tmr.domain.snapshot import HfRepo
from tmr.sources.card import (
    find_parents,
    linked_code_urls,
    linked_dataset_urls,
    parse_front_matter,
)


def repo(
    repo_id: str = "me/child",
    *,
    card: str = "",
    card_data: dict[str, Any] | None = None,
    config: Any = None,
    adapter: Any = None,
    tags: list[str] | None = None,
) -> HfRepo:
    extra = {"adapter_config.json": adapter} if adapter is not None else {}
    return HfRepo(
        repo_id=repo_id,
        card_text=card,
        card_data=card_data if card_data is not None else parse_front_matter(card)[0],
        config=config if isinstance(config, dict) else None,
        extra_json=extra,
        tags=tags or [],
    )


def test_front_matter_is_split_from_the_body() -> None:
    data, body = parse_front_matter("---\nlicense: mit\nbase_model: a/b\n---\n# Title\ntext")
    assert data == {"license": "mit", "base_model": "a/b"}
    assert body == "# Title\ntext"


def test_front_matter_is_json_safe() -> None:
    data, _ = parse_front_matter("---\ndate: 2023-05-01\n1: one\nlicense: mit\n---\n")
    assert data == {"date": "2023-05-01", "1": "one", "license": "mit"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# no front matter\n---\nlicense: mit\n---\n",
        "---\nlicense: [mit\n---\nbody",  # broken YAML
        "---\n- a list\n- not a mapping\n---\nbody",
        "---\n---\nbody",
        "---\nlicense: mit\n",  # never closed
    ],
)
def test_missing_or_malformed_front_matter_is_empty(text: str) -> None:
    assert parse_front_matter(text)[0] == {}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"config": {"_name_or_path": "microsoft/resnet-50"}},
            [("microsoft/resnet-50", "config_json")],
        ),
        (
            {"card_data": {"base_model": "microsoft/resnet-50"}},
            [("microsoft/resnet-50", "model_card")],
        ),
        (
            {"card_data": {"base_model": ["a/one", "b/two", "A/One"]}},
            [("a/one", "model_card"), ("b/two", "model_card")],
        ),
        (
            {"adapter": {"base_model_name_or_path": "meta-llama/Llama-2-7b-hf"}},
            [("meta-llama/Llama-2-7b-hf", "adapter_config")],
        ),
        # the same parent found twice keeps its first source
        (
            {
                "config": {"_name_or_path": "microsoft/resnet-50"},
                "card_data": {"base_model": "microsoft/resnet-50"},
            },
            [("microsoft/resnet-50", "config_json")],
        ),
        # a legacy id is a hub id too
        (
            {"config": {"_name_or_path": "bert-base-uncased"}},
            [("bert-base-uncased", "config_json")],
        ),
        # local paths and self references are not parents
        ({"config": {"_name_or_path": "/content/drive/MyDrive/out"}}, []),
        ({"config": {"_name_or_path": "./checkpoint-500"}}, []),
        ({"config": {"_name_or_path": "C:\\models\\x"}}, []),
        ({"config": {"_name_or_path": "~/models/x"}}, []),
        ({"config": {"_name_or_path": "me/child"}}, []),
        ({"config": {"_name_or_path": "child"}}, []),
        ({"config": {"_name_or_path": ""}}, []),
        # malformed shapes are ignored, never raised
        ({"config": {"_name_or_path": 42}}, []),
        ({"config": ["not", "a", "dict"]}, []),
        ({"card_data": {"base_model": {"id": "a/b"}}}, []),
        ({"card_data": {"base_model": [None, 3, "ok/model"]}}, [("ok/model", "model_card")]),
        ({"adapter": "not a dict"}, []),
        # the Hub's base_model tags mirror the card when its metadata was unreadable
        (
            {"tags": ["base_model:microsoft/resnet-50", "base_model:finetune:microsoft/resnet-50"]},
            [("microsoft/resnet-50", "model_card")],
        ),
        (
            {"card_data": {"base_model": "https://huggingface.co/org/base"}},
            [("org/base", "model_card")],
        ),
    ],
)
def test_parents_are_found_where_they_are_declared(
    kwargs: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert [(p.name, p.source) for p in find_parents(repo(**kwargs))] == expected


def test_a_card_with_base_model_in_front_matter_declares_its_parent() -> None:
    card = "---\nbase_model: microsoft/resnet-50\nlicense: apache-2.0\n---\n# trained-gender\n"
    assert [(p.name, p.source) for p in find_parents(repo(card=card))] == [
        ("microsoft/resnet-50", "model_card")
    ]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"card_data": {"datasets": ["bookcorpus", "wikipedia"]}},
            [
                "https://huggingface.co/datasets/bookcorpus",
                "https://huggingface.co/datasets/wikipedia",
            ],
        ),
        (
            {"card_data": {"datasets": "rajpurkar/squad"}},
            ["https://huggingface.co/datasets/rajpurkar/squad"],
        ),
        (
            {"tags": ["dataset:lerobot/pusht", "license:mit"]},
            ["https://huggingface.co/datasets/lerobot/pusht"],
        ),
        (
            {"card": "Trained on [ImageNet](https://huggingface.co/datasets/ILSVRC/imagenet-1k)."},
            ["https://huggingface.co/datasets/ILSVRC/imagenet-1k"],
        ),
        # duplicates across sources collapse, case-insensitively, first spelling kept
        (
            {
                "card_data": {"datasets": ["Squad"]},
                "tags": ["dataset:squad"],
                "card": "see https://huggingface.co/datasets/squad",
            },
            ["https://huggingface.co/datasets/Squad"],
        ),
        # builder names, local paths and junk are not datasets
        ({"card_data": {"datasets": ["imagefolder", "./data", None, 7, {"x": 1}]}}, []),
        ({"card_data": {"datasets": 12}}, []),
    ],
)
def test_linked_datasets_become_hub_urls(kwargs: dict[str, Any], expected: list[str]) -> None:
    assert linked_dataset_urls(repo(**kwargs)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "first released in [this repository](https://github.com/google-research/bert).",
            ["https://github.com/google-research/bert"],
        ),
        (
            "https://github.com/google-research/bert/blob/master/README.md and "
            "https://github.com/google-research/bert and github.com/Google-Research/BERT.git",
            ["https://github.com/google-research/bert"],
        ),
        (
            "code: https://github.com/openai/whisper, https://github.com/mv-lab/swin2sr.",
            ["https://github.com/openai/whisper", "https://github.com/mv-lab/swin2sr"],
        ),
        ("![ci](https://github.com/a/b/actions/workflows/ci.yml/badge.svg)", []),
        ("![logo](https://github.com/a/b/raw/main/logo.png)", []),
        ("https://github.com/features/copilot https://github.com/sponsors/someone", []),
        ("https://github.com/onlyowner", []),
        ("https://gist.github.com/user/abcdef https://raw.githubusercontent.com/a/b/main/x", []),
        ("no links at all", []),
    ],
)
def test_linked_code_is_the_github_repositories_a_card_links(
    text: str, expected: list[str]
) -> None:
    assert linked_code_urls(text) == expected
