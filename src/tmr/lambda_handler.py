"""AWS Lambda entry point: Mangum around the same ASGI app (API Gateway proxy events).

Configure with TMR_DATABASE_URL=postgresql://… and TMR_BLOB_URL=s3://bucket/prefix; the app is
built once per Lambda container, on the first event.
"""

from __future__ import annotations

from typing import Any

_handler: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        from mangum import Mangum

        from tmr.app import create_app

        _handler = Mangum(create_app(), lifespan="off")
    return _handler(event, context)  # type: ignore[no-any-return]
