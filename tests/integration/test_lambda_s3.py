"""The Lambda deployment's download path: API Gateway cannot return large bodies, so under the
Lambda handler with an S3 bundle store every download answers 302 to a presigned URL of the
object store, which serves the bytes itself. Runs the real handler (Mangum) with API Gateway
events against PostgreSQL and SeaweedFS, as deploy/aws/template.yaml configures it.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import zipfile

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.support.zips import hf_zip

pytestmark = [pytest.mark.postgres, pytest.mark.s3]


def _event(method: str, path: str, headers: dict[str, str] | None = None,
           body: bytes | None = None, query: dict[str, str] | None = None) -> dict:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path": path,
                           "stage": "Prod", "requestId": secrets.token_hex(4),
                           "identity": {"sourceIp": "203.0.113.9"}},
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def _multipart(name: str, payload: bytes) -> tuple[bytes, str]:
    boundary = secrets.token_hex(8)
    parts = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.zip\"\r\n"
        "Content-Type: application/zip\r\n\r\n"
    ).encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return parts, f"multipart/form-data; boundary={boundary}"


def test_lambda_downloads_are_presigned_redirects_to_s3(
    monkeypatch, tmp_path, pg_database, s3_server  # type: ignore[no-untyped-def]
) -> None:
    import tmr.lambda_handler as entry

    monkeypatch.setenv("TMR_DATA_DIR", str(tmp_path / "lambda"))
    monkeypatch.setenv("TMR_DATABASE_URL", pg_database)
    monkeypatch.setenv("TMR_BLOB_URL", f"s3://tmr-lambda-{secrets.token_hex(4)}/bundles")
    monkeypatch.setenv("TMR_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setattr(entry, "_handler", None)
    login = entry.handler(_event("PUT", "/authenticate", {"content-type": "application/json"},
                                 json.dumps({"user": {"name": ADMIN, "is_admin": True},
                                             "secret": {"password": ADMIN_PASSWORD}}).encode()),
                          None)
    assert login["statusCode"] == 200, login
    auth = {"x-authorization": json.loads(login["body"])}
    weights = secrets.token_bytes(3_000_000)
    body, content_type = _multipart("lambda-model", hf_zip(name="lambda-model", weights=weights))
    made = entry.handler(_event("POST", "/artifact/model/upload",
                                {**auth, "content-type": content_type}, body), None)
    assert made["statusCode"] == 201, made["body"][:500]
    artifact_id = json.loads(made["body"])["metadata"]["id"]

    bundle = entry.handler(_event("GET", f"/download/{artifact_id}", auth), None)
    single = entry.handler(
        _event("GET", f"/download/{artifact_id}/files/model.safetensors", auth), None
    )
    for response in (bundle, single):
        assert response["statusCode"] == 302, (response["statusCode"], response["body"][:300])
        assert len(response["body"] or "") < 4096  # no bundle bytes through API Gateway
        assert response["headers"]["location"].startswith(s3_server + "/")
    fetched = httpx.get(bundle["headers"]["location"], timeout=60)
    assert fetched.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(fetched.content)).read("model.safetensors") == weights
    assert httpx.get(single["headers"]["location"], timeout=60).content == weights
    # the presigned URL is the object store's own signature: altered, it is refused
    tampered = bundle["headers"]["location"].replace("Signature=", "Signature=0")
    assert httpx.get(tampered, timeout=60).status_code == 403
    entry._handler = None  # type: ignore[attr-defined]
