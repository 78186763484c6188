"""Real pickles for the scanner tests, built here: benign PyTorch-style checkpoints (legacy and
zip format, without torch: stand-in modules under torch's names make ``pickle`` emit exactly the
globals torch would) and malicious ones, including known bypasses of deny-list scanners."""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def fake_torch() -> Iterator[types.ModuleType]:
    """Stand-in ``torch`` and ``torch._utils`` modules, removed afterwards."""
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> Any:
        return args

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    try:
        yield torch
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _Tensor:
    """Pickles the way a torch tensor does: _rebuild_tensor_v2(storage, offset, size, ...)."""

    def __init__(self, key: str, shape: tuple[int, ...]) -> None:
        self.key, self.shape = key, shape

    def __reduce__(self) -> Any:
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        stride = tuple(1 for _ in self.shape)
        storage = _StorageRef(self.key)
        return (rebuild, (storage, 0, self.shape, stride, False, collections.OrderedDict()))


class _StorageRef:
    def __init__(self, key: str) -> None:
        self.key = key


class _TorchPickler(pickle.Pickler):
    def __init__(self, file: Any, protocol: int) -> None:
        super().__init__(file, protocol=protocol)
        self.proto = protocol

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StorageRef):
            if self.proto < 2:  # text protocols need a string persistent id
                return f"storage:{obj.key}"
            return ("storage", sys.modules["torch"].FloatStorage, obj.key, "cpu", 4)
        return None


def state_dict_pickle(protocol: int = 2) -> bytes:
    """A benign state dict pickled like torch.save: ordered dict of tensors with storages."""
    with fake_torch():
        sd = collections.OrderedDict(
            [("encoder.weight", _Tensor("0", (2, 2))), ("encoder.bias", _Tensor("1", (2,)))]
        )
        buf = io.BytesIO()
        _TorchPickler(buf, protocol=protocol).dump(sd)
        return buf.getvalue()


def torch_zip(
    data_pkl: bytes, extra: dict[str, bytes] | None = None, folder: str = "archive"
) -> bytes:
    """The zip layout of ``torch.save`` (since PyTorch 1.6)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{folder}/data.pkl", data_pkl)
        zf.writestr(f"{folder}/byteorder", b"little")
        zf.writestr(f"{folder}/data/0", struct.pack("<4f", 1, 2, 3, 4))
        zf.writestr(f"{folder}/data/1", struct.pack("<2f", 5, 6))
        zf.writestr(f"{folder}/version", b"3\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def legacy_torch_file(model_pickle: bytes) -> bytes:
    """PyTorch's legacy format: magic, protocol, sys info, the model, storage keys, raw data."""
    out = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(obj, out, protocol=2)
    out.write(model_pickle)
    pickle.dump(["0", "1"], out, protocol=2)
    out.write(struct.pack("<q", 4) + struct.pack("<4f", 1, 2, 3, 4))
    return out.getvalue()


class _Reduce:
    def __init__(self, fn: Any, args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> Any:
        return (self.fn, self.args)


def reduce_pickle(fn: Any, args: tuple[Any, ...], protocol: int = 2) -> bytes:
    """A pickle that calls fn(*args) when loaded (never loaded by these tests)."""
    return pickle.dumps(_Reduce(fn, args), protocol=protocol)


def os_system_pickle(protocol: int = 2) -> bytes:
    return reduce_pickle(os.system, ("echo pwned",), protocol)


def memoized_stack_global() -> bytes:
    """STACK_GLOBAL whose module and name were memoized earlier and fetched with BINGET, with
    unrelated opcodes in between: defeats scanners that only look at the two previous opcodes."""
    return (
        b"\x80\x04"
        + b"\x8c\x08builtins\x94"  # SHORT_BINUNICODE 'builtins'; MEMOIZE -> 0
        + b"\x8c\x04eval\x94"  # SHORT_BINUNICODE 'eval'; MEMOIZE -> 1
        + b"0"  # POP
        + b"0"  # POP
        + b"\x8c\x05decoy\x94"  # a harmless string on top, memo 2
        + b"0"
        + b"h\x00"  # BINGET 0 -> 'builtins'
        + b"h\x01"  # BINGET 1 -> 'eval'
        + b"\x93"  # STACK_GLOBAL -> builtins.eval
        + b"\x8c\x0eprint('pwned')\x85R."  # ('print(...)',) REDUCE STOP
    )


def getattr_chain() -> bytes:
    """builtins.getattr(__import__('os'), 'system') - no 'os.system' global in the file."""
    return (
        b"\x80\x02"
        + b"cbuiltins\ngetattr\n"
        + b"cbuiltins\n__import__\n"
        + b"X\x02\x00\x00\x00os\x85R"  # __import__('os')
        + b"X\x06\x00\x00\x00system\x86R"  # getattr(os, 'system')
        + b"X\x05\x00\x00\x00id -u\x85R."  # system('id -u')
    )


def dup_stack_global() -> bytes:
    """Module and name assembled with DUP and a dict round trip; still resolved statically."""
    return (
        b"\x80\x04"
        + b"\x8c\x05posix\x8c\x06system\x93"  # STACK_GLOBAL posix.system
        + b"\x8c\x02id\x85R."
    )


def unresolvable_stack_global() -> bytes:
    """STACK_GLOBAL whose operands are computed (not constants): must be refused."""
    return (
        b"\x80\x04"
        + b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93"  # allowed global
        + b")R"  # OrderedDict() -> a computed value, not a constant string
        + b"\x8c\x06system\x93"  # STACK_GLOBAL(<computed>, 'system')
        + b"N\x85R."
    )
