"""Safe extraction of uploaded Hugging-Face-style zips (``tmr.sources.upload``).

Every hostile archive here is built in the test itself: traversal names, symlink entries, a 1 GiB
zip bomb streamed through zipfile, a header that lies about the size, too many entries, a file
that is not a zip; plus good bundles whose metadata ends up in the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from tmr.config import Settings, load_settings
from tmr.errors import InvalidUpload
from tmr.sources import upload
from tmr.sources.card import PROBLEMS_KEY, read_front_matter
from tmr.sources.upload import bundle_snapshot, extract_bundle, safe_entry_name

CARD = """---
license: apache-2.0
version: 1.2.3
base_model: google-bert/bert-base-uncased
datasets:
  - stanfordnlp/imdb
tags: [text-classification, uploaded]
pipeline_tag: text-classification
created: 2024-05-01
---
# Acme sentiment

A fine-tuned BERT for reviews.
"""
CONFIG = {"_name_or_path": "google-bert/bert-base-uncased", "model_type": "bert"}
WEIGHTS = bytes(range(256)) * 1000


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def make_zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def good_entries(prefix: str = "") -> dict[str, bytes]:
    return {
        f"{prefix}README.md": CARD.encode(),
        f"{prefix}config.json": json.dumps(CONFIG).encode(),
        f"{prefix}model.safetensors": WEIGHTS,
        f"{prefix}tokenizer_config.json": b'{"do_lower_case": true}',
        f"{prefix}1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    }


def test_good_bundle_is_extracted_with_sizes_hashes_and_metadata(
    tmp_path: Path, settings: Settings
) -> None:
    archive = make_zip(tmp_path / "good.zip", good_entries())
    dest = tmp_path / "out"

    bundle = extract_bundle(archive, dest, settings)

    by_path = {f.path: f for f in bundle.files}
    assert set(by_path) == set(good_entries())
    weights = by_path["model.safetensors"]
    assert weights.size == len(WEIGHTS)
    assert weights.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert (dest / "model.safetensors").read_bytes() == WEIGHTS
    assert bundle.card_text.startswith("---\nlicense")
    assert bundle.card_data["license"] == "apache-2.0"
    assert bundle.card_data["created"] == "2024-05-01"  # dates become JSON-safe strings
    assert bundle.config == CONFIG
    assert bundle.extra_json["tokenizer_config.json"] == {"do_lower_case": True}
    assert bundle.extra_json["1_Pooling/config.json"] == {"pooling_mode_mean_tokens": True}
    assert bundle.license == "apache-2.0"
    assert bundle.version == "1.2.3"
    assert bundle.problems == {}
    assert bundle.stripped_prefix is None


def test_bundle_snapshot_is_an_upload_snapshot_shaped_like_hugging_face(
    tmp_path: Path, settings: Settings
) -> None:
    bundle = extract_bundle(make_zip(tmp_path / "g.zip", good_entries()), tmp_path / "o", settings)

    snap = bundle_snapshot(bundle, "upload://acme-sentiment.zip", "acme-sentiment")

    assert snap.source == "upload"
    assert snap.url == "upload://acme-sentiment.zip"
    assert snap.hf is not None
    assert snap.hf.repo_id == "acme-sentiment"
    assert snap.hf.license == "apache-2.0"
    assert snap.hf.git_tags == ["1.2.3"]
    assert snap.hf.tags == ["text-classification", "uploaded"]
    assert snap.hf.pipeline_tag == "text-classification"
    assert snap.total_bytes == bundle.total_bytes
    assert "A fine-tuned BERT" in snap.readme
    assert [(p.name, p.source) for p in snap.parents] == [
        ("google-bert/bert-base-uncased", "config_json")
    ]
    assert snap.linked_dataset_urls == ["https://huggingface.co/datasets/stanfordnlp/imdb"]
    assert snap.hf.sha == bundle.digest and len(bundle.digest) == 64
    assert json.loads(snap.model_dump_json())["hf"]["card_data"]["version"] == "1.2.3"


def test_single_top_level_folder_is_stripped(tmp_path: Path, settings: Settings) -> None:
    with zipfile.ZipFile(tmp_path / "nested.zip", "w") as zf:
        zf.writestr("acme-sentiment/", b"")  # an explicit folder entry, as zip tools write
        for name, data in good_entries("acme-sentiment/").items():
            zf.writestr(name, data)

    bundle = extract_bundle(tmp_path / "nested.zip", tmp_path / "out", settings)

    assert bundle.stripped_prefix == "acme-sentiment/"
    assert {f.path for f in bundle.files} == set(good_entries())
    assert (tmp_path / "out" / "README.md").is_file()
    assert bundle.config == CONFIG


def test_two_top_level_folders_are_kept(tmp_path: Path, settings: Settings) -> None:
    archive = make_zip(tmp_path / "two.zip", {"a/README.md": b"# a", "b/x.json": b"{}"})
    bundle = extract_bundle(archive, tmp_path / "out", settings)
    assert bundle.stripped_prefix is None
    assert {f.path for f in bundle.files} == {"a/README.md", "b/x.json"}


def test_macos_junk_is_skipped(tmp_path: Path, settings: Settings) -> None:
    entries = good_entries() | {"__MACOSX/._README.md": b"junk", ".DS_Store": b"junk"}
    bundle = extract_bundle(make_zip(tmp_path / "mac.zip", entries), tmp_path / "out", settings)
    assert sorted(bundle.skipped) == [".DS_Store", "__MACOSX/._README.md"]
    assert not (tmp_path / "out" / "__MACOSX").exists()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "escapes the bundle with '..'"),
        ("model/../../evil.txt", "escapes the bundle with '..'"),
        ("..\\..\\evil.txt", "escapes the bundle with '..'"),
        ("/etc/passwd", "has an absolute path"),
        ("C:\\Windows\\evil.dll", "has an absolute path"),
        ("c:evil.txt", "has an absolute path"),
        ("bad\x01name", "has control characters in its name"),
    ],
)
def test_traversal_entries_are_refused_and_nothing_is_written(
    tmp_path: Path, settings: Settings, name: str, reason: str
) -> None:
    archive = make_zip(tmp_path / "evil.zip", {"README.md": b"# fine", name: b"pwned"})
    dest = tmp_path / "sub" / "out"
    with pytest.raises(InvalidUpload, match=reason):
        extract_bundle(archive, dest, settings)
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "sub" / "evil.txt").exists()
    assert list(dest.iterdir()) == []


def test_symlink_entry_is_refused(tmp_path: Path, settings: Settings) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("README.md", b"# fine")
        link = zipfile.ZipInfo("weights.bin")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(InvalidUpload, match="symbolic link"):
        extract_bundle(archive, tmp_path / "out", settings)
    assert not (tmp_path / "out" / "weights.bin").exists()


def test_device_entry_is_refused(tmp_path: Path, settings: Settings) -> None:
    archive = tmp_path / "dev.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        dev = zipfile.ZipInfo("null")
        dev.external_attr = (stat.S_IFCHR | 0o666) << 16
        zf.writestr(dev, b"")
    with pytest.raises(InvalidUpload, match="special file"):
        extract_bundle(archive, tmp_path / "out", settings)


def write_zero_bomb(path: Path, size: int) -> Path:
    """A zip holding one entry of ``size`` zero bytes, written streaming (deflate ~1000:1)."""
    zero = bytes(1 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("model.safetensors", "w", force_zip64=True) as out,
    ):
        for _ in range(size // len(zero)):
            out.write(zero)
    return path


def test_zip_bomb_is_refused_after_its_first_megabytes(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused while streaming: at most the allowed ratio times the archive is ever written."""
    bomb = write_zero_bomb(tmp_path / "bomb.zip", 256 << 20)
    assert bomb.stat().st_size < 1 << 20  # deflate ~1000:1
    written: list[int] = []
    real_add = upload._Budget.add

    def counting_add(self: upload._Budget, name: str, w: int, n: int, consumed: int) -> None:
        written.append(self.total + n)
        real_add(self, name, w, n, consumed)

    monkeypatch.setattr(upload._Budget, "add", counting_add)
    dest = tmp_path / "out"
    with pytest.raises(InvalidUpload, match="decompression bomb"):
        extract_bundle(bomb, dest, settings)
    bound = settings.max_zip_ratio * bomb.stat().st_size + upload.RATIO_GRACE_BYTES + upload.CHUNK
    assert max(written) <= bound < 256 << 20, f"{max(written)} bytes unpacked before the refusal"
    assert list(dest.iterdir()) == []


