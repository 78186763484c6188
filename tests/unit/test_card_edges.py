"""Model cards at the edges: front matter over its size limit or nested beyond the parser's
depth is a recorded problem (the card still reads), odd YAML values become text, and GitHub
links that name images are not taken for code repositories."""

from __future__ import annotations

from tmr.sources.card import MAX_FRONT_MATTER_BYTES, linked_code_urls, read_front_matter


def test_front_matter_over_the_limit_is_not_parsed() -> None:
    block = "tags:\n" + "  - x\n" * (MAX_FRONT_MATTER_BYTES // 6 + 10)
    data, problem, body = read_front_matter(f"---\n{block}---\n# Card\n")
    assert data == {}
    assert problem == f"the YAML front matter of README.md exceeds {MAX_FRONT_MATTER_BYTES} bytes"
    assert body == "# Card\n"


def test_front_matter_nested_too_deeply_is_malformed() -> None:
    nested = "a: " + "[" * 3000 + "]" * 3000
    data, problem, body = read_front_matter(f"---\n{nested}\n---\nbody")
    assert data == {} and body == "body"
    assert problem is not None
    assert problem.startswith("the YAML front matter of README.md is malformed: ")
    assert "nesting depth" in problem


def test_yaml_values_json_cannot_hold_become_text() -> None:
    data, problem, _ = read_front_matter("---\nlogo: !!binary aGk=\n2024: year\n---\n")
    assert problem is None
    assert data == {"logo": "b'hi'", "2024": "year"}


def test_github_links_to_images_are_not_code() -> None:
    text = (
        "![logo](https://github.com/acme/logo.png) and https://github.com/acme/tool.git, "
        "https://github.com/acme/banner.svg"
    )
    assert linked_code_urls(text) == ["https://github.com/acme/tool"]
