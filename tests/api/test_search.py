"""Regex search over names and READMEs with a linear-time engine."""

from __future__ import annotations

import time

import pytest

from tests.support.zips import upload


def test_regex_matches_names_and_readme_text(client, auth):
    a = upload(client, auth, "dataset", name="audience-classifier")["metadata"]
    b = upload(client, auth, "code", name="other")["metadata"]
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": ".*?(audience|bert).*"})
    assert r.status_code == 200
    assert a in r.json()
    # every uploaded card says "support tickets": README text is searched
    readme_hits = client.post(
        "/artifact/byRegEx", headers=auth, json={"regex": "support tickets"}
    ).json()
    assert a in readme_hits and b in readme_hits
    assert (
        client.post("/artifact/byRegEx", headers=auth, json={"regex": "^zzz-nothing$"}).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(", "invalid regular expression '('"),
        ("[a-", "invalid regular expression '[a-'"),
        ("a{2,1}", "invalid regular expression 'a{2,1}'"),
        ("", "regex must be a non-empty string"),
        ("a" * 5000, "regex longer than"),
    ],
)
def test_invalid_patterns_are_400(client, auth, pattern, reason):
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": pattern})
    assert r.status_code == 400
    assert r.json()["message"].startswith(reason)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)*$", "(a{1,99999}){1,99999}$"])
def test_catastrophic_patterns_finish_quickly(client, auth, pattern):
    upload(client, auth, "dataset", name="a" * 500 + "!")
    started = time.perf_counter()
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": pattern})
    assert time.perf_counter() - started < 2.0
    assert r.status_code in (200, 400, 404)
