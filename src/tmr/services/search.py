"""Regex search over names and READMEs that stays fast as the registry grows.

- **A trigram index narrows, RE2 confirms** (the way code search engines work): every artifact's
  name and search text (lowercased, framed by NULs) are indexed by their byte trigrams, each
  trigram holding a compressed bitmap (``pyroaring``) of the artifacts containing it. A pattern
  is turned into an AND/OR query of trigrams every matching text must contain
  (services/search_query.py); only the artifacts the query selects are searched by RE2. A
  pattern with no required trigram (``\\d{4}``, ``(a|aa)+!``), or with candidates for much of
  the registry, is scanned in full, still in C, for its essential part (the optional pieces at
  either end dropped: a text holds a match of ``([a-z]+)*!`` iff it holds a ``!``, which RE2
  finds with memchr; search_query.essential): names and texts are kept in NUL-separated
  buffers of CHUNK_DOCS artifacts that RE2 searches whole, and each hit is mapped back to its
  artifact (a match inside one segment needs no second look; one spanning two is confirmed on
  the artifact alone). For that scan ``^ $ \\A \\z`` also take the separating NUL
  (search_query.framed_anchors), and a pattern starting with ``^`` searches for the NUL itself,
  a literal first byte RE2 skips to with memchr (each buffer's first artifact, which has no NUL
  before it, is looked at alone); a pattern where that is not sure goes artifact by artifact.
- **Kept in step incrementally**: the index is per process, built once from the compact search
  texts (never the snapshots), then follows the registry's change log: every query reads the
  registry version (the artifacts audit chain's checkpoint and the highest row, one small
  query), and when it moved, the chain entries past the last one seen name the artifacts that
  were registered, updated or deleted; only those are re-read and re-indexed. A reset (the chain
  restarts) or a broken chain rebuilds the index. So every replica answers from the committed
  state of the database at the time of the query.
- **Results cached per registry version** (a small LRU of patterns, dropped at any change).

Every accepted pattern runs in bounded time: RE2 matches in linear time, and patterns whose
compiled program is larger than ``MAX_PROGRAM_SIZE`` instructions (counted repetitions such as
``.{0,1000}.{0,1000}.{0,1000}!`` inflate it, and then the DFA thrashes and falls back to the
slow NFA) are refused with 400 before any scan.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import re2
from pyroaring import BitMap

from tmr.domain.artifact import ArtifactType, AuditAction
from tmr.errors import InvalidRegex
from tmr.services.search_query import (
    Query,
    Trigram,
    essential,
    framed_anchors,
    required_trigrams,
    text_trigrams,
)
from tmr.storage.db.engine import Database
from tmr.storage.db.search import RegistryVersion, SearchRepository, SearchRow

log = logging.getLogger("tmr.search")

MAX_REGEX_LENGTH = 1000
MAX_PROGRAM_SIZE = 2000
RE2_MAX_MEM = 8 << 20
CACHE_PATTERNS = 256
LOAD_BATCH = 2000  # rows read per query while building
CHUNK_DOCS = 256  # artifacts per scan buffer (an update rewrites one buffer)
DENSE = 0.3  # above this share of candidates a whole-buffer scan beats one call per candidate
_ANCHORS = ("^", "$", "\\A", "\\z")
_CHANGES = {AuditAction.CREATE.value, AuditAction.UPDATE.value, AuditAction.DELETE.value}
_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
_LEAD_FRAMES = ("(?:\\x00|^)", "(?:\\x00|\\A)")  # a pattern starting with ^ or \A, framed


def _reason(exc: Exception) -> str:
    """RE2's own words (it reports them as bytes: show text, not ``b'…'``)."""
    first = exc.args[0] if exc.args else exc
    return first.decode(errors="replace") if isinstance(first, bytes) else str(first)


