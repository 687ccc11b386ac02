"""access_tokens: the secrets in the URLs of the Atom feeds and the read API's bearer tokens,
stored hashed and revocable; secrets.installation, which makes Atom entry ids unique to this
installation

Revision ID: 0020
Revises: 0019
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("scope", sa.String(10), nullable=False),
        # The topic's or subscriber's name for a feed token; null for the API.
        sa.Column("target", sa.String(200)),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        # SHA-256 of the token: the token itself is shown once and never stored.
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("scope in ('topic', 'subscriber', 'api')", name="access_tokens_scope"),
        sa.CheckConstraint(
            "(scope = 'api') = (target is null)", name="access_tokens_target_for_feeds"
        ),
    )
    op.execute(
        sa.text("insert into secrets (name, value) values ('installation', :value)").bindparams(
            value=str(uuid.uuid4())
        )
    )


def downgrade() -> None:
    op.execute("delete from secrets where name = 'installation'")
    op.drop_table("access_tokens")
