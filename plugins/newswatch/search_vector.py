"""`articles.search`, the GIN-indexed tsvector behind the dashboard's search and topic backtests.

Documents and typed searches go through one fold: ASCII letters lower-cased, every
other character of the Basic Multilingual Plane folded as topic matching folds it
(`textfold.fold_char`: casefold, compatibility forms, diacritics), so `Straße`, `STRASSE` and
`strasse` are one word, and so are `ﬁnance` and `finance`, `Café` and `cafe`, `ＴＯＫＹＯ` and
`tokyo`. Until migration 0015 the document fold kept only folds to one ASCII letter or digit, and
a search for `strasse` found no `Straße`. Changing `fold_char` changes stored vectors: recompute
them in a migration as 0015 does.

Python's str.translate folds in well under a millisecond per article, where PostgreSQL's
translate() over migration 0002's table cost ~15 ms of database CPU (bench/pipeline.py): the
application folds and PostgreSQL only splits words (`to_tsvector('simple', …)`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column

from newswatch.textfold import non_ascii_folds


@cache
def _table() -> dict[int, str]:
    """Every character the fold changes, and what to: A-Z lower-cased, and textfold's table."""
    upper = {code: chr(code).lower() for code in range(ord("A"), ord("Z") + 1)}
    return upper | non_ascii_folds()


_NON_ASCII_RUN = re.compile(r"([^\x00-\x7f]+)")


def _fold(text: str) -> str:
    """One character at a time, so a word folds alike alone and inside a document. ASCII
    stretches only lose their capitals, which `str.lower` does several times faster than a
    translate table; only the runs of other characters go through the table (the same result:
    the table's only ASCII entries are A-Z)."""
    if text.isascii():
        return text.lower()
    parts = _NON_ASCII_RUN.split(text)  # ASCII, other, ASCII, other, …, ASCII
    table = _table()
    return "".join(
        part.translate(table) if odd else part.lower() for odd, part in _alternating(parts)
    )


def _alternating(parts: list[str]) -> Iterator[tuple[bool, str]]:
    return ((n % 2 == 1, part) for n, part in enumerate(parts))


def search_query_text(text: str) -> str:
    """A typed search folded as documents are, for `websearch_to_tsquery('simple', …)`. ASCII
    changes only in case: quotes, a leading minus and `or` stay as typed."""
    return _fold(text)


# PostgreSQL refuses a tsvector over 1 MB: 1.6 M characters of distinct words made one article
# unstorable. Words of three-byte characters cost about 4 bytes of tsvector a character, so the
# first 200,000 characters (ten times a long article) always fit; the rest is not searchable.
# Cut again after folding: one character can fold to up to 18 (U+FDFA).
SEARCH_CHARS = 200_000


def search_document(title: str, text: str) -> str:
    """What `articles.search` indexes for an article with this title and text."""
    return _fold(f"{title} {text}"[:SEARCH_CHARS])[:SEARCH_CHARS]


def search_vector(document: Any) -> ColumnElement[Any]:
    """SQL for the tsvector of a folded document (a value or a bound parameter)."""
    return func.to_tsvector(literal_column("'simple'::regconfig"), document)
