"""Reading model and dataset cards: front matter, sections, code blocks and template filler.

Shared by the card-based metrics so that each of them reads the Markdown the same way. A card
generated from the Hugging Face template and never filled in is full of ``[More Information
Needed]`` and stock sentences; those count as no content at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FRONT_MATTER = re.compile(r"\A\s*---\s*\n.*?\n---\s*(\n|\Z)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
PLACEHOLDER = re.compile(r"\[?more information needed\]?", re.IGNORECASE)
# Stock sentences of the Hugging Face model-card template: present in every unfilled card.
_BOILERPLATE = (
    "This is the model card of a 🤗 transformers model that has been pushed on the Hub.",
    "This model card has been automatically generated.",
    "Use the code below to get started with the model.",
    "Users (both direct and downstream) should be made aware of the risks, biases and "
    "limitations of the model.",
    "More information needed for further recommendations.",
    "Carbon emissions can be estimated using the",
)
_FILLER_LINE = re.compile(r"^\s*[-*]?\s*\*\*[^*]+:\*\*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    level: int
    title: str
    body: str  # text up to the next heading of any level, comments removed

    def matches(self, pattern: str) -> bool:
        return re.search(pattern, self.title, re.IGNORECASE) is not None


def strip_front_matter(text: str) -> str:
    return _FRONT_MATTER.sub("", text, count=1)


def clean(text: str) -> str:
    """Text without comments, template filler and placeholders (what a reader actually learns)."""
    text = _COMMENT.sub("", text)
    # A line carrying a stock sentence is template filler as a whole.
    text = "\n".join(ln for ln in text.splitlines() if not any(b in ln for b in _BOILERPLATE))
    text = PLACEHOLDER.sub("", text)
    return _FILLER_LINE.sub("", text).strip()


def placeholder_count(text: str) -> int:
    return len(PLACEHOLDER.findall(text))


def sections(card: str) -> list[Section]:
    """Sections of a card in order; headings inside code blocks are ignored."""
    body = _COMMENT.sub("", strip_front_matter(card))
    masked = _FENCE.sub(lambda m: re.sub(r"#", "\u2063", m.group(0)), body)
    found: list[Section] = []
    heads = list(_HEADING.finditer(masked))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        found.append(Section(len(head.group(1)), head.group(2).strip(), body[head.end() : end]))
    return found


def intro(card: str) -> str:
    """Text before the first second-level heading (the description most cards open with)."""
    body = strip_front_matter(card)
    match = re.search(r"^##[ \t]", body, re.MULTILINE)
    return body[: match.start()] if match else body


def substantive(text: str, min_chars: int = 40) -> bool:
    return len(clean(text)) >= min_chars


def code_blocks(card: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block in the card."""
    return [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(strip_front_matter(card))]


def words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", clean(text)))


def find_section(card_sections: list[Section], pattern: str) -> Section | None:
    """The first section whose title matches and that has real content (prose or code)."""
    for section in card_sections:
        if section.matches(pattern) and substantive(section.body):
            return section
    return None
