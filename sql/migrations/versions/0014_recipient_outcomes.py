"""alerts.outcomes, digests.outcomes: who got an email and who was refused for good

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("alerts", "digests"):
        op.add_column(
            table,
            sa.Column(
                "outcomes",
                postgresql.JSONB(),
                server_default=sa.text("'{}'::jsonb"),
                nullable=False,
            ),
        )


def downgrade() -> None:
    for table in ("alerts", "digests"):
        op.drop_column(table, "outcomes")
