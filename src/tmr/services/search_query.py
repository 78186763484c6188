"""Which trigrams a text must contain for a regular expression to match it.

The prefilter of the search index (services/search.py), after Russ Cox's codesearch
("Regular Expression Matching with a Trigram Index"): the pattern is parsed and every node is
summarised as the exact set of strings it can match (while small), or the sets of prefixes and
suffixes every match starts and ends with, plus a boolean query of trigrams (AND of a literal's
trigrams, OR across alternatives) that every matching text contains. RE2 then confirms each
candidate, so the query only has to be a *superset*: when in doubt a node says "anything".

The index alphabet:

- texts are indexed **lowercased** (``str.lower``), so case-insensitive patterns use the same
  trigrams as case-sensitive ones; a pattern character maps to the lowercase forms of every
  character it can match (``Σ`` to ``σ`` and ``ς``, since ``lower`` picks the final sigma by
  context; under ``(?i)`` ``s`` also to ``ſ``, which RE2 folds to ``s``). A case-insensitive
  non-ASCII letter is "any character" (its fold orbit is RE2's Unicode data, not ours);
- each text is framed by two NUL bytes on both sides, and ``^``/``$``/``\\A``/``\\z`` (not in
  multi-line mode) stand for those two bytes, so ``(a+)+$`` requires ``a\\0\\0``: texts ending
  in ``a``. Anchors repeated (``^^a``) give all-NUL trigrams, which are never required;
- trigrams are of UTF-8 bytes, as tuples of three ints (what ``zip`` gives when indexing).

Patterns are parsed with Python's own parser (``re._parser``), which reads RE2's syntax with
three differences handled here: ``\\z`` is Python's ``\\Z`` (RE2 refuses ``\\Z`` itself), and
POSIX classes (``[[:alpha:]]``) and ``{,n}`` mean something else to Python, so patterns holding
them, and whatever Python cannot parse (``\\pL``, ``\\x{..}``, ``\\Q..\\E``), get no prefilter:
a full scan, still bounded by RE2's linear time.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

Trigram = tuple[int, int, int]

FRAME = "\x00\x00"  # what begins and ends every indexed text
_FRAME_BYTES = FRAME.encode()
_NUL_TRIGRAM: Trigram = (0, 0, 0)
MAX_EXACT = 7  # strings in an exact set before it becomes prefixes/suffixes + trigrams
MAX_SET = 20  # strings in a prefix or suffix set before they are cut shorter
MAX_CLASS = 100  # characters in a class before it counts as "any character"
_Z = re.compile(r"(?<!\\)((?:\\\\)*)\\z")  # \z not itself escaped: Python spells it \Z


def text_trigrams(name: str, text: str) -> set[Trigram]:
    """The index keys of one artifact: its name and its search text, each framed."""
    keys: set[Trigram] = set()
    for part in (name, text):
        data = (FRAME + part.lower() + FRAME).encode("utf-8", "surrogatepass")
        keys.update(zip(data, data[1:], data[2:], strict=False))
    return keys


# --- the query: AND / OR of trigrams -------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """``op`` is "all" (no restriction), "none", "and" or "or" over ``trigrams`` and ``subs``."""

    op: str
    trigrams: frozenset[Trigram] = frozenset()
    subs: tuple[Query, ...] = ()

    def and_(self, other: Query) -> Query:
        if self.op == "none" or other.op == "all":
            return self
        if other.op == "none" or self.op == "all":
            return other
        trigrams: set[Trigram] = set()
        subs: list[Query] = []
        for q in (self, other):
            if q.op == "and":
                trigrams |= q.trigrams
                subs.extend(q.subs)
            else:
                subs.append(q)
        return Query("and", frozenset(trigrams), tuple(dict.fromkeys(subs)))

    def or_(self, other: Query) -> Query:
        if self.op == "all" or other.op == "none":
            return self
        if other.op == "all" or self.op == "none":
            return other
        trigrams: set[Trigram] = set()
        subs: list[Query] = []
        for q in (self, other):
            if q.op == "or":
                trigrams |= q.trigrams
                subs.extend(q.subs)
            elif q.op == "and" and not q.subs and len(q.trigrams) == 1:
                trigrams |= q.trigrams
            else:
                subs.append(q)
        return Query("or", frozenset(trigrams), tuple(dict.fromkeys(subs)))


ALL = Query("all")
NONE = Query("none")


def _trigrams_of(strings: Iterable[bytes]) -> Query:
    """OR over the strings of the AND of each one's trigrams (ALL if one is shorter than 3)."""
    query = NONE
    for s in strings:
        grams = {g for g in zip(s, s[1:], s[2:], strict=False) if g != _NUL_TRIGRAM}
        if not grams:
            return ALL
        query = query.or_(Query("and", frozenset(grams)))
    return query


