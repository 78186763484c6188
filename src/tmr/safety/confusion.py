"""Package-confusion scoring: which artifacts look like malicious look-alikes of popular ones.

Three groups of signals (after "Beyond typosquatting", arXiv 2502.20528):

- **Name similarity** to a popular artifact: the same UTS #39 confusable skeleton (Cyrillic
  ``е`` for Latin ``e``; the mapping comes from the ``confusable-homoglyphs`` package's copy of
  Unicode's confusables.txt), the same name after folding case, separators and digit look-alikes
  (``0``/``o``, ``1``/``l``), added words (``-official``, ``-v2``, ``-latest`` …), the original's
  owner folded into the name (``google-bert-bert-base-uncased``), and small edit distances
  (Damerau-Levenshtein, from ``jellyfish``).
- **Popularity asymmetry**: the look-alike is newer and little searched or viewed while the
  original is popular (many distinct users searched for it, viewed it, downloaded it).
- **Bot-inflated downloads**: few accounts doing most downloads, very regular intervals, bursts,
  and downloads never preceded by a search or a view of the artifact by the same account.

A finding needs a similar name to a more popular artifact; its score is the name similarity
weighted by the strongest of the other two signals, and same-owner variants are discounted.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jellyfish

THRESHOLD = 0.5
SUSPICIOUS_WORDS = frozenset(
    {
        "official", "offical", "original", "real", "genuine", "verified", "secure", "safe",
        "latest", "new", "updated", "update", "fixed", "fix", "final", "release", "stable",
        "pro", "plus", "premium", "full", "v2", "v3", "v4", "2", "3", "hf", "model", "dev",
        "beta", "patched", "free", "unlocked", "uncensored",
    }
)  # fmt: skip
DIGIT_LOOKALIKES = str.maketrans({"0": "o", "1": "l", "3": "e", "5": "s", "7": "t", "8": "b"})
SEPARATORS = re.compile(r"[\s\-_.:/\\]+")
MIN_POPULAR_INTEREST = 5  # distinct users who searched, viewed or downloaded it


@dataclass(frozen=True)
class Entry:
    id: str
    name: str
    type: str
    created_at: datetime
    owner: str | None = None  # the account that registered it
    hub_owner: str | None = None  # the upstream owner (google-bert of google-bert/bert-…)


@dataclass(frozen=True)
class Download:
    artifact_id: str
    user: str
    at: datetime


@dataclass(frozen=True)
class Seen:
    artifact_id: str
    user: str
    at: datetime  # appeared in that user's search results, or read by id


@dataclass
class Finding:
    artifact: Entry
    score: float
    looks_like: Entry | None
    reasons: list[str] = field(default_factory=list)


# --- names ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Character -> its prototype: the ASCII member of its confusable set, when there is one."""
    raw = json.loads(
        importlib.resources.files("confusable_homoglyphs")
        .joinpath("confusables.json")
        .read_text(encoding="utf-8")
    )
    table: dict[str, str] = {}
    for char, entries in raw.items():
        if len(char) != 1 or char.isascii():
            continue
        for h in entries:
            target = h.get("c", "")
            if target and all(c.isascii() and c.isprintable() for c in target):
                table[char] = target
                break
    table.update({"1": "l", "I": "l", "|": "l", "0": "O"})
    return table


def skeleton(text: str) -> str:
    """UTS #39 skeleton (approximation): NFD, map confusables to their prototype, NFD."""
    table = _confusables()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(c, c) for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFD", mapped).replace("rn", "m").replace("vv", "w")


def fold(text: str) -> str:
    """Case, separators and digit look-alikes folded away, on the confusable skeleton."""
    return SEPARATORS.sub("", skeleton(text).lower().translate(DIGIT_LOOKALIKES))


def tokens(text: str) -> list[str]:
    return [t for t in SEPARATORS.split(skeleton(text).lower()) if t]


def name_similarity(candidate: Entry, original: Entry) -> tuple[float, str] | None:
    """How much ``candidate``'s name imitates ``original``'s (0..1) and why; None if not."""
    c, o = candidate.name, original.name
    if c == o:
        return None  # same name: a version or a duplicate, not a look-alike
    quoted = f"{o!r}"
    if skeleton(c) == skeleton(o):
        return 1.0, f"name is confusable with {quoted} (same Unicode skeleton, UTS #39)"
    fc, fo = fold(c), fold(o)
    if fc == fo:
        if c.lower() == o.lower():
            return 0.95, f"name differs from {quoted} only by letter case"
        return 0.95, f"name differs from {quoted} only by separators, case or digit look-alikes"
    tc, to = tokens(c), tokens(o)
    owner = (original.hub_owner or "").lower()
    if owner and owner not in tokens(candidate.hub_owner or "") and fc == fold(owner) + fo:
        return 0.9, f"name folds the original's owner {owner!r} into {quoted}"
    if len(tc) > len(to) and _contains_in_order(tc, to):
        extra = [t for t in tc if t not in to]
        if extra and all(t in SUSPICIOUS_WORDS for t in extra):
            return 0.9, f"name is {quoted} plus {', '.join(repr(t) for t in extra)}"
        if owner and fold(owner) in {fold(t) for t in extra}:
            return 0.9, f"name is {quoted} with the original's owner {owner!r} added"
        if len(extra) == 1 and len(fo) >= 6:
            return 0.55, f"name is {quoted} plus {extra[0]!r}"
    if len(fo) >= 4:
        distance = jellyfish.damerau_levenshtein_distance(fc, fo)
        if distance == 1:
            return 0.85, f"name is one edit away from {quoted}"
        if distance == 2 and len(fo) >= 8:
            return 0.6, f"name is two edits away from {quoted}"
    return None


