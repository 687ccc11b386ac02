"""alert channels: email or an Apprise subscriber; one alert per story, topic and channel

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "alerts", sa.Column("channel", sa.String(200), server_default="email", nullable=False)
    )
    op.drop_constraint("alerts_story_topic", "alerts", type_="unique")
    op.create_unique_constraint(
        "alerts_story_topic_channel", "alerts", ["story_id", "topic_id", "channel"]
    )


def downgrade() -> None:
    op.drop_constraint("alerts_story_topic_channel", "alerts", type_="unique")
    op.execute("delete from alerts where channel <> 'email'")
    op.create_unique_constraint("alerts_story_topic", "alerts", ["story_id", "topic_id"])
    op.drop_column("alerts", "channel")
