"""Secret files: the audit key and deployment-provided passwords, always owner-only (0600)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never world-readable, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def restrict(path: Path) -> None:
    """Make an existing file owner-only (a database created by a library, say)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.chmod(path, 0o600)


def load_or_create_key(path: Path) -> bytes:
    """The HMAC key in ``path`` (hex); generated with mode 0600 on first start."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process won the race: read theirs
            write_private(path, secrets.token_hex(KEY_BYTES).encode())
    return read_key(path)


def read_key(path: Path) -> bytes:
    """Read a key without creating it (``tmr audit-verify`` writes nothing)."""
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"the audit key file {path} does not hold a hex key") from exc
    if len(key) < 16:
        raise ValueError(f"the audit key in {path} is shorter than 16 bytes")
    return key


def read_secret_text(path: Path) -> str:
    """A password from a secret file: its first line, without the line break."""
    text = path.read_text(encoding="utf-8")
    return text.splitlines()[0] if text else ""
