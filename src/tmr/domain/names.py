"""Names people will read (users, artifacts): no invisible or control characters.

A name with NUL, a control character, a bidi override or a zero-width character displays as
something other than what it is (``admin\u200b`` looks like ``admin``; U+202E reverses the
text after it). Such names are refused with the position of the first offending character.
"""

from __future__ import annotations

import unicodedata

# Cc controls, Cf format (bidi overrides, zero-width, BOM), Zl/Zp line and paragraph separators,
# Cs lone surrogates, Co private use, Cn unassigned.
_REFUSED = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def invisible_character(value: str) -> tuple[int, str] | None:
    """(0-based position, description) of the first refused character, or None."""
    for pos, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category in _REFUSED:
            label = unicodedata.name(ch, "") or {"Cc": "control character"}.get(
                category, "unassigned character"
            )
            return pos, f"U+{ord(ch):04X} {label} (category {category})"
    return None


def name_problem(value: str, what: str) -> str | None:
    """A message saying what is wrong with ``value`` as a ``what`` name, or None when fine."""
    found = invisible_character(value)
    if found is None:
        return None
    pos, label = found
    return (
        f"the {what} name has a control or invisible character at position {pos} "
        f"(counting from 0): {label}; use visible characters only"
    )
