"""notices: messages to the operator (failed DAG runs) in the outbox, like alerts and digests

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("channel", sa.String(200), server_default="email", nullable=False),
        sa.Column("recipients", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.String(10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("message_id", sa.Text()),
        sa.Column("delivered_to", sa.Text()),
        sa.Column(
            "outcomes", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("key", sa.Text(), nullable=False, unique=True),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.CheckConstraint("state in ('pending', 'sent', 'failed')", name="notices_state"),
    )


def downgrade() -> None:
    op.drop_table("notices")
