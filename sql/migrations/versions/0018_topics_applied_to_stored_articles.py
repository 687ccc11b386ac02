"""topics.applied_rule, and alert_topics.match_id kept when a match goes: applying a topic to
stored articles (`newswatch topics apply`, and each run for an edited topic)

A re-tag removes matches a topic no longer produces. A sent alert must still record which topics
it carried, so its alert_topics row outlives the match (match_id becomes null) instead of being
deleted with it. `applied_rule` is the rule as last applied to stored articles; a topic whose
`rule` differs (or that is new: null) is applied by the next run. It starts as the stored rule,
which lacks "stemming": matching then used Snowball stems, now "plural" by default, so the first
run re-tags each topic's recent window once.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("topics", sa.Column("applied_rule", postgresql.JSONB(), nullable=True))
    op.execute("update topics set applied_rule = rule")
    op.alter_column("alert_topics", "match_id", nullable=True)
    op.drop_constraint("alert_topics_match_id_fkey", "alert_topics", type_="foreignkey")
    op.create_foreign_key(
        "alert_topics_match_id_fkey",
        "alert_topics",
        "matches",
        ["match_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # Removing a match looks up the alerts that carry it (and PostgreSQL's SET NULL does too).
    op.create_index("alert_topics_match_id", "alert_topics", ["match_id"])


def downgrade() -> None:
    # A topic whose match was removed is forgotten by the alert, as before this migration.
    op.drop_index("alert_topics_match_id", "alert_topics")
    op.execute("delete from alert_topics where match_id is null")
    op.drop_constraint("alert_topics_match_id_fkey", "alert_topics", type_="foreignkey")
    op.create_foreign_key(
        "alert_topics_match_id_fkey",
        "alert_topics",
        "matches",
        ["match_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.alter_column("alert_topics", "match_id", nullable=False)
    op.drop_column("topics", "applied_rule")
