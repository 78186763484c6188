"""Allow-list scanning of pickle-based weights, without ever unpickling them.

A pickle is a small program for a stack machine; the only way it reaches code is by importing a
global (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, or the ``EXT*`` extension registry) and calling it
(``REDUCE``, ``OBJ``, ``NEWOBJ``, ``BUILD``'s ``__setstate__``). So a file is safe when every global
it would import is on an allow-list of tensor rebuilders, storages, dtypes, ordered dicts and the
like, and unsafe otherwise: ``os.system``, ``builtins.eval``, ``builtins.getattr``,
``subprocess.Popen``, ``runpy._run_code`` and every name nobody listed.

The opcodes are read with ``pickletools.genops`` and run on a symbolic stack (each opcode's stack
effect comes from ``pickletools``' own opcode table) that tracks strings and the memo, so a
``STACK_GLOBAL`` whose module and name were memoized, duplicated or pushed far earlier is still
resolved; one whose operands cannot be resolved to constant strings is unsafe. Several pickles
in a row (PyTorch's legacy format writes five) are all scanned; zip-format PyTorch files
(``torch.save`` since 1.6) have every pickle member scanned. A malformed tail stops the scan but
everything before it is judged, because an unpickler executes opcodes as it reads them.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, cast

Verdict = Literal["safe", "unsafe", "not_pickle"]

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"})

# module -> names that may be imported. Mirrors what PyTorch's weights_only unpickler accepts.
ALLOWED_GLOBALS: dict[str, frozenset[str]] = {
    "collections": frozenset({"OrderedDict"}),
    "torch._utils": frozenset(
        {
            "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
            "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
            "_rebuild_nested_tensor", "_rebuild_device_tensor_from_numpy",
            "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
        }
    ),
    "torch._tensor": frozenset({"_rebuild_from_type_v2"}),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "torch": frozenset(
        {
            "Tensor", "Size", "device", "FloatStorage", "DoubleStorage", "HalfStorage",
            "BFloat16Storage", "LongStorage", "IntStorage", "ShortStorage", "CharStorage",
            "ByteStorage", "BoolStorage", "ComplexFloatStorage", "ComplexDoubleStorage",
            "QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage",
            "QUInt2x4Storage", "UntypedStorage", "TypedStorage", "float16", "float32",
            "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool",
            "complex64", "complex128", "half", "float", "double", "long", "int", "short",
            "per_tensor_affine", "per_channel_affine", "strided", "sparse_coo",
        }
    ),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage"}),
    "numpy": frozenset({"ndarray", "dtype"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "_codecs": frozenset({"encode"}),
    "builtins": frozenset({"set", "frozenset", "bytearray", "slice", "complex"}),
    "__builtin__": frozenset({"set", "frozenset", "bytearray", "slice", "complex"}),
}  # fmt: skip

MAX_OPCODES = 20_000_000
MAX_FINDINGS = 20


@dataclass(frozen=True)
class ScanResult:
    verdict: Verdict
    globals: tuple[str, ...] = ()  # every global the file would import, in order, deduplicated
    unsafe: tuple[str, ...] = ()  # the ones that made it unsafe, with the reason
    notes: tuple[str, ...] = ()
    pickles: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "globals": list(self.globals),
            "unsafe": list(self.unsafe),
            "notes": list(self.notes),
            "pickles": self.pickles,
        }


def is_pickle_candidate(path: str) -> bool:
    """Whether a repository path names a pickle-based file the registry scans."""
    return PurePosixPath(path.lower()).suffix in PICKLE_SUFFIXES


def is_allowed(module: str, name: str) -> bool:
    return name in ALLOWED_GLOBALS.get(module, frozenset())


_MARK = object()


@dataclass
class _Acc:
    globals: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pickles: int = 0

    def see(self, module: str, name: str, where: str) -> None:
        ref = f"{module}.{name}"
        if ref not in self.globals:
            self.globals.append(ref)
        if not is_allowed(module, name) and len(self.unsafe) < MAX_FINDINGS:
            finding = f"{ref} ({where}) is not on the allow-list"
            if finding not in self.unsafe:
                self.unsafe.append(finding)

    def flag(self, reason: str) -> None:
        if len(self.unsafe) < MAX_FINDINGS and reason not in self.unsafe:
            self.unsafe.append(reason)


_STRING_OPS = frozenset(
    {
        "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
        "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    }
)  # fmt: skip


MAX_LINE = 1 << 16


class _Bounded:
    """A read-only view of a seekable stream that never reads past its end.

    ``pickletools`` reads a length-prefixed argument with one ``read(n)``; a file's reader
    allocates ``n`` bytes first, so a forged 2**60 length would exhaust memory. Reads here are
    capped at what is left, and pickletools then reports the argument as truncated.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        start = stream.tell()
        self._end = stream.seek(0, io.SEEK_END)
        stream.seek(start)

    def read(self, n: int = -1) -> bytes:
        left = max(self._end - self._stream.tell(), 0)
        return self._stream.read(left if n < 0 else min(n, left))

    def readline(self, limit: int = -1) -> bytes:
        # Text arguments (GLOBAL's module and name) are short; a weight file has no newlines.
        return self._stream.readline(MAX_LINE if limit < 0 else min(limit, MAX_LINE))

    def tell(self) -> int:
        return self._stream.tell()