# --- what a node of the pattern can match --------------------------------------------------------
@dataclass
class _Info:
    can_empty: bool
    exact: set[bytes] | None  # every string it can match, when known and small
    prefix: set[bytes] = field(default_factory=set)  # every match starts with one of these
    suffix: set[bytes] = field(default_factory=set)  # … and ends with one of these
    match: Query = ALL  # trigrams every text that matches contains
    # the node is one or more of these strings in a row (``(ab|c)+``): a match of it is exactly
    # one of them, or ends (starts) with two of them
    rep: set[bytes] | None = None

    def starts(self) -> set[bytes]:
        return self.exact if self.exact is not None else self.prefix

    def ends(self) -> set[bytes]:
        return self.exact if self.exact is not None else self.suffix

    def add_exact(self) -> None:
        if self.exact is not None:
            self.match = self.match.and_(_and_trigrams(self.exact))

    def simplify(self, force: bool) -> None:
        exact = self.exact
        if exact is not None and (
            len(exact) > MAX_EXACT or _min_len(exact) >= 4 or (force and _min_len(exact) >= 3)
        ):
            self.add_exact()
            for s in exact:
                self.prefix.add(s[:2])
                self.suffix.add(s[-2:] if len(s) >= 2 else s)
            self.exact = None
        if self.exact is None:
            self.prefix = self._simplify_set(self.prefix, suffix=False)
            self.suffix = self._simplify_set(self.suffix, suffix=True)

    def _simplify_set(self, strings: set[bytes], suffix: bool) -> set[bytes]:
        self.match = self.match.and_(_and_trigrams(strings))
        n = 3
        while n == 3 or len(strings) > MAX_SET:
            keep = n - 1
            strings = {
                (s[len(s) - keep :] if suffix else s[:keep]) if len(s) >= n else s for s in strings
            }
            n -= 1
        # "ab" as a possible prefix makes "abc" useless
        kept: list[bytes] = []
        ordered = sorted(strings, key=(lambda s: s[::-1]) if suffix else None)
        for s in ordered:
            if kept and (s.endswith(kept[-1]) if suffix else s.startswith(kept[-1])):
                continue
            kept.append(s)
        return set(kept)


def _min_len(strings: set[bytes]) -> int:
    return min((len(s) for s in strings), default=0)


def _and_trigrams(strings: set[bytes]) -> Query:
    if not strings or _min_len(strings) < 3:
        return ALL
    return _trigrams_of(strings)


def _cross(xs: set[bytes], ys: set[bytes]) -> set[bytes]:
    return {x + y for x in xs for y in ys}


def _empty_string() -> _Info:
    return _Info(can_empty=True, exact={b""})


def _any_char() -> _Info:
    return _Info(can_empty=False, exact=None, prefix={b""}, suffix={b""})


def _any_match() -> _Info:
    return _Info(can_empty=True, exact=None, prefix={b""}, suffix={b""})


