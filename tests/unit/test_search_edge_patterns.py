"""Regex search: the refusals a client reads (400 with RE2's reason), and patterns at the edges
of the trigram prefilter and the buffer scan (huge classes, unassigned characters, ``x{0}``,
misplaced anchors, ``\\x{…}`` escapes, POSIX classes, a framed pattern past the length limit).
For each, the index (the real ``_Index`` and ``_Matcher``) must answer exactly what scanning
every name and text with RE2 answers (the oracle of tests/unit/test_search_query.py)."""

from __future__ import annotations

import pytest

from tests.unit.test_search_query import _answer, _index, _scan
from tmr.errors import InvalidRegex
from tmr.services.search import MAX_REGEX_LENGTH, compile_pattern
from tmr.services.search_query import ALL, framed_anchors, required_trigrams

DOCS = [
    ("bert", "bert\nA BERT model with transformers"),
    ("gpt", "gpt\nab\u0378cd and AB\u0378CD"),
    ("kanji", "kanji\n一丁bert 丂七"),
    ("alpha", "alpha\nmodel alpha model"),
    ("plain", "plain\nfoo bar"),
    ("long", "long\n" + "ab" * 496),
    ("caret", "^bert is not a start"),
]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "regex must be a non-empty string"),
        ("a" * (MAX_REGEX_LENGTH + 1), f"regex longer than {MAX_REGEX_LENGTH} characters"),
        ("(", "invalid regular expression '(': missing ): ("),
        ("x**", "invalid regular expression 'x**': bad repetition operator: **"),
        ("\\pX", "invalid regular expression '\\\\pX': invalid character class range: \\pX"),
        ("a{1001}", "invalid regular expression 'a{1001}': invalid repetition size: {1001}"),
    ],
)
def test_refused_patterns_say_why_in_re2s_words(pattern: str, message: str) -> None:
    with pytest.raises(InvalidRegex) as caught:
        compile_pattern(pattern)
    assert caught.value.message == message
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "pattern",
    [
        "(?i)ab\u0378cd",  # an unassigned character under (?i): no guess at its case
        "[a-\u4e00]ert",  # a range too large to list
        "[" + "".join(chr(c) for c in range(0x4E00, 0x4E00 + 120)) + "]bert",  # 120 literals
        "x{0}bert",  # a repetition of nothing
        "\\zfoo\\A",  # an end before a start: no buffer scan
        "\\x{62}ert$",  # a braced escape kept whole in the framed pattern
        "^[^a]ert",  # a negated class after an anchor
        "^[]a]lpha",  # a class opening with ]
        "^[[:alpha:]]+ model",  # a POSIX class inside a class
        "^" + "ab" * 496,  # the framed pattern would be too long: texts one by one
        "^^bert",
        "\\^bert",
    ],
)
def test_edge_patterns_find_exactly_what_a_full_scan_finds(pattern: str) -> None:
    index = _index(DOCS)
    assert _answer(index, pattern) == _scan(pattern, DOCS), pattern


def test_edge_patterns_find_the_expected_artifacts() -> None:
    index = _index(DOCS)
    names = [n for n, _ in DOCS]

    def found(pattern: str) -> list[str]:
        got = _answer(index, pattern)
        assert got is not None
        return [names[i] for i in got]

    assert found("(?i)ab\u0378cd") == ["gpt"]
    assert found("[a-\u4e00]ert") == ["bert", "kanji", "caret"]
    assert found("x{0}bert") == ["bert", "kanji", "caret"]
    assert found("\\x{62}ert$") == ["bert"]  # the name "bert" ends there
    assert found("^" + "ab" * 496) == []  # texts start with their names
    assert found("(?m)^" + "ab" * 496) == ["long"]


@pytest.mark.parametrize(
    ("pattern", "framed"),
    [
        ("\\x{62}ert$", ("\\x{62}ert(?:\\x00|$)", 1)),
        ("^[^a]ert", ("(?:\\x00|^)[^a]ert", 1)),
        ("^[[:alpha:]]", ("(?:\\x00|^)[[:alpha:]]", 1)),
        ("\\zfoo\\A", None),  # an end before a start
        ("^*x", None),  # a repeated anchor
        ("^[abc", None),  # an unclosed class
        ("^[[:alpha", None),  # an unclosed POSIX class
        ("\\x{62", None),  # an unclosed brace
    ],
)
def test_anchors_framed_for_a_buffer_scan(pattern: str, framed: tuple[str, int] | None) -> None:
    assert framed_anchors(pattern) == framed


def test_patterns_python_cannot_read_get_no_prefilter() -> None:
    assert required_trigrams("\\pL+ model") is ALL
    assert required_trigrams("[a-\u4e00]") is ALL
