"""The AWS Lambda entry point answers an API Gateway proxy event through the same app."""

from __future__ import annotations

import json


def _event(method: str, path: str, body: dict | None = None, headers: dict | None = None) -> dict:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": path,
            "stage": "prod",
            "requestId": "r-1",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def test_lambda_handler_serves_health_login_and_listing(monkeypatch, tmp_path):
    import tmr.lambda_handler as entry

    monkeypatch.setenv("TMR_DATA_DIR", str(tmp_path / "lambda"))
    monkeypatch.setattr(entry, "_handler", None)
    health = entry.handler(_event("GET", "/health"), None)
    assert health["statusCode"] == 200
    assert json.loads(health["body"])["status"] == "ok"
    login = entry.handler(
        _event(
            "PUT",
            "/authenticate",
            {
                "user": {"name": "ece30861defaultadminuser", "is_admin": True},
                "secret": {
                    "password": "correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE artifacts;"
                },
            },
        ),
        None,
    )
    assert login["statusCode"] == 200
    token = json.loads(login["body"])
    listing = entry.handler(
        _event("POST", "/artifacts", [{"name": "*"}], {"x-authorization": token}), None
    )
    assert listing["statusCode"] == 200 and json.loads(listing["body"]) == []
    denied = entry.handler(_event("POST", "/artifacts", [{"name": "*"}]), None)
    assert denied["statusCode"] == 403
