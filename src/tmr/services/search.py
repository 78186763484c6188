"""Regex search over names and READMEs that stays fast as the registry grows.

Three things keep a query cheap:

- **A compact search text kept apart from the snapshot rows**: the index loads only
  ``(seq, id, name, type, search_text)``, never the snapshot JSON, and keeps it in memory, one
  buffer per process. It is refreshed when the registry's version changes (row count, highest
  sequence number, latest update, read in one small query): new registrations are appended
  (only rows past the highest sequence number are read), anything else reloads it.
- **One RE2 pass over the whole buffer**: names and texts (UTF-8 bytes, so RE2 does not
  re-encode the text on every call) are joined with newlines and RE2
  searches the buffer from C; a hit is mapped to its segment by bisection, confirmed on that
  segment alone (a match may not span two segments) and the search resumes at the next
  segment. Every segment holding a match is found, because a search that starts at or before a
  segment stops at a match that starts no later than that segment's. Anchored patterns
  (``^``, ``$``, ``\\A``, ``\\z``) are matched segment by segment instead.
- **Results cached per registry version** (a small LRU of patterns).

Every accepted pattern runs in bounded time: RE2 matches in linear time, and patterns whose
compiled program is larger than ``MAX_PROGRAM_SIZE`` instructions (counted repetitions such as
``.{0,1000}.{0,1000}.{0,1000}!`` inflate it, and then the DFA thrashes and falls back to the
slow NFA) are refused with 400 before any scan.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import re2
from sqlalchemy import func, select

from tmr.domain.artifact import ArtifactType
from tmr.errors import InvalidRegex
from tmr.storage.db.engine import Database
from tmr.storage.db.tables import ArtifactRow

MAX_REGEX_LENGTH = 1000
MAX_PROGRAM_SIZE = 2000
RE2_MAX_MEM = 8 << 20
CACHE_PATTERNS = 256
_ANCHORS = ("^", "$", "\\A", "\\z")


def compile_pattern(pattern: str) -> re2._Regexp:
    """The compiled pattern, or InvalidRegex (400) saying why it is refused."""
    if not isinstance(pattern, str) or pattern == "":
        raise InvalidRegex("regex must be a non-empty string")
    if len(pattern) > MAX_REGEX_LENGTH:
        raise InvalidRegex(f"regex longer than {MAX_REGEX_LENGTH} characters")
    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.log_errors = False
    try:
        compiled = re2.compile(pattern.encode(), options)  # matched against UTF-8 bytes
    except re2.error as exc:
        raise InvalidRegex(f"invalid regular expression {pattern!r}: {exc}") from exc
    except Exception as exc:  # RE2 rejects some constructs with other errors (e.g. too big)
        raise InvalidRegex(f"regular expression {pattern!r} is not supported: {exc}") from exc
    size = compiled.programsize
    if size > MAX_PROGRAM_SIZE:
        raise InvalidRegex(
            f"regular expression {pattern!r} is too complex to search in bounded time (its "
            f"automaton has {size} instructions, the limit is {MAX_PROGRAM_SIZE}); large counted "
            "repetitions such as .{0,1000} are the usual cause"
        )
    return compiled


@dataclass(frozen=True)
class Hit:
    id: str
    name: str
    type: ArtifactType


@dataclass
class _Corpus:
    version: tuple[int, int, str] = (0, 0, "")
    max_seq: int = 0
    hits: list[Hit] = field(default_factory=list)  # one per artifact, in seq order
    segments: list[bytes] = field(default_factory=list)  # UTF-8 name, text, name, text, …
    starts: list[int] = field(default_factory=list)  # offset of each segment in ``buffer``
    buffer: bytes = b""
    cache: OrderedDict[str, list[int]] = field(default_factory=OrderedDict)

    def extend(self, rows: list[tuple[int, str, str, str, str]]) -> None:
        offset = len(self.buffer)
        pieces = []
        for seq, aid, name, type_, text in rows:
            self.hits.append(Hit(aid, name, ArtifactType(type_)))
            for segment in (name, text):
                data = segment.encode()
                self.segments.append(data)
                self.starts.append(offset)
                pieces.append(data)
                offset += len(data) + 1
            self.max_seq = max(self.max_seq, seq)
        if pieces:
            self.buffer += b"\n".join(pieces) + b"\n"


class SearchIndex:
    """The per-process search buffer of one database (thread-safe)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._corpus = _Corpus()
        self._lock = threading.Lock()

    def _version(self) -> tuple[int, int, str]:
        with self.db.read() as s:
            count, top, latest = s.execute(
                select(func.count(), func.max(ArtifactRow.seq), func.max(ArtifactRow.updated_at))
            ).one()
        return int(count or 0), int(top or 0), str(latest or "")

    def _rows(self, after: int) -> list[tuple[int, str, str, str, str]]:
        stmt = (
            select(
                ArtifactRow.seq,
                ArtifactRow.id,
                ArtifactRow.name,
                ArtifactRow.type,
                ArtifactRow.search_text,
            )
            .where(ArtifactRow.seq > after)
            .order_by(ArtifactRow.seq)
        )
        with self.db.read() as s:
            return [tuple(r) for r in s.execute(stmt)]  # type: ignore[misc]

    def corpus(self) -> _Corpus:
        version = self._version()
        with self._lock:
            current = self._corpus
            if current.version == version:
                return current
            count, top, _ = version
            if len(current.hits) < count and current.max_seq < top:
                fresh = _Corpus(
                    max_seq=current.max_seq,
                    hits=list(current.hits),
                    segments=list(current.segments),
                    starts=list(current.starts),
                    buffer=current.buffer,
                )
                fresh.extend(self._rows(current.max_seq))
                if len(fresh.hits) != count:  # deletes happened too: start over
                    fresh = _Corpus()
                    fresh.extend(self._rows(0))
            else:
                fresh = _Corpus()
                fresh.extend(self._rows(0))
            fresh.version = version
            self._corpus = fresh
            return fresh

    def search(self, pattern: str) -> list[Hit]:
        compiled = compile_pattern(pattern)
        corpus = self.corpus()
        with self._lock:
            cached = corpus.cache.get(pattern)
            if cached is not None:
                corpus.cache.move_to_end(pattern)
        if cached is None:
            cached = _scan(compiled, pattern, corpus)
            with self._lock:
                corpus.cache[pattern] = cached
                while len(corpus.cache) > CACHE_PATTERNS:
                    corpus.cache.popitem(last=False)
        return [corpus.hits[i] for i in cached]


def _scan(compiled: re2._Regexp, pattern: str, corpus: _Corpus) -> list[int]:
    """Indexes (into ``corpus.hits``) of the artifacts whose name or text matches."""
    found: list[int] = []
    segments = corpus.segments
    if any(a in pattern for a in _ANCHORS):
        for i in range(0, len(segments), 2):
            if compiled.search(segments[i]) or compiled.search(segments[i + 1]):
                found.append(i // 2)
        return found
    buffer, starts = corpus.buffer, corpus.starts
    pos, end = 0, len(buffer)
    while pos <= end:
        match = compiled.search(buffer, pos)
        if match is None:
            break
        seg = bisect.bisect_right(starts, match.start()) - 1
        artifact = seg // 2
        first = artifact * 2
        if compiled.search(segments[first]) or compiled.search(segments[first + 1]):
            found.append(artifact)
        nxt = first + 2
        if nxt >= len(starts):
            break
        pos = starts[nxt]
    return found
