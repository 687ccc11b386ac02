"""digest channels: a digest row per subscriber, channel (email or Apprise) and period

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "digests", sa.Column("channel", sa.String(200), server_default="email", nullable=False)
    )
    op.drop_constraint("digests_subscriber_period", "digests", type_="unique")
    op.create_unique_constraint(
        "digests_subscriber_channel_period", "digests", ["subscriber", "channel", "period_end"]
    )


def downgrade() -> None:
    op.drop_constraint("digests_subscriber_channel_period", "digests", type_="unique")
    op.execute("delete from digests where channel <> 'email'")
    op.create_unique_constraint(
        "digests_subscriber_period", "digests", ["subscriber", "period_end"]
    )
    op.drop_column("digests", "channel")
