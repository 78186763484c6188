"""The weight scanner on damaged and odd files: a "zip" that is not one, a member whose bytes fail
their checksum, a member named like a pickle that is not one, folders inside the zip, and a
pickle longer than the scanner's opcode budget. Anything that cannot be scanned to the end is
unsafe (quarantined), never quietly safe."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest

from tests.support import pickles as P
from tmr.safety import pickles
from tmr.safety.pickles import scan_bytes


def stored_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.mkdir("archive/")
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_bytes_that_start_like_a_zip_but_are_not_one_are_unsafe() -> None:
    result = scan_bytes(b"PK\x03\x04" + b"\0" * 100, "model.pt")
    assert result.verdict == "unsafe"
    assert result.unsafe == ("model.pt: looks like a zip but cannot be read as one",)


def test_a_member_that_fails_its_checksum_is_unsafe() -> None:
    payload = pickle.dumps({"w": [1, 2, 3]}, protocol=2)
    raw = bytearray(stored_zip({"archive/data.pkl": payload}))
    at = raw.find(payload)
    raw[at + len(payload) // 2] ^= 0xFF  # a flipped byte: the CRC no longer matches
    result = scan_bytes(bytes(raw), "model.pt")
    assert result.verdict == "unsafe"
    [reason] = result.unsafe
    assert reason.startswith("model.pt/archive/data.pkl: cannot be read (")
    assert "CRC" in reason


def test_members_named_like_pickles_that_are_not_are_noted_and_folders_skipped() -> None:
    data = stored_zip(
        {"archive/data.pkl": pickle.dumps([1, 2], protocol=2), "archive/extra.pkl": b"plain"}
    )
    result = scan_bytes(data, "model.pt")
    assert result.verdict == "safe"
    assert result.pickles == 1
    assert result.notes == ("model.pt/archive/extra.pkl: named like a pickle but not one",)
    assert result.to_dict() == {
        "verdict": "safe",
        "globals": [],
        "unsafe": [],
        "notes": ["model.pt/archive/extra.pkl: named like a pickle but not one"],
        "pickles": 1,
    }


def test_a_pickle_past_the_opcode_budget_is_not_called_safe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pickles, "MAX_OPCODES", 50)
    result = scan_bytes(pickle.dumps(list(range(100)), protocol=2), "big.pkl")
    assert result.verdict == "unsafe"
    assert result.unsafe == ("big.pkl pickle 1: more than 50 opcodes, not scanned to the end",)


def test_a_truncated_malicious_pickle_is_still_unsafe() -> None:
    evil = P.os_system_pickle()
    result = scan_bytes(evil[: len(evil) - 3], "model.bin")  # cut before STOP
    assert result.verdict == "unsafe"
    assert any("system" in u for u in result.unsafe)
    assert any("malformed after" in n for n in result.notes)
