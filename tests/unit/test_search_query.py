"""The trigram prefilter never loses a match: index answer == brute-force RE2 scan.

Patterns are generated (seeded) from the constructs that matter for the trigram analysis:
literals in mixed case and scripts, classes and ranges, alternations, optional and counted
groups, stars and pluses, ``^``/``$``/``\\A``/``\\z`` and multi-line anchors, word boundaries,
case-insensitive flags (global and scoped), and Unicode whose case folding is odd (the Kelvin
sign and long s that RE2 folds to k and s, final sigma, dotted capital I). Texts are built from
the same pieces, so patterns do match. For every pattern RE2 accepts, the index (the real
``_Index`` and ``_Matcher`` of services/search.py) must answer exactly what scanning every name
and text with RE2 answers.
"""

from __future__ import annotations

import random

import pytest
import re2

from tmr.errors import InvalidRegex
from tmr.services.search import _Index, _Matcher, compile_pattern
from tmr.services.search_query import ALL, Query, essential, required_trigrams, text_trigrams
from tmr.storage.db.search import RegistryVersion, SearchRow

WORDS = [
    "bert", "BERT", "Bert", "whisper", "WhIsPeR", "transformer", "transformers", "model",
    "apache-2.0", "gpt2", "gpt-2", "llm", "tiny", "aaa", "a", "xxy", "kelvin", "\u212aelvin",
    "sun", "\u017fun", "ΟΔΟΣ", "οδος", "ΣΑΣ", "İstanbul", "istanbul", "日本語", "モデル", "ünïcödé",
    "ÜNÏCÖDÉ", "straße", "STRASSE", "!", "?", "-", "_", "1234-56", "0", "\t", "x", "y", "z",
]  # fmt: skip
SEPARATORS = [" ", "\n", "", "-", ". ", "\n\n"]
FLAGS = ["", "(?i)", "(?m)", "(?s)", "(?im)", "(?i)(?m)"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(SEPARATORS) for _ in range(rng.randrange(0, 9)))


def _atom(rng: random.Random, depth: int) -> str:
    word = rng.choice(WORDS)
    choices = [
        lambda: re2.escape(word),
        lambda: re2.escape(word[: rng.randrange(1, len(word) + 1)] if word else "a"),
        lambda: rng.choice(["[a-z]", "[A-Z]+", "[0-9]", "[^a]", "[bB]", "[ks]", "[ΣσςΑ]", "\\d"]),
        lambda: rng.choice([".", ".*", ".+", "\\w+", "\\s", "\\b", "\\B", "[\\s\\S]"]),
        lambda: rng.choice(["^", "$", "\\A", "\\z", "(?m:^)", "(?m:$)"]),
        lambda: f"(?i:{re2.escape(word)})",
        lambda: f"(?-i:{re2.escape(word)})",
    ]
    if depth < 3:
        choices += [
            lambda: f"({_seq(rng, depth + 1)}|{_seq(rng, depth + 1)})",
            lambda: f"(?:{_seq(rng, depth + 1)})?",
            lambda: f"({_seq(rng, depth + 1)})*",
            lambda: f"({_seq(rng, depth + 1)})+",
            lambda: f"(?:{_seq(rng, depth + 1)}){{{rng.randrange(0, 3)},{rng.randrange(3, 5)}}}",
            lambda: f"(?:{_seq(rng, depth + 1)}){{{rng.randrange(1, 3)}}}",
        ]
    return rng.choice(choices)()


def _seq(rng: random.Random, depth: int = 0) -> str:
    return "".join(_atom(rng, depth) for _ in range(rng.randrange(1, 4)))


def _pattern(rng: random.Random) -> str:
    if rng.random() < 0.2:  # top-level alternatives (each has its optional ends dropped apart)
        return rng.choice(FLAGS) + _seq(rng) + "|" + _seq(rng)
    return rng.choice(FLAGS) + _seq(rng)


def _index(docs: list[tuple[str, str]]) -> _Index:
    index = _Index(version=RegistryVersion(0, "", "", 0), chain_seq=0, chain_hash="")
    index.add(SearchRow(i + 1, f"id-{i}", n, "model", t) for i, (n, t) in enumerate(docs))
    return index


def _scan(pattern: str, docs: list[tuple[str, str]]) -> list[int]:
    rx = re2.compile(pattern.encode())
    return [i for i, (n, t) in enumerate(docs) if rx.search(n.encode()) or rx.search(t.encode())]


def _answer(index: _Index, pattern: str) -> list[int] | None:
    try:
        compiled = compile_pattern(pattern)
    except InvalidRegex:
        return None
    return [index.docs[s].seq - 1 for s in _Matcher(compiled, pattern, index).run()]


def _docs(rng: random.Random, count: int) -> list[tuple[str, str]]:
    docs = []
    for _ in range(count):
        name = _text(rng).strip() or "n"
        readme = _text(rng)
        # most search texts start with the name (as registered ones do); some do not
        docs.append((name, f"{name}\n{readme}" if rng.random() < 0.85 else readme))
    return docs


@pytest.mark.parametrize("seed", range(12))
def test_index_answers_exactly_what_a_full_scan_answers(seed):
    rng = random.Random(seed)
    docs = _docs(rng, 120)
    index = _index(docs)
    checked = 0
    for _ in range(250):
        pattern = _pattern(rng)
        got = _answer(index, pattern)
        if got is None:
            continue
        assert got == _scan(pattern, docs), pattern
        checked += 1
    assert checked > 150  # most generated patterns are valid RE2


