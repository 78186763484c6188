"""Identifiers: new artifact ids, and the hub keys that link artifacts to each other.

A hub key names an upstream repository independently of how its URL was spelled:
``org/name`` for a Hugging Face model, ``datasets/org/name`` for a dataset, ``github/owner/repo``
for a GitHub repository. Lineage parents and linked datasets/code are stored and resolved as keys.
"""

from __future__ import annotations

import secrets

from tmr.sources.urls import source_identity


def new_artifact_id() -> str:
    """16 random digits: numeric like the contract's examples, collision-free in practice."""
    return str(secrets.randbelow(9 * 10**15) + 10**15)


def hub_key_from_url(url: str) -> str | None:
    """The hub key of a source URL (:func:`tmr.sources.urls.source_identity`), or None."""
    return source_identity(url)


def upload_key(name: str) -> str:
    """The hub key of an uploaded model: ``upload/<name>``, found by a bare ``<name>`` parent."""
    return f"upload/{name.strip().lower()}"


def key_candidates(key: str) -> list[str]:
    """Keys that may name the same repository: with and without the organisation part.

    The Hub still answers legacy ids without an organisation (``bert-base-uncased``), and cards
    often cite them, so a bare name also matches ``anything/bert-base-uncased``; the reverse
    lookup adds the bare name.
    """
    key = key.strip().lower()
    prefix = "datasets/" if key.startswith("datasets/") else ""
    rest = key[len(prefix) :]
    out = [key]
    if "/" in rest:
        out.append(prefix + rest.rsplit("/", 1)[1])
    return out


def parent_key(name: str) -> str | None:
    """Normalise a declared parent (a hub id or hub URL) to a model hub key; None for paths."""
    name = name.strip()
    if not name:
        return None
    if name.startswith(("http://", "https://")):
        return hub_key_from_url(name)
    if name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1:
        return None
    return name.lower()
