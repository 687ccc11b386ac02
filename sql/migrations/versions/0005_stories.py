"""stories: near-duplicate articles grouped; one alert per story and topic

Existing articles each become a story of their own, so existing alerts keep their meaning.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lead_article_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
    )
    op.create_foreign_key(
        "stories_lead_article",
        "stories",
        "articles",
        ["lead_article_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("articles", sa.Column("story_id", sa.BigInteger(), nullable=True))
    op.add_column("articles", sa.Column("minhash", sa.LargeBinary(), nullable=True))
    op.create_foreign_key("articles_story_id_fkey", "articles", "stories", ["story_id"], ["id"])
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    # Backfill: one story per existing article, reusing the article id as the story id.
    op.execute(
        "insert into stories (id, first_seen_at, lead_article_id, title) "
        "select id, fetched_at, id, title from articles"
    )
    op.execute(
        "select setval(pg_get_serial_sequence('stories', 'id'), coalesce(max(id), 0) + 1, false) from stories"
    )
    op.execute("update articles set story_id = id")
    op.add_column("alerts", sa.Column("story_id", sa.BigInteger(), nullable=True))
    op.execute("update alerts set story_id = article_id")
    op.alter_column("alerts", "story_id", nullable=False)
    op.create_foreign_key("alerts_story_id_fkey", "alerts", "stories", ["story_id"], ["id"])
    op.drop_constraint("alerts_article_topic", "alerts", type_="unique")
    op.create_unique_constraint("alerts_story_topic", "alerts", ["story_id", "topic_id"])


def downgrade() -> None:
    op.drop_constraint("alerts_story_topic", "alerts", type_="unique")
    op.create_unique_constraint("alerts_article_topic", "alerts", ["article_id", "topic_id"])
    op.drop_constraint("alerts_story_id_fkey", "alerts", type_="foreignkey")
    op.drop_column("alerts", "story_id")
    op.drop_index("ix_articles_story_id", table_name="articles")
    op.drop_constraint("articles_story_id_fkey", "articles", type_="foreignkey")
    op.drop_column("articles", "minhash")
    op.drop_column("articles", "story_id")
    op.drop_constraint("stories_lead_article", "stories", type_="foreignkey")
    op.drop_table("stories")
