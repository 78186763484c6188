"""The weight scanner on real pickles made here: benign checkpoints in every protocol and both
PyTorch formats pass; malicious ones, including deny-list bypasses, are unsafe; and nothing is
ever unpickled (a pickle that would create a file proves it)."""

from __future__ import annotations

import builtins
import collections
import os
import pickle
import runpy
import subprocess
from pathlib import Path

import pytest

from tests.support import pickles as P
from tmr.safety.pickles import is_pickle_candidate, scan_bytes, scan_file


@pytest.mark.parametrize("protocol", range(0, 6))
def test_benign_state_dicts_are_safe_in_every_protocol(protocol):
    result = scan_bytes(P.state_dict_pickle(protocol), "pytorch_model.bin")
    assert result.verdict == "safe", result
    assert "torch._utils._rebuild_tensor_v2" in result.globals
    assert "collections.OrderedDict" in result.globals
    assert result.unsafe == ()


@pytest.mark.parametrize("protocol", range(0, 6))
def test_plain_containers_and_numbers_are_safe(protocol):
    data = pickle.dumps({"a": [1, 2.5, "x"], "b": (None, True), "c": {1, 2}}, protocol=protocol)
    assert scan_bytes(data).verdict == "safe"


def test_zip_format_checkpoint_is_scanned_inside():
    benign = scan_bytes(P.torch_zip(P.state_dict_pickle(2)), "model.pt")
    assert benign.verdict == "safe" and benign.pickles == 1
    evil = scan_bytes(P.torch_zip(P.os_system_pickle()), "model.pt")
    assert evil.verdict == "unsafe"
    assert any("posix.system" in u or "os.system" in u for u in evil.unsafe)


def test_extra_pickle_hidden_in_a_zip_under_another_folder_is_found():
    data = P.torch_zip(P.state_dict_pickle(2), extra={"other/payload.pkl": P.os_system_pickle()})
    result = scan_bytes(data, "model.pt")
    assert result.verdict == "unsafe"
    assert any("other/payload.pkl" in u for u in result.unsafe)


def test_legacy_format_scans_every_pickle_and_stops_at_the_raw_data():
    assert scan_bytes(P.legacy_torch_file(P.state_dict_pickle(2))).verdict == "safe"
    evil = scan_bytes(P.legacy_torch_file(P.os_system_pickle()))
    assert evil.verdict == "unsafe"


def test_a_malicious_pickle_after_a_benign_one_is_found():
    data = pickle.dumps({"ok": 1}, protocol=2) + P.os_system_pickle()
    assert scan_bytes(data).verdict == "unsafe"


@pytest.mark.parametrize(
    ("fn", "args", "expected"),
    [
        (os.system, ("echo hi",), "posix.system"),
        (builtins.eval, ("1+1",), "builtins.eval"),
        (builtins.exec, ("x=1",), "builtins.exec"),
        (subprocess.Popen, (["id"],), "subprocess.Popen"),
        (runpy._run_code, ("x=1", {}), "runpy._run_code"),
        (builtins.getattr, (str, "join"), "builtins.getattr"),
        (collections.Counter, ("abc",), "collections.Counter"),  # harmless, but not listed
    ],
)
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_reduce_to_anything_off_the_allow_list_is_unsafe(fn, args, expected, protocol):
    result = scan_bytes(P.reduce_pickle(fn, args, protocol))
    assert result.verdict == "unsafe"
    # protocols 0-2 spell the builtins module "__builtin__"; the attribute is what matters
    attr = "." + expected.rsplit(".", 1)[-1] + " "
    assert any(attr in u for u in result.unsafe), result.unsafe


def test_memoized_stack_global_bypass_is_resolved():
    result = scan_bytes(P.memoized_stack_global())
    assert result.verdict == "unsafe"
    assert any("builtins.eval" in u for u in result.unsafe)
    assert "builtins.eval" in result.globals


def test_getattr_import_chain_is_unsafe():
    result = scan_bytes(P.getattr_chain())
    assert result.verdict == "unsafe"
    assert {"builtins.getattr", "builtins.__import__"} <= set(result.globals)


def test_stack_global_with_computed_operands_is_unsafe():
    result = scan_bytes(P.unresolvable_stack_global())
    assert result.verdict == "unsafe"
    assert any("not constants" in u for u in result.unsafe)


def test_posix_system_stack_global_and_protocol_0_builtin_spelling():
    assert scan_bytes(P.dup_stack_global()).verdict == "unsafe"
    old = b"c__builtin__\neval\n(S'1+1'\ntR."
    result = scan_bytes(old)
    assert result.verdict == "unsafe" and "__builtin__.eval" in result.globals


def test_inst_and_ext_opcodes_are_judged():
    inst = b"(S'id'\nios\nsystem\n."  # INST os system
    assert scan_bytes(inst).verdict == "unsafe"
    ext = b"\x80\x02\x82\x01)R."  # EXT1 1: whatever copyreg maps code 1 to
    result = scan_bytes(ext)
    assert result.verdict == "unsafe" and any("EXT1" in u for u in result.unsafe)


def test_malformed_tail_after_a_malicious_import_is_still_unsafe():
    data = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R\xff\xff"  # no STOP, junk
    assert scan_bytes(data).verdict == "unsafe"


def test_non_pickles_are_not_judged_unsafe():
    assert scan_bytes(b"\0" * 4096, "pytorch_model.bin").verdict == "not_pickle"
    assert scan_bytes(b"", "empty.bin").verdict == "not_pickle"
    assert scan_bytes(b"GGUF\x03\x00\x00\x00" + b"\1" * 100).verdict == "not_pickle"


def test_scanning_never_unpickles(tmp_path: Path):
    marker = tmp_path / "marker"
    payload = P.reduce_pickle(builtins.exec, (f"open({str(marker)!r}, 'w').write('x')",), 4)
    path = tmp_path / "model.pkl"
    path.write_bytes(payload)
    assert scan_file(path).verdict == "unsafe"
    assert not marker.exists()


def test_candidates_by_suffix():
    for name in ("pytorch_model.bin", "m.pt", "m.PTH", "x/y.pkl", "c.ckpt", "a.pickle"):
        assert is_pickle_candidate(name)
    for name in ("model.safetensors", "README.md", "config.json", "tf_model.h5"):
        assert not is_pickle_candidate(name)


@pytest.mark.parametrize("opcode", [b"\x8e", b"B", b"\x8d"])  # BINBYTES8, BINBYTES, BINUNICODE8
def test_a_forged_argument_length_is_read_as_truncated_not_allocated(tmp_path: Path, opcode):
    length = (1 << 60).to_bytes(8, "little") if opcode != b"B" else (1 << 31).to_bytes(4, "little")
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(b"\x80\x04" + opcode + length + b"xx")
    assert scan_file(path).verdict == "not_pickle"  # no MemoryError: nothing is allocated
    guarded = b"\x80\x02cposix\nsystem\n" + opcode + length + b"xx"
    path.write_bytes(guarded)
    assert scan_file(path).verdict == "unsafe"  # what was imported before the forgery counts


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pickletools on junk strings
def test_random_weight_bytes_never_raise(tmp_path: Path):
    import random

    rng = random.Random(461)
    path = tmp_path / "pytorch_model.bin"
    for _ in range(200):
        path.write_bytes(rng.randbytes(rng.randrange(1, 4096)))
        assert scan_file(path).verdict in ("not_pickle", "safe", "unsafe")
