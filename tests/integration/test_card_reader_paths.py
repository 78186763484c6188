"""One card reader for fetched and uploaded models: a YAML alias bomb is refused on both paths,
fast, and the same card yields the same parents and links whichever way it arrived."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

from tests.replay.hf_hub import HfHubReplay
from tests.support.fake_hub import add_model
from tmr.config import Settings
from tmr.sources import fetch_primary
from tmr.sources.card import PROBLEMS_KEY
from tmr.sources.upload import bundle_snapshot, extract_bundle


def alias_bomb() -> bytes:
    """~600 bytes of YAML that expand to 9**9 strings (hundreds of GB as JSON)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return ("---\nlicense: mit\n" + "\n".join(lines) + "\n---\n# Bomb\n").encode()


CARD = b"""---
license: apache-2.0
base_model: google-bert/bert-base-uncased
datasets:
  - bookcorpus/bookcorpus
---
# A fine-tune
Code at https://github.com/google-research/bert and data at
https://huggingface.co/datasets/rajpurkar/squad.
"""


def _zip(tmp_path: Path, files: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    path = tmp_path / "bundle.zip"
    path.write_bytes(buf.getvalue())
    return path


def test_alias_bomb_is_refused_on_the_upload_path_quickly(tmp_path: Path, settings: Settings):
    archive = _zip(tmp_path, {"README.md": alias_bomb(), "w.bin": b"\0" * 10})
    start = time.perf_counter()
    bundle = extract_bundle(archive, tmp_path / "out", settings)
    snap = bundle_snapshot(bundle, "upload://x/b.zip", "b")
    elapsed = time.perf_counter() - start
    assert elapsed < 0.1, elapsed
    assert snap.hf is not None and snap.hf.card_data == {}
    assert "aliases" in snap.hf.extra_json[PROBLEMS_KEY]["README.md"]


def test_alias_bomb_is_refused_on_the_fetch_path_quickly(
    upstream_env: Settings, hf_replay_server: HfHubReplay, tmp_path: Path
):
    url = add_model(hf_replay_server, tmp_path, "bomber/laughs", {"README.md": alias_bomb()})
    fetch_primary(url, upstream_env)  # warm the connection; the parse is what is timed
    start = time.perf_counter()
    snap = fetch_primary(url, upstream_env)
    elapsed = time.perf_counter() - start
    assert snap.hf is not None and snap.hf.card_data == {}
    assert "aliases" in snap.hf.extra_json[PROBLEMS_KEY]["README.md"]
    assert len(snap.model_dump_json()) < 10_000
    from tmr.sources.card import read_front_matter

    start = time.perf_counter()
    data, problem, _ = read_front_matter(alias_bomb().decode())
    assert time.perf_counter() - start < 0.1 and data == {} and problem
    assert elapsed < 2.0  # the whole fetch over loopback, parse included


def test_same_card_gives_same_parents_and_links_on_both_paths(
    upstream_env: Settings, hf_replay_server: HfHubReplay, tmp_path: Path
):
    config = b'{"model_type": "bert", "_name_or_path": "google-bert/bert-base-uncased"}'
    url = add_model(
        hf_replay_server, tmp_path, "acme/tuned", {"README.md": CARD, "config.json": config}
    )
    fetched = fetch_primary(url, upstream_env)
    archive = _zip(tmp_path, {"README.md": CARD, "config.json": config})
    bundle = extract_bundle(archive, tmp_path / "out", upstream_env)
    uploaded = bundle_snapshot(bundle, "upload://x/tuned.zip", "tuned")
    assert [p.model_dump() for p in fetched.parents] == [p.model_dump() for p in uploaded.parents]
    assert fetched.linked_dataset_urls == uploaded.linked_dataset_urls
    assert fetched.linked_code_urls == uploaded.linked_code_urls
    assert fetched.linked_code_urls == ["https://github.com/google-research/bert"]
    assert fetched.hf is not None and uploaded.hf is not None
    assert fetched.hf.card_data == uploaded.hf.card_data
