"""Version queries: exact, bounded range, tilde and caret."""

from __future__ import annotations

import pytest

from tmr.domain.versions import parse_query, parse_version


@pytest.mark.parametrize(
    ("query", "inside", "outside"),
    [
        ("1.2.3", ["1.2.3", "v1.2.3"], ["1.2.4", "1.2"]),
        ("1.2", ["1.2.0"], ["1.2.1"]),
        ("1.2.3-2.1.0", ["1.2.3", "1.9.9", "2.1.0"], ["1.2.2", "2.1.1"]),
        ("~1.2.0", ["1.2.0", "1.2.99"], ["1.3.0", "1.1.9"]),
        ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
        ("^1.2.0", ["1.2.0", "1.99.0"], ["2.0.0", "1.1.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
    ],
)
def test_query_matches_what_it_should(query, inside, outside):
    q = parse_query(query)
    for text in inside:
        assert q.matches(parse_version(text)), f"{query} should match {text}"
    for text in outside:
        assert not q.matches(parse_version(text)), f"{query} should not match {text}"


@pytest.mark.parametrize("bad", ["", "abc", "^x", "~", "2.0.0-1.0.0", "1.2.3.4", "1.2-x"])
def test_malformed_queries_say_why(bad):
    with pytest.raises(ValueError) as info:
        parse_query(bad)
    assert str(info.value)


def test_non_numeric_versions_are_not_versions():
    assert parse_version("main") is None
    assert parse_version("v2") == (2, 0, 0)
