"""access control: disabled users, token ids, the security log and audit checkpoints

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("token_id", sa.String(length=32), nullable=True))
    op.execute("UPDATE tokens SET token_id = substr(token_hash, 1, 16) WHERE token_id IS NULL")
    op.create_index("ix_tokens_token_id", "tokens", ["token_id"], unique=True)
    op.create_table(
        "security_log",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_security_log_action_seq", "security_log", ["action", "seq"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("base", sa.String(length=64), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("stream"),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_security_log_action_seq", table_name="security_log")
    op.drop_table("security_log")
    op.drop_index("ix_tokens_token_id", table_name="tokens")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("token_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
