"""feed_findings: what the watchdog found wrong with each feed, open and resolved, and what the
operator was told; feeds.moved_to: a permanent redirect onto a URL another feed polls

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feeds", sa.Column("moved_to", sa.Text()))
    op.create_table(
        "feed_findings",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "feed_id", sa.Integer(), sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        # When the operator's daily message told of it, and of its end.
        sa.Column("told_at", sa.DateTime(timezone=True)),
        sa.Column("told_resolved_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "kind in ('quiet', 'failing', 'gone', 'moved', 'blocked', 'parse')",
            name="feed_findings_kind",
        ),
    )
    # One open finding of a kind per feed; resolved ones are history.
    op.create_index(
        "feed_findings_open",
        "feed_findings",
        ["feed_id", "kind"],
        unique=True,
        postgresql_where=sa.text("resolved_at is null"),
    )
    op.create_index("feed_findings_feed", "feed_findings", ["feed_id", "first_seen_at"])
    # The watchdog reads each feed's last four weeks of items and pages.
    op.create_index("article_sources_feed_seen", "article_sources", ["feed_id", "seen_at"])
    op.create_index("articles_feed_fetched", "articles", ["feed_id", "fetched_at"])


def downgrade() -> None:
    op.drop_index("articles_feed_fetched", "articles")
    op.drop_index("article_sources_feed_seen", "article_sources")
    op.drop_table("feed_findings")
    op.drop_column("feeds", "moved_to")
