"""ASGI entry for multi-worker servers: ``uvicorn tmr.asgi:app`` (settings from the environment)."""

from tmr.app import create_app

app = create_app()