def _concat(x: _Info, y: _Info) -> _Info:
    if x.exact == {b""}:
        return y
    if y.exact == {b""}:
        return x
    xy = _Info(can_empty=x.can_empty and y.can_empty, exact=None, match=x.match.and_(y.match))
    if x.exact is not None and y.exact is not None:
        xy.exact = _cross(x.exact, y.exact)
    else:
        if x.exact is not None:
            xy.prefix = _cross(x.exact, y.prefix)
        else:
            xy.prefix = set(x.prefix) | (y.starts() if x.can_empty else set())
        if y.exact is not None:
            xy.suffix = _cross(x.suffix, y.exact)
        else:
            xy.suffix = set(y.suffix) | (x.ends() if y.can_empty else set())
        # x+ before y: one x and what y starts with, or two x; y+ after x: likewise
        if x.rep is not None and x.exact is None:
            xy.prefix = _cross(x.rep, y.starts()) | _cross(x.rep, x.rep)
        if y.rep is not None and y.exact is None:
            xy.suffix = _cross(x.ends(), y.rep) | _cross(y.rep, y.rep)
    if (
        x.exact is None
        and y.exact is None
        and len(x.suffix) <= MAX_SET
        and len(y.prefix) <= MAX_SET
        and _min_len(x.suffix) + _min_len(y.prefix) >= 3
    ):  # the strings spanning the seam hold a trigram neither side accounts for
        xy.match = xy.match.and_(_and_trigrams(_cross(x.suffix, y.prefix)))
    xy.simplify(False)
    return xy


def _alternate(x: _Info, y: _Info) -> _Info:
    xy = _Info(can_empty=x.can_empty or y.can_empty, exact=None)
    if x.exact is not None and y.exact is not None:
        xy.exact = x.exact | y.exact
    else:
        x.add_exact()
        y.add_exact()
        xy.prefix = x.starts() | y.starts()
        xy.suffix = x.ends() | y.ends()
    xy.match = x.match.or_(y.match)
    xy.simplify(False)
    return xy


# --- characters in the index alphabet ------------------------------------------------------------
_ASCII_FOLDS = {"k": "kK\u212a", "s": "sS\u017f"}  # RE2 folds the Kelvin sign and long s too


def _lowered(c: str) -> set[str]:
    """The forms ``str.lower`` gives ``c`` inside an indexed text."""
    return {"σ", "ς"} if c == "Σ" else {c.lower()}


def _char(cp: int, icase: bool) -> set[bytes] | None:
    """The index strings one pattern character can appear as, or None for "any character"."""
    c = chr(cp)
    if 0xD800 <= cp <= 0xDFFF:
        return None
    if icase and c.lower() != c.upper():
        if cp >= 128:
            return None  # RE2's Unicode fold orbit, not ours: do not guess
        members: Iterable[str] = _ASCII_FOLDS.get(c.lower(), c.lower() + c.upper())
    elif icase and cp >= 128 and (unicodedata.category(c) == "Cn" or c.casefold() != c):
        return None
    else:
        members = c
    out: set[str] = set()
    for m in members:
        out |= _lowered(m)
    return {s.encode("utf-8") for s in out}


def _chars(cps: Iterable[int], icase: bool) -> _Info:
    strings: set[bytes] = set()
    for cp in cps:
        found = _char(cp, icase)
        if found is None:
            return _any_char()
        strings |= found
    info = _Info(can_empty=False, exact=strings)
    info.simplify(False)
    return info


def _class(items: list[tuple[Any, Any]], icase: bool) -> _Info:
    cps: list[int] = []
    for op, av in items:
        if op is sre.LITERAL:
            cps.append(int(av))
        elif op is sre.RANGE:
            lo, hi = av
            if hi - lo + len(cps) > MAX_CLASS:
                return _any_char()
            cps.extend(range(lo, hi + 1))
        else:  # NEGATE, CATEGORY (\d \w \s): too many characters to list
            return _any_char()
        if len(cps) > MAX_CLASS:
            return _any_char()
    return _chars(cps, icase)


# --- walking Python's parse tree -----------------------------------------------------------------
_MULTILINE = sre.SRE_FLAG_MULTILINE
_IGNORECASE = sre.SRE_FLAG_IGNORECASE


def _at(where: object, flags: int) -> _Info:
    frame = {sre.AT_BEGINNING_STRING, sre.AT_END_STRING}
    if where in frame or (where in (sre.AT_BEGINNING, sre.AT_END) and not flags & _MULTILINE):
        return _Info(can_empty=False, exact={_FRAME_BYTES})
    return _empty_string()  # line anchors and word boundaries: no text of their own


def _repeat(lo: int, hi: int, sub: Any, flags: int) -> _Info:
    if hi == 0:
        return _empty_string()
    info = _sequence(sub, flags)
    if lo == 0:
        return _alternate(info, _empty_string()) if hi == 1 else _any_match()
    if lo == hi == 1:
        return info
    if info.exact is not None:  # x+ starts and ends with x, and is no longer exact
        info.prefix, info.suffix, info.rep = set(info.exact), set(info.exact), set(info.exact)
        info.exact = None
    return info


