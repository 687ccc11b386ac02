"""topic engine: matches.offsets, and a GIN-indexed full-text column on articles for backtests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:15:00
"""

import unicodedata

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ascii_folds() -> tuple[str, str]:
    """Characters that fold to one ASCII letter or digit (é -> e, İ -> i, Ａ -> a), as translate()
    arguments: PostgreSQL's `simple` configuration keeps accents, topic matching ignores them.

    Computed here, not imported, so this migration never changes with the application code.
    """
    source, target = [], []
    for code in range(0x80, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        decomposed = unicodedata.normalize("NFKD", char.casefold())
        folded = "".join(c for c in decomposed if not unicodedata.combining(c))
        if char == "ı":
            folded = "i"
        if len(folded) == 1 and folded.isascii() and folded.isalnum():
            source.append(char)
            target.append(folded)
    return "".join(source), "".join(target)


def upgrade() -> None:
    op.add_column(
        "matches",
        sa.Column(
            "offsets", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    source, target = _ascii_folds()
    op.execute(
        "alter table articles add column search tsvector generated always as ("
        "to_tsvector('simple'::regconfig, translate(lower(title || ' ' || text), "
        f"'{source}', '{target}'))) stored"
    )
    op.create_index("articles_search", "articles", ["search"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("articles_search", table_name="articles")
    op.drop_column("articles", "search")
    op.drop_column("matches", "offsets")
