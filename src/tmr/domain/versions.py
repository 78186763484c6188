"""Version numbers and the version queries of REQUIREMENTS §1.4.

A version is up to three dot-separated numbers (``1``, ``1.2``, ``1.2.3``; a leading ``v`` is
allowed; missing parts are 0). A query is one of:

- exact ``1.2.3``
- bounded range ``1.2.3-2.1.0`` (both ends included)
- tilde ``~1.2.0``: the same minor version (``>=1.2.0 <1.3.0``; ``~1`` is ``>=1.0.0 <2.0.0``)
- caret ``^1.2.0``: no change of the leftmost non-zero part (``>=1.2.0 <2.0.0``;
  ``^0.2.3`` is ``>=0.2.3 <0.3.0``; ``^0.0.3`` is ``>=0.0.3 <0.0.4``)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, int, int]

_VERSION = re.compile(r"^[vV]?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?$")


def parse_version(text: str) -> Version | None:
    """The version a string names, or None when it is not a plain numeric version."""
    match = _VERSION.match(text.strip())
    if not match:
        return None
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return major, minor, patch


@dataclass(frozen=True)
class VersionQuery:
    lower: Version
    upper: Version
    upper_inclusive: bool
    text: str

    def matches(self, version: Version) -> bool:
        if version < self.lower:
            return False
        return version <= self.upper if self.upper_inclusive else version < self.upper


def _parts(text: str) -> int:
    return len(text.lstrip("vV").split("."))


def parse_query(text: str) -> VersionQuery:
    """Parse a version query; ValueError with the reason when it is not one."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty version query")
    if raw[0] in "~^":
        base = parse_version(raw[1:])
        if base is None:
            raise ValueError(f"{raw!r}: expected a version after {raw[0]!r}, like {raw[0]}1.2.0")
        major, minor, patch = base
        if raw[0] == "~":
            upper = (major + 1, 0, 0) if _parts(raw[1:]) == 1 else (major, minor + 1, 0)
        elif major > 0:
            upper = (major + 1, 0, 0)
        elif minor > 0:
            upper = (0, minor + 1, 0)
        else:
            upper = (0, 0, patch + 1)
        return VersionQuery(base, upper, False, raw)
    if "-" in raw:
        low_text, _, high_text = raw.partition("-")
        low, high = parse_version(low_text), parse_version(high_text)
        if low is None or high is None:
            raise ValueError(f"{raw!r}: a range is two versions joined by '-', like 1.2.3-2.1.0")
        if high < low:
            raise ValueError(f"{raw!r}: the range ends before it starts")
        return VersionQuery(low, high, True, raw)
    exact = parse_version(raw)
    if exact is None:
        raise ValueError(f"{raw!r} is not a version (1.2.3), range (1.2.3-2.1.0), ~1.2.0 or ^1.2.0")
    return VersionQuery(exact, exact, True, raw)