def test_bomb_within_the_ratio_but_over_the_unpacked_limit_is_refused(
    tmp_path: Path, settings: Settings
) -> None:
    tight = settings.model_copy(update={"max_unpacked_bytes": 4 << 20, "max_zip_ratio": 1e9})
    bomb = write_zero_bomb(tmp_path / "bomb.zip", 16 << 20)
    with pytest.raises(InvalidUpload, match="unpacked bytes"):
        extract_bundle(bomb, tmp_path / "out", tight)


def lie_about_size(archive: Path, name: str, claimed: int) -> None:
    """Rewrite the uncompressed size of ``name`` in both its local and central headers."""
    data = bytearray(archive.read_bytes())
    encoded = name.encode()
    for sig, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        name_offset = 30 if sig == b"PK\x03\x04" else 46
        pos = data.find(sig)
        while pos != -1:
            if data[pos + name_offset : pos + name_offset + len(encoded)] == encoded:
                struct.pack_into("<I", data, pos + size_offset, claimed)
            pos = data.find(sig, pos + 4)
    archive.write_bytes(bytes(data))


def test_header_that_understates_the_size_is_refused(tmp_path: Path, settings: Settings) -> None:
    archive = make_zip(tmp_path / "liar.zip", {"README.md": b"# x", "w.bin": bytes(3 << 20)})
    lie_about_size(archive, "w.bin", 1000)  # claims 1000 bytes, holds 3 MiB of zeros
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("w.bin").file_size == 1000
    with pytest.raises(InvalidUpload, match="the zip archive is corrupt or unsupported"):
        extract_bundle(archive, tmp_path / "out", settings)
    assert list((tmp_path / "out").iterdir()) == []


