"""Fixtures shared by integration tests (``parts_for``: a registry and its services on the
test's storage pair, see tests/support/group_services.py)."""

from tests.support.group_services import parts_for

__all__ = ["parts_for"]
