"""articles.claimed_published_at: a future date a feed gave, kept apart from published_at

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "articles", sa.Column("claimed_published_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Dates already stored in the future are clamped the same way new ones are.
    op.execute(
        "update articles set claimed_published_at = published_at, published_at = fetched_at"
        " where published_at > fetched_at"
    )


def downgrade() -> None:
    op.execute(
        "update articles set published_at = claimed_published_at"
        " where claimed_published_at is not null"
    )
    op.drop_column("articles", "claimed_published_at")