def test_too_many_entries_are_refused(tmp_path: Path, settings: Settings) -> None:
    few = settings.model_copy(update={"max_zip_entries": 10})
    archive = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(11)})
    with pytest.raises(InvalidUpload, match="11 entries; at most 10"):
        extract_bundle(archive, tmp_path / "out", few)


def test_upload_larger_than_the_limit_is_refused(tmp_path: Path, settings: Settings) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 100})
    archive = make_zip(tmp_path / "big.zip", {"w.bin": bytes(range(256)) * 10})
    with pytest.raises(InvalidUpload, match="at most 100 are allowed"):
        extract_bundle(archive, tmp_path / "out", small)


@pytest.mark.parametrize(
    "content", [b"", b"not a zip at all", b"PK\x03\x04 truncated", b"%PDF-1.7\n..."]
)
def test_not_a_zip_is_refused(tmp_path: Path, settings: Settings, content: bytes) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_bytes(content)
    with pytest.raises(InvalidUpload, match="not a readable zip"):
        extract_bundle(fake, tmp_path / "out", settings)


def test_corrupted_member_data_is_refused(tmp_path: Path, settings: Settings) -> None:
    archive = make_zip(
        tmp_path / "bad.zip", {"w.bin": bytes(range(256)) * 64}, method=zipfile.ZIP_STORED
    )
    data = bytearray(archive.read_bytes())
    data[100] ^= 0xFF  # flip a byte of the stored member: the CRC no longer matches
    archive.write_bytes(bytes(data))
    with pytest.raises(InvalidUpload, match="corrupt"):
        extract_bundle(archive, tmp_path / "out", settings)


