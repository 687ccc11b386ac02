"""digests: one outbox row per subscriber and period

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("subscriber", sa.String(200), nullable=False),
        sa.Column("recipients", postgresql.JSONB(), nullable=False),
        sa.Column("topics", postgresql.JSONB(), nullable=False),
        sa.Column("send_empty", sa.Boolean(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("delivered_to", sa.Text(), nullable=True),
        sa.Column("stories", sa.Integer(), nullable=True),
        sa.UniqueConstraint("subscriber", "period_end", name="digests_subscriber_period"),
        sa.CheckConstraint("state in ('pending', 'sent', 'failed', 'empty')", name="digests_state"),
    )


def downgrade() -> None:
    op.drop_table("digests")
