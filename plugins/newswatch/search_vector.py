"""`articles.search`, the GIN-indexed tsvector behind the dashboard's search and topic backtests.

Its input is title and text lower-cased with every character that folds to one ASCII letter or
digit folded (é -> e, İ -> i, Ａ -> a), as migration 0002 first computed it in SQL. PostgreSQL's
translate() with that 748-character table cost ~15 ms of database CPU per article (bench/
pipeline.py); Python's str.translate does the same in well under a millisecond, so the
application folds and PostgreSQL only splits words (`to_tsvector('simple', …)`).
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column


@cache
def ascii_folds() -> tuple[str, str]:
    """(source, target) characters: each non-ASCII character whose accent-stripped casefold is
    one ASCII letter or digit, and that letter or digit. Same table as migration 0002's."""
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


@cache
def _table() -> dict[int, int]:
    source, target = ascii_folds()
    return str.maketrans(source, target)


# PostgreSQL refuses a tsvector over 1 MB: 1.6 M characters of distinct words made one article
# unstorable. Words of three-byte characters cost about 4 bytes of tsvector a character, so the
# first 200,000 characters (ten times a long article) always fit; the rest is not searchable.
SEARCH_CHARS = 200_000


def search_document(title: str, text: str) -> str:
    """What `articles.search` indexes for an article with this title and text.

    Folded before lower-casing: Python lower-cases İ to i plus a combining dot, the table to i.
    """
    return f"{title} {text}"[:SEARCH_CHARS].translate(_table()).lower()


def search_vector(document: Any) -> ColumnElement[Any]:
    """SQL for the tsvector of a folded document (a value or a bound parameter)."""
    return func.to_tsvector(literal_column("'simple'::regconfig"), document)
