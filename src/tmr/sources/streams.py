"""The one routine that streams bytes to disk: chunk by chunk, hashed on the way, checked, renamed.

Every file the registry brings in (a Hugging Face download, a GitHub file, an entry of an
uploaded zip, a staged small file) is written by :func:`stream_to_file`: into ``<dest>.part``,
sha256 and length computed as the chunks pass (never the whole file in memory), an optional
per-chunk ``guard`` (upload limits), then checked against what was announced (length, sha256,
size) and only then renamed to ``dest``. On any failure the partial file is removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from tmr.errors import TmrError, UpstreamUnavailable

Guard = Callable[[int, int], None]  # (bytes written so far including this chunk, chunk length)


def stream_to_file(
    chunks: Iterable[bytes],
    dest: Path,
    what: str,
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    guard: Guard | None = None,
    error: type[TmrError] = UpstreamUnavailable,
) -> tuple[str, int]:
    """Write ``chunks`` to ``dest``; return (sha256, size). ``error`` is raised on a mismatch."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    # ``<name>.part`` and not with_suffix(".part"): README.md and README.txt must not share one.
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    written = 0
    try:
        with part.open("wb") as out:
            for chunk in chunks:
                written += len(chunk)
                if guard is not None:
                    guard(written, len(chunk))
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if expected_size is not None and written != expected_size:
            raise error(
                f"{what} failed its integrity check ({written} bytes where {expected_size} were "
                "announced); the copy was cut short or changed in transit: retry, then "
                "re-register."
            )
        if expected_sha256 is not None and actual != expected_sha256.lower():
            raise error(
                f"{what} failed its integrity check (sha256 {actual}, expected "
                f"{expected_sha256}); the upstream copy changed or was corrupted in transit: "
                "retry, then re-register."
            )
        part.replace(dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return actual, written


def write_bytes(data: bytes, dest: Path, what: str) -> str:
    """Stage bytes already in memory (a small file the fetch read) through the same routine."""
    return stream_to_file([data], dest, what, expected_size=len(data))[0]