def _node(op: Any, av: Any, flags: int) -> _Info:
    icase = bool(flags & _IGNORECASE)
    if op is sre.LITERAL:
        return _chars([int(av)], icase)
    if op is sre.IN:
        return _class(list(av), icase)
    if op in (sre.ANY, sre.NOT_LITERAL):
        return _any_char()
    if op is sre.AT:
        return _at(av, flags)
    if op is sre.SUBPATTERN:
        _group, add, remove, sub = av
        return _sequence(sub, (flags | add) & ~remove)
    if op is sre.BRANCH:
        _, branches = av
        infos = [_sequence(b, flags) for b in branches]
        info = infos[0]
        for other in infos[1:]:
            info = _alternate(info, other)
        return info
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
        lo, hi, sub = av
        return _repeat(lo, hi, sub, flags)
    return _any_match()  # anything else RE2 has no counterpart for: assume nothing


def _sequence(items: Any, flags: int) -> _Info:
    info = _empty_string()
    for op, av in items:
        info = _concat(info, _node(op, av, flags))
    return info


def required_trigrams(pattern: str) -> Query:
    """A query every text the pattern matches satisfies (``ALL`` when nothing is known)."""
    if "[:" in pattern or "{," in pattern:
        return ALL
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = sre_parse.parse(_Z.sub(r"\1\\Z", pattern), 0)
        info = _sequence(parsed, parsed.state.flags)
        info.simplify(True)
        info.add_exact()
    except Exception:  # noqa: BLE001 - whatever Python's parser makes of it: no prefilter
        return ALL
    return info.match


# --- anchors in a scan buffer ------------------------------------------------------------------
def framed_anchors(pattern: str) -> tuple[str, int] | None:
    """The pattern for scanning a buffer of NUL-separated texts, and how many anchors it has.

    ``^``, ``\\A``, ``$`` and ``\\z`` outside classes also match (by consuming) the NUL that
    separates two texts, so one search over the buffer finds every text the pattern matches on
    its own (a superset: each is then confirmed alone). None when that is not sure: word
    boundaries next to a consumed NUL, two anchors of a kind, an end before a start, an anchor
    repeated (alone or in a repeated group), quoting.
    """
    out: list[str] = []
    begins = ends = 0
    groups: list[int] = []  # anchors seen before each open group
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        anchors = begins + ends
        if c == "(":
            groups.append(anchors)
        elif c == ")" and groups and groups.pop() < anchors and _repeated(pattern, i + 1):
            return None
        if c == "\\":
            if i + 1 >= n or pattern[i + 1] in "bBQ":
                return None
            d = pattern[i + 1]
            if d in "Az":
                if d == "A" and ends:
                    return None
                out.append("(?:\\x00|\\A)" if d == "A" else "(?:\\x00|\\z)")
                begins, ends = begins + (d == "A"), ends + (d == "z")
                i += 2
                if _repeated(pattern, i):
                    return None
            elif d in "xpP" and pattern[i + 2 : i + 3] == "{":
                close = pattern.find("}", i)
                if close < 0:
                    return None
                out.append(pattern[i : close + 1])
                i = close + 1
            else:
                out.append(pattern[i : i + 2])
                i += 2
            continue
        if c == "[":
            past = _class_end(pattern, i)
            if past is None:
                return None
            out.append(pattern[i:past])
            i = past
            continue
        if c in "^$" and _repeated(pattern, i + 1):
            return None
        if c == "^":
            if ends:
                return None
            out.append("(?:\\x00|^)")
            begins += 1
        elif c == "$":
            out.append("(?:\\x00|$)")
            ends += 1
        else:
            out.append(c)
        i += 1
    if begins > 1 or ends > 1:
        return None
    return "".join(out), begins + ends


def _repeated(pattern: str, at: int) -> bool:
    return pattern[at : at + 1] in ("*", "+", "{")


