"""abuse limits and narrow reads (issue 7): login throttle state shared by replicas; the one
fact lineage needs from a snapshot (a malformed config.json) in its own column

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _config_problem(raw: str | None) -> str | None:
    try:
        problems = json.loads(raw or "{}")["hf"]["extra_json"]["_problems"]
        value = problems.get("config.json")
        return str(value) if value else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.Float(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.add_column("artifacts", sa.Column("config_problem", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, snapshot FROM artifacts WHERE snapshot LIKE '%_problems%'")
    )
    for artifact_id, raw in rows.fetchall():
        problem = _config_problem(raw)
        if problem:
            conn.execute(
                sa.text("UPDATE artifacts SET config_problem = :p WHERE id = :i"),
                {"p": problem, "i": artifact_id},
            )


def downgrade() -> None:
    op.drop_column("artifacts", "config_problem")
    op.drop_table("login_throttle")
