"""Alembic environment: the engine comes from the caller (tmr.storage.db.migrate)."""

from __future__ import annotations

from alembic import context

from tmr.storage.db.tables import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    context.run_migrations()
