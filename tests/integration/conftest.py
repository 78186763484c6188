"""Fixtures shared by integration tests: ``parts_for`` (a registry and its services on the
test's storage pair, see tests/support/group_services.py), ``parts`` (on SQLite + local files)
and ``both`` (on each storage pair of ``backend``)."""

import pytest

from tests.support.group_services import Parts, parts_for

__all__ = ["both", "parts", "parts_for"]


@pytest.fixture
def parts(parts_for) -> Parts:  # type: ignore[no-untyped-def]
    """SQLite + local files."""
    return parts_for()


@pytest.fixture
def both(parts_for, backend: dict[str, object]) -> Parts:  # type: ignore[no-untyped-def]
    """SQLite + local files, and again PostgreSQL + SeaweedFS S3."""
    return parts_for(**backend)
