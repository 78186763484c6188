"""More hostile and odd uploads (``tmr.sources.upload``): over-long names and paths, encrypted and
duplicate entries, an archive whose entries are each small but whose total is a bomb, and
metadata files that are too big, not UTF-8, not JSON or nested too deeply. Every refusal is an
``InvalidUpload`` naming the entry, and a refused archive leaves the extraction folder empty."""

from __future__ import annotations

import base64
import json
import os
import zipfile
from pathlib import Path

import pytest

from tmr.config import Settings, load_settings
from tmr.errors import InvalidUpload
from tmr.sources.card import PROBLEMS_KEY
from tmr.sources.upload import (
    MAX_CONFIG_BYTES,
    MAX_EXTRA_JSON_BYTES,
    bundle_snapshot,
    extract_bundle,
    safe_entry_name,
)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def refused(archive: Path, dest: Path, settings: Settings) -> InvalidUpload:
    with pytest.raises(InvalidUpload) as caught:
        extract_bundle(archive, dest, settings)
    assert not dest.exists() or list(dest.iterdir()) == []  # nothing left behind
    return caught.value


def test_name_parts_and_whole_paths_have_byte_limits() -> None:
    with pytest.raises(InvalidUpload) as caught:
        safe_entry_name("a/" + "n" * 256)
    assert caught.value.message == (
        f"zip entry {('a/' + 'n' * 256)[:80]!r}… has a name part of 256 bytes; at most 255 bytes "
        "per folder or file name"
    )
    deep = "/".join(["p" * 250] * 5)  # every part allowed, the path too long for a file system
    with pytest.raises(InvalidUpload) as caught:
        safe_entry_name(deep)
    assert caught.value.message == (
        f"zip entry {deep[:80]!r}… has a path of {len(deep)} bytes; at most 1024 bytes"
    )
    assert safe_entry_name("/".join(["p" * 200] * 5)) == "/".join(["p" * 200] * 5)


def test_a_path_too_deep_for_the_file_system_is_refused_not_a_server_error(
    tmp_path: Path, settings: Settings
) -> None:
    deep = "/".join(["p" * 250] * 20) + "/f.txt"  # would fail the write: ENAMETOOLONG
    archive = make_zip(tmp_path / "deep.zip", {"README.md": b"# hi", deep: b"deep"})
    error = refused(archive, tmp_path / "out", settings)
    assert error.message.startswith(f"zip entry {deep[:80]!r}… has a path of ")
    assert str(tmp_path) not in error.message


def test_encrypted_entries_are_refused(tmp_path: Path, settings: Settings) -> None:
    raw = bytearray(make_zip(tmp_path / "plain.zip", {"secret.txt": b"data"}).read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central
        at = raw.find(signature) + offset
        raw[at] |= 0x1  # the "encrypted" flag bit
    archive = tmp_path / "encrypted.zip"
    archive.write_bytes(bytes(raw))
    error = refused(archive, tmp_path / "out", settings)
    assert error.message == "zip entry 'secret.txt' is encrypted"


def test_two_entries_that_name_the_same_file_are_refused(
    tmp_path: Path, settings: Settings
) -> None:
    archive = make_zip(tmp_path / "twice.zip", {"x.txt": b"one", "./x.txt": b"two"})
    error = refused(archive, tmp_path / "out", settings)
    assert error.message == "zip entry 'x.txt' appears twice"


def test_many_small_entries_that_add_up_to_a_bomb_are_refused(tmp_path: Path) -> None:
    settings = load_settings(max_zip_ratio=5)
    zeros = b"\0" * 600_000  # each entry under the 1 MiB grace, the total over it
    archive = make_zip(tmp_path / "bomb.zip", {"d/a.bin": zeros, "b.bin": zeros, "c.bin": zeros})
    error = refused(archive, tmp_path / "out", settings)  # d/ (already written) is removed too
    assert error.message == (
        "the zip expands more than 5 times its own size: refused as a decompression bomb"
    )
    assert error.details == {"entry": "b.bin"}


def test_metadata_files_that_cannot_be_read_are_recorded_as_problems(
    tmp_path: Path, settings: Settings
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    card = b"---\nlicense: [mit, apache-2.0]\nversion: 2\n---\n# odd\n"
    archive = make_zip(
        tmp_path / "odd.zip",
        {
            "README.md": card,
            "config.json": b"\xff\xfe not utf-8",
            "adapter_config.json": nested,
            "generation_config.json": b"{not json",
            "tokenizer.json": b'{"vocab": "' + b"v" * (MAX_EXTRA_JSON_BYTES + 1) + b'"}',
            "preprocessor_config.json": b'{"size": 224}',
            "model.safetensors": b"\0" * 100,
        },
    )

    bundle = extract_bundle(archive, tmp_path / "out", settings)

    assert bundle.config is None
    assert bundle.problems["config.json"].startswith("config.json is not UTF-8 text: ")
    assert bundle.problems["adapter_config.json"] == (
        "adapter_config.json is not valid JSON: nested too deeply"
    )
    assert bundle.problems["generation_config.json"].startswith(
        "generation_config.json is not valid JSON: "
    )
    assert "tokenizer.json" not in bundle.problems  # too big to read, and nothing reads it
    assert bundle.extra_json == {"preprocessor_config.json": {"size": 224}}
    assert bundle.license == "mit"  # the first of a list
    assert bundle.version == "2"
    snapshot = bundle_snapshot(bundle, "upload://alice/odd.zip", "odd")
    assert snapshot.hf is not None
    assert snapshot.hf.extra_json[PROBLEMS_KEY] == bundle.problems
    assert snapshot.hf.license == "mit"


def test_a_config_larger_than_the_limit_is_not_read(tmp_path: Path, settings: Settings) -> None:
    pad = base64.b64encode(os.urandom(MAX_CONFIG_BYTES * 3 // 4)).decode()  # incompressible
    big = json.dumps({"pad": pad}).encode()
    archive = make_zip(tmp_path / "big.zip", {"config.json": big, "README.md": b"# big"})
    bundle = extract_bundle(archive, tmp_path / "out", settings)
    assert bundle.config is None
    assert bundle.problems["config.json"] == (
        f"config.json is larger than {MAX_CONFIG_BYTES} bytes, not read"
    )


def test_card_tags_given_as_one_string_or_a_mixed_list(tmp_path: Path, settings: Settings) -> None:
    tags = {}
    for label, line in (("one", b"tags: uploaded"), ("mixed", b"tags: [a, 1, b]")):
        card = b"---\n" + line + b"\n---\n# card\n"
        archive = make_zip(tmp_path / f"{label}.zip", {"README.md": card, "w.bin": b"1"})
        bundle = extract_bundle(archive, tmp_path / label, settings)
        snapshot = bundle_snapshot(bundle, f"upload://alice/{label}.zip", label)
        assert snapshot.hf is not None
        tags[label] = snapshot.hf.tags
    assert tags == {"one": ["uploaded"], "mixed": ["a", "b"]}