def test_empty_zip_and_duplicates_are_refused(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(InvalidUpload, match="no files"):
        extract_bundle(make_zip(tmp_path / "e.zip", {}), tmp_path / "o1", settings)
    dup = tmp_path / "dup.zip"
    with pytest.warns(UserWarning), zipfile.ZipFile(dup, "w") as zf:
        zf.writestr("a.txt", b"1")
        zf.writestr("a.txt", b"2")
    with pytest.raises(InvalidUpload, match="appears twice"):
        extract_bundle(dup, tmp_path / "o2", settings)
    clash = make_zip(tmp_path / "clash.zip", {"a": b"file", "a/b": b"inside"})
    with pytest.raises(InvalidUpload, match="both a file and a folder"):
        extract_bundle(clash, tmp_path / "o3", settings)


def test_malformed_config_is_recorded_not_fatal(tmp_path: Path, settings: Settings) -> None:
    entries = good_entries() | {"config.json": b'{"model_type": "bert",,}'}
    bundle = extract_bundle(make_zip(tmp_path / "m.zip", entries), tmp_path / "out", settings)

    assert bundle.config is None
    assert "config.json" in bundle.problems
    assert "not valid JSON" in bundle.problems["config.json"]
    snap = bundle_snapshot(bundle, "upload://m.zip", "m")
    assert snap.hf is not None and snap.hf.config is None
    assert "config.json" in snap.hf.extra_json[PROBLEMS_KEY]
    assert [p.source for p in snap.parents] == ["model_card"]  # the card still names the base


def test_config_that_is_not_an_object_is_recorded(tmp_path: Path, settings: Settings) -> None:
    entries = {"README.md": b"# x", "config.json": b"[1, 2]"}
    bundle = extract_bundle(make_zip(tmp_path / "m.zip", entries), tmp_path / "out", settings)
    assert bundle.config is None
    assert bundle.problems["config.json"] == "config.json is not a JSON object"


@pytest.mark.parametrize(
    ("card", "problem"),
    [
        ("---\nlicense: [mit\n---\n# x", "malformed"),
        ("---\nlicense: mit\n# never closed", "not closed"),
        ("---\n- a\n- b\n---\n# x", "not a mapping"),
        ("---\na: &x [1, 2]\nb: [*x, *x]\n---\n# x", "aliases"),
    ],
)
def test_malformed_front_matter_gives_empty_card_data_and_a_note(card: str, problem: str) -> None:
    data, note, _ = read_front_matter(card)
    assert data == {}
    assert note is not None and problem in note


def test_card_without_front_matter_has_no_problem(tmp_path: Path, settings: Settings) -> None:
    archive = make_zip(tmp_path / "p.zip", {"readme.md": b"# Plain card\n", "w.bin": b"\0"})
    bundle = extract_bundle(archive, tmp_path / "out", settings)
    assert bundle.card_text == "# Plain card\n"
    assert bundle.card_data == {} and bundle.problems == {}
    assert bundle.license is None and bundle.version is None


def test_adapter_config_names_the_base_model(tmp_path: Path, settings: Settings) -> None:
    adapter = {"base_model_name_or_path": "meta-llama/Llama-3.2-1B", "r": 8}
    archive = make_zip(
        tmp_path / "lora.zip",
        {"README.md": b"# lora", "adapter_config.json": json.dumps(adapter).encode()},
    )
    bundle = extract_bundle(archive, tmp_path / "out", settings)
    snap = bundle_snapshot(bundle, "upload://lora.zip", "lora")
    assert [(p.name, p.source) for p in snap.parents] == [
        ("meta-llama/Llama-3.2-1B", "adapter_config")
    ]


def test_destination_must_be_empty(tmp_path: Path, settings: Settings) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "existing").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        extract_bundle(make_zip(tmp_path / "g.zip", good_entries()), dest, settings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a/b.txt", "a/b.txt"), ("./a//b.txt", "a/b.txt"), ("a\\b.txt", "a/b.txt"), ("d/", "d/")],
)
def test_entry_names_are_normalised(raw: str, expected: str) -> None:
    assert safe_entry_name(raw) == expected
