"""source URLs: the link a feed gave, when the page's canonical link names the article otherwise

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("article_sources", sa.Column("url", sa.Text(), nullable=True))
    op.create_index("ix_article_sources_url", "article_sources", ["url"])


def downgrade() -> None:
    op.drop_index("ix_article_sources_url", "article_sources")
    op.drop_column("article_sources", "url")