def _class_end(pattern: str, start: int) -> int | None:
    """The index just past the class opening at ``start``."""
    i, n = start + 1, len(pattern)
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < n:
        if pattern[i] == "\\":
            i += 2
        elif pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            if close < 0:
                return None
            i = close + 2
        elif pattern[i] == "]":
            return i + 1
        else:
            i += 1
    return None


# --- what a match needs at least -----------------------------------------------------------------
_QUANTIFIER = re.compile(r"([*+?]|\{\d+(?:,\d*)?\})\??")
_FLAG_GROUP = re.compile(r"\(\?[a-zA-Z-]*\)")
_Piece = tuple[str, str, bool]  # an atom, its quantifiers, whether it is a flag group


def essential(pattern: str) -> str:
    """The pattern without the pieces at either end of each alternative that may match nothing.

    Whether a text holds a match of ``A B`` (``A`` optional: ``x*``, ``(…)?``, ``{0,n}``) is
    whether it holds a match of ``B``: a match of ``A B`` contains one of ``B``, and ``B``
    matched alone is ``A B`` with ``A`` empty. So ``([a-z]+)*!`` searches like ``!``, and RE2
    can skip to each ``!`` with memchr instead of stepping its automaton through every byte.
    Only top-level pieces are dropped, each top-level alternative on its own; flag groups
    (``(?i)``, which reach into the alternatives after them) stay; an alternative comes back
    unchanged when nothing would remain of it, the pattern when unsure.
    """
    alternatives = _top_level(pattern)
    if alternatives is None:
        return pattern
    return "|".join(_essential(pieces) for pieces in alternatives)


def _essential(pieces: list[_Piece]) -> str:
    needed = [k for k, (_, q, flag) in enumerate(pieces) if not flag and not _optional(q)]
    if not needed:
        return "".join(atom + q for atom, q, _ in pieces)
    first, last = needed[0], needed[-1]
    return "".join(
        atom + q for k, (atom, q, flag) in enumerate(pieces) if flag or first <= k <= last
    )


def _optional(quantifiers: str) -> bool:
    """Whether a chain of quantifiers (``*``, ``+?``, ``{0,3}``, ``+*``…) allows zero."""
    return any(
        m.group(1)[0] in "*?" or m.group(1).startswith(("{0,", "{0}"))
        for m in _QUANTIFIER.finditer(quantifiers)
    )


def _top_level(pattern: str) -> list[list[_Piece]] | None:
    """The pattern's top-level alternatives, each as atoms with their quantifiers (None if
    unsure)."""
    alternatives: list[list[_Piece]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "|":
            alternatives.append([])
            i += 1
            continue
        if c == ")":
            return None
        flag = _FLAG_GROUP.match(pattern, i) if c == "(" else None
        if flag:
            end: int | None = flag.end()
        elif c == "(":
            end = _group_end(pattern, i)
        elif c == "[":
            end = _class_end(pattern, i)
        elif c == "\\":
            end = _escape_end(pattern, i)
        else:
            end = i + 1
        if end is None:
            return None
        atom_end = end
        while m := _QUANTIFIER.match(pattern, end):
            end = m.end()
        if flag and end > atom_end:
            return None
        alternatives[-1].append((pattern[i:atom_end], pattern[atom_end:end], bool(flag)))
        i = end
    return alternatives


def _escape_end(pattern: str, start: int) -> int | None:
    """The index just past the escape at ``start`` (``\\x41``, ``\\x{..}``, ``\\pL``, ``\\123``)."""
    d = pattern[start + 1 : start + 2]
    if d in ("", "Q", "E"):
        return None
    if d in "xpP" and pattern[start + 2 : start + 3] == "{":
        close = pattern.find("}", start)
        return None if close < 0 else close + 1
    if d == "x":
        return start + 4
    if d in "pP":
        return start + 3
    if d.isdigit():
        end = start + 2
        while end < min(start + 4, len(pattern)) and pattern[end].isdigit():
            end += 1
        return end
    return start + 2


def _group_end(pattern: str, start: int) -> int | None:
    """The index just past the group opening at ``start`` (classes and escapes skipped)."""
    depth, i, n = 0, start, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            end = _escape_end(pattern, i)
            if end is None:
                return None
            i = end
            continue
        if c == "[":
            past = _class_end(pattern, i)
            if past is None:
                return None
            i = past
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None
