"""articles.search filled by the application, not generated with translate() in PostgreSQL

Migration 0002's generated column folded accents with translate() over a 748-character table:
~15 ms of database CPU per article, the largest cost after extraction (bench/pipeline.py). The
column becomes a plain tsvector the application fills (newswatch/search_vector.py folds the
same way in Python); existing rows keep their vectors.

Revision ID: 0012
Revises: 0011
"""

import unicodedata

from alembic import op


def _ascii_folds() -> tuple[str, str]:
    """Migration 0002's table, computed here so this migration never changes with the code."""
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


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A generated column cannot simply stop being one on PostgreSQL 15: keep the values, swap
    # the column.
    op.execute("alter table articles add column search_plain tsvector")
    op.execute("update articles set search_plain = search")
    op.execute("alter table articles drop column search")  # drops its GIN index too
    op.execute("alter table articles rename column search_plain to search")
    op.execute("create index articles_search on articles using gin (search)")


def downgrade() -> None:
    source, target = _ascii_folds()
    op.execute("alter table articles drop column search")
    op.execute(
        "alter table articles add column search tsvector generated always as ("
        "to_tsvector('simple'::regconfig, translate(lower(title || ' ' || text), "
        f"'{source}', '{target}'))) stored"
    )
    op.execute("create index articles_search on articles using gin (search)")
