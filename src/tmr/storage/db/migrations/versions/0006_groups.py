"""atomic groups: groups, their commands, and the blob prefixes they must clean up

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("results", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_groups_status_expires", "artifact_groups", ["status", "expires_at"])
    op.create_index("ix_groups_created_by", "artifact_groups", ["created_by", "created_at"])
    op.create_table(
        "group_commands",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("artifact_type", sa.String(length=16), nullable=False),
        sa.Column("artifact_id", sa.String(length=64), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("filename", sa.String(length=512), nullable=True),
        sa.Column("blob_key", sa.String(length=1200), nullable=True),
        sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["group_id"], ["artifact_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "position"),
    )
    op.create_table(
        "group_blobs",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=1200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["artifact_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "prefix"),
    )


def downgrade() -> None:
    op.drop_table("group_blobs")
    op.drop_table("group_commands")
    op.drop_index("ix_groups_created_by", table_name="artifact_groups")
    op.drop_index("ix_groups_status_expires", table_name="artifact_groups")
    op.drop_table("artifact_groups")