def compile_pattern(pattern: str) -> re2._Regexp:
    """The compiled pattern, or InvalidRegex (400) saying why it is refused."""
    if not isinstance(pattern, str) or pattern == "":
        raise InvalidRegex("regex must be a non-empty string")
    if len(pattern) > MAX_REGEX_LENGTH:
        raise InvalidRegex(f"regex longer than {MAX_REGEX_LENGTH} characters")
    options = re2.Options()
    options.max_mem = RE2_MAX_MEM
    options.log_errors = False
    options.never_capture = True  # only "does it match" is asked: no submatch bookkeeping
    try:
        encoded = pattern.encode()  # matched against UTF-8 bytes
    except UnicodeEncodeError as exc:
        raise InvalidRegex("regex is not valid Unicode (a lone surrogate)") from exc
    try:
        compiled = re2.compile(encoded, options)
    except re2.error as exc:
        raise InvalidRegex(f"invalid regular expression {pattern!r}: {_reason(exc)}") from exc
    except Exception as exc:  # RE2 rejects some constructs with other errors (e.g. too big)
        reason = _reason(exc)
        raise InvalidRegex(f"regular expression {pattern!r} is not supported: {reason}") from exc
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


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class _Chunk:
    """Up to CHUNK_DOCS artifacts in one buffer: name, NUL, text, NUL, name, NUL, text, NUL …"""

    __slots__ = ("buf", "slots", "starts", "view")

    def __init__(self) -> None:
        self.slots: list[int] = []
        self.starts: list[int] = [0]  # 2 * len(slots) + 1 offsets: segment i is [i, i + 1) - 1
        self.buf = b""
        self.view = memoryview(self.buf)

    def set(self, slots: list[int], segments: list[bytes]) -> None:
        self.slots = slots
        self.starts = [0]
        for segment in segments:
            self.starts.append(self.starts[-1] + len(segment) + 1)
        self.buf = b"".join(segment + b"\0" for segment in segments)
        self.view = memoryview(self.buf)

    def segment(self, i: int) -> memoryview:
        return self.view[self.starts[i] : self.starts[i + 1] - 1]

    def segments(self) -> list[bytes]:
        return [bytes(self.segment(i)) for i in range(2 * len(self.slots))]


@dataclass(slots=True)
class _Doc:
    hit: Hit
    seq: int
    chunk: _Chunk
    pos: int
    name_apart: bool  # the text does not start with the name: the name is searched on its own


@dataclass
class _Index:
    """One process's index; replaced whole on a rebuild, changed in place otherwise."""

    version: RegistryVersion
    chain_seq: int  # the last audit entry applied
    chain_hash: str  # … and its hash (the next entry must chain onto it)
    top_seq: int = 0
    docs: dict[int, _Doc] = field(default_factory=dict)  # slot -> artifact
    by_id: dict[str, int] = field(default_factory=dict)
    postings: dict[Trigram, BitMap] = field(default_factory=dict)
    alive: BitMap = field(default_factory=BitMap)
    chunks: list[_Chunk] = field(default_factory=list)
    next_slot: int = 0
    cache: OrderedDict[str, list[int]] = field(default_factory=OrderedDict)

    # --- changes --------------------------------------------------------------------------- -----
    def add(self, rows: Iterable[SearchRow]) -> None:
        rows = list(rows)
        for row in rows:
            self.remove(row.id)  # re-added below as a new slot
        pending: defaultdict[Trigram, list[int]] = defaultdict(list)
        grown: dict[int, tuple[_Chunk, list[int], list[bytes]]] = {}
        for row in rows:
            slot = self.next_slot
            self.next_slot += 1
            for key in text_trigrams(row.name, row.text):
                pending[key].append(slot)
            if not self.chunks or len(self.chunks[-1].slots) >= CHUNK_DOCS:
                self.chunks.append(_Chunk())
            chunk = self.chunks[-1]
            if id(chunk) not in grown:
                grown[id(chunk)] = (chunk, list(chunk.slots), chunk.segments())
            _, slots, segments = grown[id(chunk)]
            apart = not (row.text == row.name or row.text.startswith(row.name + "\n"))
            hit = Hit(row.id, row.name, ArtifactType(row.type))
            self.docs[slot] = _Doc(hit, row.seq, chunk, len(slots), apart)
            slots.append(slot)
            segments += [_encode(row.name), _encode(row.text)]
            chunk.slots = slots  # so the "full?" test above sees the growth
            self.by_id[row.id] = slot
            self.alive.add(slot)
            self.top_seq = max(self.top_seq, row.seq)
        for chunk, slots, segments in grown.values():
            chunk.set(slots, segments)
        for key, slots_with_key in pending.items():
            bitmap = self.postings.get(key)
            if bitmap is None:
                self.postings[key] = BitMap(slots_with_key)
            else:
                bitmap.update(slots_with_key)

    def remove(self, artifact_id: str) -> None:
        slot = self.by_id.pop(artifact_id, None)
        if slot is None:
            return
        doc = self.docs.pop(slot)
        chunk = doc.chunk
        text = bytes(chunk.segment(2 * doc.pos + 1)).decode("utf-8", "surrogatepass")
        for key in text_trigrams(doc.hit.name, text):
            bitmap = self.postings.get(key)
            if bitmap is not None:
                bitmap.discard(slot)
                if not bitmap:
                    del self.postings[key]
        self.alive.discard(slot)
        keep = [p for p in range(len(chunk.slots)) if chunk.slots[p] != slot]
        segments = chunk.segments()
        slots = [chunk.slots[p] for p in keep]
        chunk.set(slots, [segments[2 * p + k] for p in keep for k in (0, 1)])
        for pos, other in enumerate(slots):
            self.docs[other].pos = pos
        if not slots:
            self.chunks.remove(chunk)

    # --- queries --------------------------------------------------------------------------- -----
    def candidates(self, query: Query) -> BitMap | None:
        """The slots the query selects, or None for "every artifact"."""
        if query.op == "all":
            return None
        if query.op == "none":
            return BitMap()
        empty = BitMap()
        parts: list[BitMap | None] = [self.postings.get(t, empty) for t in query.trigrams]
        parts.extend(self.candidates(sub) for sub in query.subs)
        if query.op == "and":
            known = sorted((p for p in parts if p is not None), key=len)
            return BitMap.intersection(*known) if known else None
        known = [p for p in parts if p is not None]
        if len(known) < len(parts):
            return None
        return BitMap.union(*known) if known else BitMap()


