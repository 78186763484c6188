"""The composition root: services share the parts they are given, never the whole registry."""

from __future__ import annotations

import ast
from pathlib import Path

from tmr.composition import build_registry, build_services
from tmr.config import load_settings

SERVICES = Path(__file__).resolve().parents[2] / "src" / "tmr" / "services"


def test_one_upstream_seam_and_one_gate_policy_are_shared(tmp_path: Path) -> None:
    registry = build_registry(load_settings(data_dir=tmp_path / "data", log_level=0))
    try:
        services = build_services(registry)
        seams = {
            id(services.ingest.upstream),
            id(services.downloads.upstream),
            id(services.license_check.upstream),
        }
        assert seams == {id(registry.upstream)}  # swapping a function on it reaches them all
        assert services.ingest.rating is services.rating  # ingestion and /rate/explain: one gate
        assert services.uploads.ingest is services.ingest
        assert services.group_execution.ingest is services.ingest
    finally:
        registry.db.dispose()


def test_no_service_takes_the_registry_object() -> None:
    offenders = []
    for path in sorted(SERVICES.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "tmr.composition":
                offenders.append(f"{path.name} imports tmr.composition")
            annotation = node.annotation if isinstance(node, ast.arg) else None
            if isinstance(annotation, ast.Name) and annotation.id == "Registry":
                offenders.append(f"{path.name}: a parameter typed Registry")
    assert offenders == []