def _scan_one(stream: IO[bytes], acc: _Acc, label: str) -> bool:
    """Scan one pickle from the stream's position; False when no opcode could be read at all."""
    stack: list[Any] = []
    memo: dict[Any, Any] = {}
    count = 0
    seen_before = len(acc.globals) + len(acc.unsafe)
    try:
        for opcode, arg, pos in pickletools.genops(cast(IO[bytes], _Bounded(stream))):
            count += 1
            if count > MAX_OPCODES:
                acc.flag(f"{label}: more than {MAX_OPCODES} opcodes, not scanned to the end")
                return True
            name = opcode.name
            where = f"{label} at byte {pos}" if pos is not None else label
            if name in _STRING_OPS:
                stack.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
            elif name == "GLOBAL" or name == "INST":
                module, _, attr = str(arg).partition(" ")
                acc.see(module, attr, where)
                if name == "INST":
                    _pop_to_mark(stack)
                stack.append(None)
            elif name == "STACK_GLOBAL":
                attr_v = stack.pop() if stack else None
                module_v = stack.pop() if stack else None
                if isinstance(module_v, str) and isinstance(attr_v, str):
                    acc.see(module_v, attr_v, where)
                else:
                    acc.flag(f"STACK_GLOBAL ({where}) whose module and name are not constants")
                stack.append(None)
            elif name in ("EXT1", "EXT2", "EXT4"):
                acc.flag(f"{name} extension code {arg} ({where}) imports from the copyreg registry")
                stack.append(None)
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1] if stack else None
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(arg))
            elif name == "DUP":
                stack.append(stack[-1] if stack else None)
            elif name == "MARK":
                stack.append(_MARK)
            elif name == "STOP":
                acc.pickles += 1
                return True
            else:
                _apply_effect(opcode, stack)
    except (ValueError, EOFError, UnicodeDecodeError, IndexError) as exc:
        if len(acc.globals) + len(acc.unsafe) == seen_before:
            return False  # nothing imported before the bytes stopped being a pickle
        acc.notes.append(f"{label}: malformed after {count} opcodes ({str(exc)[:80]})")
        return True
    if count:
        acc.notes.append(f"{label}: ended without STOP")
    return count > 0


def _pop_to_mark(stack: list[Any]) -> None:
    while stack:
        if stack.pop() is _MARK:
            return


def _apply_effect(opcode: pickletools.OpcodeInfo, stack: list[Any]) -> None:
    before = opcode.stack_before
    if pickletools.markobject in before:
        _pop_to_mark(stack)
        for _ in range(before.index(pickletools.markobject)):
            if stack:
                stack.pop()
    else:
        for _ in before:
            if stack:
                stack.pop()
    stack.extend(None for _ in opcode.stack_after)


def _scan_stream(stream: IO[bytes], acc: _Acc, label: str) -> bool:
    """Scan consecutive pickles (legacy PyTorch files hold several); False if none was found."""
    found = False
    while True:
        start = stream.tell()
        if not stream.read(1):
            return found
        stream.seek(start)
        before = acc.pickles
        if not _scan_one(stream, acc, f"{label} pickle {acc.pickles + 1}"):
            return found
        found = True
        if acc.pickles == before:  # malformed or truncated: nothing after it runs either
            return found


def scan_bytes(data: bytes, name: str = "file") -> ScanResult:
    return scan_stream(io.BytesIO(data), name)


def scan_file(path: Path, name: str | None = None) -> ScanResult:
    with path.open("rb") as fh:
        return scan_stream(fh, name or path.name)


def scan_stream(stream: IO[bytes], name: str) -> ScanResult:
    acc = _Acc()
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        found = _scan_zip(stream, acc, name)
    else:
        found = _scan_stream(stream, acc, name)
    if acc.unsafe:
        verdict: Verdict = "unsafe"
    elif found:
        verdict = "safe"
    else:
        verdict = "not_pickle"
    return ScanResult(verdict, tuple(acc.globals), tuple(acc.unsafe), tuple(acc.notes), acc.pickles)


def _zip_members(zf: zipfile.ZipFile) -> Iterable[zipfile.ZipInfo]:
    for info in zf.infolist():
        if info.is_dir():
            continue
        lower = info.filename.lower()
        if lower.endswith((".pkl", ".pickle")) or PurePosixPath(lower).name == "data.pkl":
            yield info


def _scan_zip(stream: IO[bytes], acc: _Acc, name: str) -> bool:
    try:
        zf = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        acc.flag(f"{name}: looks like a zip but cannot be read as one")
        return True
    found = False
    with zf:
        for info in _zip_members(zf):
            label = f"{name}/{info.filename}"
            try:
                with zf.open(info) as member:
                    ok = _scan_stream(member, acc, label)
            except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
                acc.flag(f"{label}: cannot be read ({str(exc)[:80]})")
                continue
            if ok:
                found = True
            else:
                acc.notes.append(f"{label}: named like a pickle but not one")
    return found
