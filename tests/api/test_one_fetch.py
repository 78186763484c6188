"""One fetch per registration: what the fetch read is staged and stored, never downloaded twice.

The replays log every request; a registration must ask for each upstream file at most once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.replay.github_api import GitHubReplay
from tests.replay.hf_hub import HfHubReplay
from tests.support.fake_hub import add_model

CARD = b"""---
license: mit
---
# Counted model
"""


@pytest.fixture
def app(make_settings, hf_replay, github_replay):  # type: ignore[no-untyped-def]
    from tmr.app import create_app

    settings = make_settings(
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
    )
    return TestClient(create_app(settings))


def _file_gets(requests: list[tuple[str, str]], marker: str) -> Counter[str]:
    paths = [urlsplit(p).path for m, p in requests if m == "GET"]
    return Counter(p.split(marker, 1)[1] for p in paths if marker in p)


def test_each_hugging_face_file_is_fetched_once_per_registration(
    app: TestClient, hf_replay_server: HfHubReplay, tmp_path: Path
):
    files: dict[str, bytes | int] = {
        "README.md": CARD,
        "config.json": b'{"model_type": "bert", "hidden_size": 8}',
        "tokenizer_config.json": b'{"do_lower_case": true}',
        "special_tokens_map.json": b'{"unk_token": "[UNK]"}',
        "vocab.txt": b"[PAD]\n[UNK]\nhello\n",
        "model.safetensors": 4000,
    }
    url = add_model(hf_replay_server, tmp_path, "acme/counted", files)
    with app as c:
        auth = {"X-Authorization": login(c)}
        start = len(hf_replay_server.requests)
        r = c.post("/artifact/model", headers=auth, json={"url": url})
        assert r.status_code == 201, r.text
        counts = _file_gets(hf_replay_server.requests[start:], "/acme/counted/resolve/")
    by_file = Counter({path.split("/", 1)[1]: n for path, n in counts.items()})
    assert max(by_file.values()) == 1, by_file
    # the card, config and small JSON were read by the fetch and stored from that read
    assert {"README.md", "config.json", "tokenizer_config.json"} <= set(by_file)
    assert "model.safetensors" not in by_file  # weights wait for the first download
    with app as c:
        auth = {"X-Authorization": login(c)}
        aid = r.json()["metadata"]["id"]
        card = c.get(f"/download/{aid}/files/README.md", headers=auth)
        assert card.status_code == 200 and card.content == CARD


def test_a_github_readme_read_by_the_fetch_is_not_downloaded_again(
    app: TestClient, github_replay_server: GitHubReplay
):
    with app as c:
        auth = {"X-Authorization": login(c)}
        start = len(github_replay_server.requests)
        r = c.post(
            "/artifact/code", headers=auth, json={"url": "https://github.com/openai/whisper"}
        )
        assert r.status_code == 201, r.text
        requests = github_replay_server.requests[start:]
    contents = _file_gets(requests, "/repos/openai/whisper/contents/")
    assert max(contents.values(), default=1) == 1, contents
    assert "README.md" not in contents and "LICENSE" not in contents
    assert sum(1 for m, p in requests if m == "GET" and "/readme" in p) == 1
