"""Alembic environment: the engine comes from the caller (tmr.storage.db.migrate).

Replicas starting together on one PostgreSQL database migrate one at a time: the first takes a
transaction-scoped advisory lock, the others wait for it and then find the schema at head.
"""

from __future__ import annotations

from alembic import context

from tmr.storage.db.tables import Base

MIGRATION_LOCK = 461_000_010  # any constant shared by every replica

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(connection=connection, target_metadata=Base.metadata)
    context.run_migrations()
