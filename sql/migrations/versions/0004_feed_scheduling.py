"""feed scheduling: URL as configured, last unconditional poll, adaptive interval, publishing rate

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feeds", sa.Column("config_url", sa.Text(), nullable=True))
    op.execute("update feeds set config_url = url")
    op.add_column(
        "feeds", sa.Column("last_full_poll_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("feeds", sa.Column("poll_interval_seconds", sa.Integer(), nullable=True))
    op.add_column("feeds", sa.Column("items_per_day", sa.Float(), nullable=True))
    op.create_index("feeds_due", "feeds", ["next_poll_at"], postgresql_where=sa.text("enabled"))


def downgrade() -> None:
    op.drop_index("feeds_due", table_name="feeds")
    op.drop_column("feeds", "items_per_day")
    op.drop_column("feeds", "poll_interval_seconds")
    op.drop_column("feeds", "last_full_poll_at")
    op.drop_column("feeds", "config_url")
