"""Relational metadata: engine by URL, tables, repositories and Alembic migrations.

Only this package imports SQLAlchemy. Repositories turn rows into plain domain objects before they
leave it; services never commit (the request wrapper in ``tmr.storage.db.engine`` does, once).
"""
