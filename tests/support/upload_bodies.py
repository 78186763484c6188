"""Upload zips with many files, so that staging them takes a findable while."""

from __future__ import annotations

import random

from tests.support.zips import hf_zip


def many_files_zip(name: str, files: int, size: int = 2000) -> bytes:
    """A repository zip with ``files`` extra data files of ``size`` bytes each."""
    rng = random.Random(f"{name}-{files}")
    rows = {f"data/part-{i:04d}.csv": rng.randbytes(size // 2).hex().encode() for i in range(files)}
    return hf_zip(name=name, extra=rows)