def _matches(raw: object, text: bytes | memoryview) -> bool:
    return bool(raw.Match(_UNANCHORED, text, 0, len(text))[0][0] >= 0)  # type: ignore[attr-defined]


class _Matcher:
    """One pattern against one index: which slots match."""

    def __init__(self, compiled: re2._Regexp, pattern: str, index: _Index) -> None:
        self.raw = compiled._regexp  # the RE2 object: one call per text, no match objects
        self.index = index
        # A text holds a match of the pattern iff it holds one of its essential part (optional
        # ends dropped): the trigrams of the latter are the ones required.
        core = essential(pattern)
        self.query = required_trigrams(core)
        # A name is the start of its text (then a newline), so only an end anchor can match
        # the name without matching the text.
        self.name_too = "$" in pattern or "\\z" in pattern
        # A scan of whole buffers looks for the pattern's essential part (a text holds a match
        # of ``x*!`` if and only if it holds a ``!``), and its anchors must also match at the
        # NULs between texts.
        self.anchors, self.scan_raw = -1, self.raw  # -1: no buffer scan, text by text
        self.lead = False  # the scan starts at a NUL: each buffer's first artifact apart
        for candidate in dict.fromkeys((core, pattern)):
            anchored = any(a in candidate for a in _ANCHORS)
            framed = framed_anchors(candidate) if anchored else (candidate, 0)
            if framed is None:
                continue
            scan, lead = framed[0], framed[0].startswith(_LEAD_FRAMES)
            if lead:  # a literal first byte: RE2 skips from NUL to NUL with memchr
                scan = "\\x00" + scan.split(")", 1)[1]
            try:
                scan_raw = self.raw if scan == pattern else compile_pattern(scan)._regexp
            except InvalidRegex:
                continue
            self.anchors, self.scan_raw, self.lead = framed[1], scan_raw, lead
            break

    def run(self) -> list[int]:
        index = self.index
        chosen = index.candidates(self.query)
        if chosen is not None:
            chosen &= index.alive
        dense = chosen is None or len(chosen) > DENSE * len(index.alive)
        if dense and self.anchors >= 0:
            found = self._scan_buffers(chosen)
        else:
            found = [s for s in (index.alive if chosen is None else chosen) if self._doc(s)]
        docs = index.docs
        return sorted(found, key=lambda s: docs[s].seq)

    def _doc(self, slot: int) -> bool:
        doc = self.index.docs[slot]
        if _matches(self.raw, doc.chunk.segment(2 * doc.pos + 1)):
            return True
        return (self.name_too or doc.name_apart) and _matches(
            self.raw, doc.chunk.segment(2 * doc.pos)
        )

    def _scan_buffers(self, chosen: BitMap | None) -> list[int]:
        """Every artifact matching, by searching whole chunk buffers from C (names and texts)."""
        found: list[int] = []
        raw, framed = self.scan_raw, self.anchors > 0
        back = 1 if framed else 0  # resume at the NUL before the next artifact: ^ may take it
        for chunk in self.index.chunks:
            buf, starts, slots = chunk.view, chunk.starts, chunk.slots
            segments = len(starts) - 1
            pos, end, done = 0, len(buf), -1
            if self.lead and slots:  # no NUL before the first artifact: looked at alone
                done = 0
                if (chosen is None or slots[0] in chosen) and self._doc(slots[0]):
                    found.append(slots[0])
            while pos <= end:
                (start, stop), *_ = raw.Match(_UNANCHORED, buf, pos, end)
                if start < 0:
                    break
                seg = bisect.bisect_right(starts, start) - 1
                if seg >= segments:
                    break
                # a match within one segment needs no second look, unless anchors were widened
                inside = not framed and stop <= starts[seg + 1] - 1
                owners = [seg // 2]
                if framed and start == starts[seg + 1] - 1 and seg + 1 < segments:
                    owners.append((seg + 1) // 2)  # the NUL it starts on ends one, starts one
                for k in owners:
                    if k <= done:
                        continue
                    done = k
                    slot = slots[k]
                    if (chosen is None or slot in chosen) and (inside or self._doc(slot)):
                        found.append(slot)
                pos = max(pos + 1, starts[2 * done + 2] - back)
        return found


class SearchIndex:
    """The per-process search index of one database (thread-safe; queries take turns)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._index: _Index | None = None
        self._lock = threading.Lock()
        self.builds = 0  # whole builds so far (start-up, reset); updates and deletes add none

    def warm(self) -> None:
        """Build the index now (at start-up) rather than at the first query."""
        with self._lock:
            self._current()

    def search(self, pattern: str) -> list[Hit]:
        compiled = compile_pattern(pattern)
        with self._lock:
            index = self._current()
            slots = index.cache.get(pattern)
            if slots is None:
                slots = _Matcher(compiled, pattern, index).run()
                index.cache[pattern] = slots
                while len(index.cache) > CACHE_PATTERNS:
                    index.cache.popitem(last=False)
            else:
                index.cache.move_to_end(pattern)
            return [index.docs[s].hit for s in slots]

    # --- keeping in step with the database ----------------------------------------------------- -
    def _current(self) -> _Index:
        with self.db.read() as s:
            version = SearchRepository(s).version()
        index = self._index
        if index is not None and index.version == version:
            return index
        if (
            index is None
            or version.chain_base != index.version.chain_base
            or version.chain_count < index.version.chain_count
            or not self._follow(index, version)
        ):
            index = self._build(version)
        self._index = index
        return index

    def _follow(self, index: _Index, version: RegistryVersion) -> bool:
        """Apply the chain entries past the last one seen; False if the chain does not follow."""
        with self.db.read() as s:
            repo = SearchRepository(s)
            entries = repo.entries_after(index.chain_seq)
            if entries and entries[0].prev_hash != index.chain_hash:
                return False
            changed = list(dict.fromkeys(e.artifact_id for e in entries if e.action in _CHANGES))
            rows = repo.rows_for(changed)
        seen = set(changed)
        rows.extend(r for r in self._rows_after(index.top_seq) if r.id not in seen)
        for artifact_id in changed:
            index.remove(artifact_id)
        index.add(sorted(rows, key=lambda r: r.seq))
        if entries:
            index.chain_seq, index.chain_hash = entries[-1].seq, entries[-1].hash
        index.version = version
        index.cache.clear()
        return True

    def _build(self, version: RegistryVersion) -> _Index:
        started = time.perf_counter()
        self.builds += 1
        with self.db.read() as s:
            last = SearchRepository(s).last_entry()
        chain_seq, chain_hash = last if last is not None else (0, version.chain_head)
        index = _Index(version=version, chain_seq=chain_seq, chain_hash=chain_hash)
        for batch in self._batches_after(0):
            index.add(batch)
        log.info(
            "search index built: %d artifacts, %d trigrams, %.1f s",
            len(index.docs),
            len(index.postings),
            time.perf_counter() - started,
        )
        return index

    def _batches_after(self, seq: int) -> Iterator[list[SearchRow]]:
        while True:
            with self.db.read() as s:
                batch = SearchRepository(s).rows_after(seq, LOAD_BATCH)
            if batch:
                yield batch
            if len(batch) < LOAD_BATCH:
                return
            seq = batch[-1].seq

    def _rows_after(self, seq: int) -> list[SearchRow]:
        return [row for batch in self._batches_after(seq) for row in batch]
