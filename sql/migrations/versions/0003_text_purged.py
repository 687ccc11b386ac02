"""articles.text_purged_at: when retention blanked the article's text

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("text_purged_at", sa.DateTime(timezone=True)))
    # Retention looks for old text not yet purged; keep that lookup off a full scan.
    op.create_index(
        "articles_unpurged_fetched_at",
        "articles",
        ["fetched_at"],
        postgresql_where="text_purged_at is null",
    )


def downgrade() -> None:
    op.drop_index("articles_unpurged_fetched_at", table_name="articles")
    op.drop_column("articles", "text_purged_at")
