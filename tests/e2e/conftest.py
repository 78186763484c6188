"""Every test here that builds a registry runs twice: on SQLite + local files and on
PostgreSQL + S3 (SeaweedFS). ``storage`` (used by ``make_settings``, hence ``settings`` and
``client``) is the parametrised ``backend``; module-scoped registries take ``module_backend``."""

from __future__ import annotations

import pytest


@pytest.fixture
def storage(backend: dict[str, object]) -> dict[str, object]:
    return backend
