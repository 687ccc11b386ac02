"""articles.search folded as a typed search is: ß -> ss, ligatures, Greek and Cyrillic accents

Documents were folded only where a character folds to one ASCII letter or digit (migration
0002's table); the search box folded what was typed fully (casefold, compatibility forms,
diacritics), so `Straße` was indexed as `straße` but searched as `strasse` and never found, and
likewise `ﬁnance`, `οδός`, `заём`. newswatch/search_vector.py now folds documents the way it
folds searches; this recomputes the stored vectors whose folded text changes (only articles with
non-ASCII title or text can).

Revision ID: 0015
Revises: 0014
"""

import re
import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Computed here, not imported, so this migration never changes with the code.
SEARCH_CHARS = 200_000
_SEPARATORS = "\u002d\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
BATCH = 500


def _fold_char(char: str) -> str:
    """newswatch.textfold.fold_char as of this migration."""
    if char.isspace() or char in _SEPARATORS:
        return " "
    if char in _INVISIBLE:
        return ""
    if char == "ı":
        return "i"
    if "\uac00" <= char <= "\ud7af":
        return char
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    return unicodedata.normalize("NFC", _DIACRITICS.sub("", decomposed))


def _bmp() -> list[str]:
    return [chr(code) for code in range(0x80, 0x10000) if not 0xD800 <= code <= 0xDFFF]


def _full_fold() -> Callable[[str, str], str]:
    """The document fold from this revision on: ASCII lower-cased, the rest by _fold_char."""
    table: dict[int, str] = {code: chr(code).lower() for code in range(ord("A"), ord("Z") + 1)}
    table.update({ord(c): f for c in _bmp() if (f := _fold_char(c)) != c})
    return lambda title, text: f"{title} {text}"[:SEARCH_CHARS].translate(table)[:SEARCH_CHARS]


def _ascii_fold() -> Callable[[str, str], str]:
    """The document fold before it (migration 0002's table, as 0012 computes it)."""
    source, target = [], []
    for char in _bmp():
        decomposed = unicodedata.normalize("NFKD", char.casefold())
        folded = "".join(c for c in decomposed if not unicodedata.combining(c))
        if char == "ı":
            folded = "i"
        if len(folded) == 1 and folded.isascii() and folded.isalnum():
            source.append(char)
            target.append(folded)
    table = str.maketrans("".join(source), "".join(target))
    return lambda title, text: f"{title} {text}"[:SEARCH_CHARS].translate(table).lower()


def _refold(new: Callable[[str, str], str], old: Callable[[str, str], str]) -> None:
    """Recompute the vector of every article whose document `new` folds unlike `old`."""
    conn = op.get_bind()
    # An ASCII-only article folds alike either way: UTF-8 spends one byte a character on it.
    rows = sa.text(
        "select id, title, text from articles where id > :after"
        " and (octet_length(title) <> length(title) or octet_length(text) <> length(text))"
        " order by id limit :batch"
    )
    refold = sa.text(
        "update articles set search = to_tsvector('simple'::regconfig, :document) where id = :id"
    )
    after = 0
    while batch := conn.execute(rows, {"after": after, "batch": BATCH}).all():
        changed = [
            {"id": id_, "document": document}
            for id_, title, text in batch
            if (document := new(title, text)) != old(title, text)
        ]
        if changed:
            conn.execute(refold, changed)
        after = batch[-1].id


def upgrade() -> None:
    _refold(_full_fold(), _ascii_fold())


def downgrade() -> None:
    _refold(_ascii_fold(), _full_fold())