def _contains_in_order(longer: Sequence[str], shorter: Sequence[str]) -> bool:
    it = iter(longer)
    return all(any(t == s for t in it) for s in shorter)


# --- popularity and bots --------------------------------------------------------------------
@dataclass
class Activity:
    downloads: list[Download] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    @property
    def interest(self) -> int:
        """Distinct users who searched for, viewed or downloaded it."""
        return len({s.user for s in self.seen} | {d.user for d in self.downloads})

    @property
    def searchers(self) -> int:
        return len({s.user for s in self.seen})


def bot_signals(activity: Activity) -> tuple[float, list[str]]:
    """0..1 and reasons: how much the download history looks machine-made."""
    downloads = sorted(activity.downloads, key=lambda d: d.at)
    n = len(downloads)
    if n < 5:
        return 0.0, []
    reasons: list[str] = []
    per_user: dict[str, list[datetime]] = defaultdict(list)
    for d in downloads:
        per_user[d.user].append(d.at)
    top = sorted((len(v) for v in per_user.values()), reverse=True)
    few = 0.0
    share = sum(top[:3]) / n
    if len(per_user) <= 3 or share >= 0.8 and n / len(per_user) >= 4:
        few = 1.0
        reasons.append(f"{share:.0%} of {n} downloads come from {min(3, len(per_user))} accounts")
    regular = 0.0
    for user, times in per_user.items():
        if len(times) < 5:
            continue
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        mean = statistics.fmean(gaps)
        if mean > 0 and statistics.pstdev(gaps) / mean < 0.25:
            regular = 1.0
            reasons.append(
                f"account {user!r} downloads every {mean:.0f} s with almost no variation"
            )
            break
    burst = 0.0
    window = timedelta(minutes=10)
    best, start = 0, 0
    for end in range(n):
        while downloads[end].at - downloads[start].at > window:
            start += 1
        best = max(best, end - start + 1)
    if n >= 10 and best >= 0.5 * n:
        burst = 1.0
        reasons.append(f"{best} of {n} downloads within 10 minutes")
    first_seen: dict[str, datetime] = {}
    for s in activity.seen:
        if s.user not in first_seen or s.at < first_seen[s.user]:
            first_seen[s.user] = s.at
    blind = sum(1 for d in downloads if not (d.user in first_seen and first_seen[d.user] <= d.at))
    unseen = blind / n
    if unseen >= 0.8:
        reasons.append(f"{unseen:.0%} of downloads were never preceded by a search or a view")
    score = 0.4 * (1.0 if unseen >= 0.8 else unseen / 2) + 0.6 * max(few, regular, burst)
    return min(1.0, score), reasons


def asymmetry(
    candidate: Entry, cand: Activity, original: Entry, orig: Activity
) -> tuple[float, list[str]]:
    """0..1 and reasons: the original is popular, the candidate new and little searched."""
    if orig.interest < MIN_POPULAR_INTEREST:
        return 0.0, []
    ratio = (cand.searchers + 1) / (orig.interest + 1)
    if ratio >= 0.5:
        return 0.0, []
    score = 1.0 - 2 * ratio
    reasons = [
        f"the original has {orig.interest} interested users, this one {cand.searchers} "
        "who searched for or viewed it"
    ]
    if candidate.created_at > original.created_at:
        days = (candidate.created_at - original.created_at).total_seconds() / 86400
        reasons.append(f"registered {days:.1f} days after the original")
    else:
        score *= 0.6
    return max(0.0, min(1.0, score)), reasons


# --- the audit ------------------------------------------------------------------------------
def audit(
    entries: Sequence[Entry],
    downloads: Sequence[Download],
    seen: Sequence[Seen],
    threshold: float = THRESHOLD,
) -> list[Finding]:
    """Every artifact scoring at least ``threshold``, highest first."""
    activity: dict[str, Activity] = defaultdict(Activity)
    for d in downloads:
        activity[d.artifact_id].downloads.append(d)
    for s in seen:
        activity[s.artifact_id].seen.append(s)
    popular = [e for e in entries if activity[e.id].interest >= MIN_POPULAR_INTEREST]
    findings = []
    for cand in entries:
        best: Finding | None = None
        act = activity[cand.id]
        bot, bot_reasons = bot_signals(act)
        for orig in popular:
            if orig.id == cand.id or orig.type != cand.type:
                continue
            if activity[orig.id].interest <= act.searchers:
                continue
            similar = name_similarity(cand, orig)
            if similar is None:
                continue
            name_score, name_reason = similar
            asym, asym_reasons = asymmetry(cand, act, orig, activity[orig.id])
            score = name_score * (0.3 + 0.7 * max(asym, bot))
            reasons = [name_reason, *asym_reasons, *bot_reasons]
            if cand.owner is not None and cand.owner == orig.owner:
                score *= 0.4
                reasons.append("registered by the original's own account (a sibling, likely)")
            if best is None or score > best.score:
                best = Finding(cand, round(score, 3), orig, reasons)
        if best is not None and best.score >= threshold:
            findings.append(best)
    findings.sort(key=lambda f: (-f.score, f.artifact.name))
    return findings