@pytest.mark.parametrize(
    "pattern",
    [
        "(?i)kelvin", "(?i)KELVIN", "(?i)sun", "(?i)SUN", "ΟΔΟΣ", "(?i)οδοσ", "οδος$", "İstanbul",
        "(?i)straße", "(?i)STRASSE", "(?i)ünïcödé", "日本語モデル", "(?i)bert|whisper",
        "^bert\\b", "bert$", "\\Abert", "gpt\\z", "^$", "$^", "^^bert$$", "(a+)+$", "(?m)^tiny$",
        "[[:alpha:]]+ model", "x{,2}y", "\\pL+ model", "\\x{65e5}本", "\\Qgpt-2\\E",
        "(?i:BERT) model", "(?-i:bert)", "(?s)bert.model", "transformer[s]? model",
        "apache-2\\.0", "gpt-?2", "(x+x+)+y", "([a-z]+)*!", "\\d{4}-\\d{2}", "(?m)^$",
        "(?im)\\A", "^(\\w+\\s?)+$", "(^bert)+", "(?m)^tiny\\z", "[$^]", "\\^|\\$", "^\\b",
    ],
)  # fmt: skip
def test_tricky_patterns_against_tricky_texts(pattern):
    docs = [
        ("bert", "bert\nA BERT model with transformers"),
        ("Kelvin-\u212aelvin", "KELVIN kelvin \u212aELVIN"),
        ("sun", "\u017fun SUN"),
        ("odos", "ΟΔΟΣ and ΣΑΣ and οδος"),
        ("ist", "İstanbul"),
        ("de", "straße STRASSE ünïcödé ÜNÏCÖDÉ"),
        ("jp", "日本語モデル"),
        ("empty", ""),
        ("", ""),
        ("gpt", "gpt"),
        ("aaa", "aaa"),
        ("xxy", "xxxxy apache-2.0 1234-56!"),
        ("gpt-2", "not the name\ngpt-2 and gpt2"),
        ("tiny", "first line\ntiny\nlast"),
    ]
    index = _index(docs)
    assert _answer(index, pattern) == _scan(pattern, docs), pattern


@pytest.mark.parametrize("seed", range(6))
def test_many_buffers_with_leading_anchors_and_optional_ends(seed):
    """More artifacts than one scan buffer holds, so each buffer's first artifact (which has no
    NUL before it) is met; patterns starting with ^ or \\A, or with optional pieces at an end."""
    rng = random.Random(1000 + seed)
    docs = _docs(rng, 700)
    index = _index(docs)
    assert len(index.chunks) >= 3
    for _ in range(60):
        core = _seq(rng)
        pattern = rng.choice(["^", "\\A", "(?:zq)?", "[a-z]*", ""]) + core
        pattern += rng.choice(["", "$", "(x)?", "\\s*", "|zq1nomatch"])
        assert _answer(index, pattern) in (None, _scan(pattern, docs)), pattern


@pytest.mark.parametrize("seed", range(6))
def test_the_essential_part_of_a_pattern_is_found_exactly_where_the_pattern_is(seed):
    rng = random.Random(2000 + seed)
    texts = [_text(rng) for _ in range(80)]
    for _ in range(200):
        pattern = _pattern(rng)
        try:
            whole = re2.compile(pattern)
        except re2.error:
            continue
        core = essential(pattern)
        part = re2.compile(core)
        for text in texts:
            assert bool(whole.search(text)) == bool(part.search(text)), (pattern, core, text)


def test_optional_ends_are_dropped_and_the_rest_kept_as_written():
    assert essential("([a-z]+)*!") == "!"
    assert essential("(?:zq1)?bert\\s*|x{0,3}gpt") == "bert|gpt"
    assert essential("(?i)a*B") == "(?i)B"  # the flag group stays (it reaches what follows)
    assert essential("a*|b?") == "a*|b?"  # nothing would remain: the alternative as it was
    assert essential("\\x41*b\\pL?c\\123?") == "b\\pL?c"
    assert essential("a+?b??") == "a+?"  # +? is a lazy plus, ?? a lazy option
    assert essential("(a)(b") == "(a)(b"  # unsure (unbalanced): unchanged


def _satisfied(query: Query, keys: set[tuple[int, int, int]]) -> bool:
    if query.op == "all":
        return True
    if query.op == "none":
        return False
    results = [g in keys for g in query.trigrams] + [_satisfied(q, keys) for q in query.subs]
    return all(results) if query.op == "and" else any(results)


def test_the_query_narrows_what_it_can():
    assert required_trigrams("\\d{4}") is ALL  # nothing literal: a full scan
    assert required_trigrams("[[:alpha:]]bert") is ALL  # POSIX class: Python reads it otherwise
    bert = required_trigrams("bert")
    assert bert.op == "and" and bert.trigrams == {tuple(b"ber"), tuple(b"ert")}
    assert required_trigrams("(?i)BERT") == bert  # the index is lowercased
    ends_in_a = required_trigrams("(a+)+$")
    assert _satisfied(ends_in_a, text_trigrams("x", "x\nbanana"))
    assert not _satisfied(ends_in_a, text_trigrams("x", "x\nbanana split"))
    # one or more in a row: x+x+ ends with "xx", so (x+x+)+y needs "xxy"
    assert required_trigrams("(x+x+)+y") == Query("and", frozenset({tuple(b"xxy")}))
    either = required_trigrams("whisper|bert")
    assert either.op == "or"
    assert _satisfied(either, text_trigrams("m", "a bert model"))
    assert not _satisfied(either, text_trigrams("m", "a gpt model"))


def test_a_too_large_automaton_is_refused_before_any_scan():
    with pytest.raises(InvalidRegex, match="too complex"):
        compile_pattern(".{0,1000}.{0,1000}.{0,1000}!")
    with pytest.raises(InvalidRegex, match="not valid Unicode"):
        compile_pattern("\ud800")
