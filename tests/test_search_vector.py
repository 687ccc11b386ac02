"""The application folds articles.search's input as migration 0002's SQL did, only faster."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from newswatch.search_vector import ascii_folds, search_document, search_vector
from newswatch.settings import Settings
from newswatch.store import db

SAMPLES = [
    ("Économie", "Résumé of talks in Zürich"),
    ("İstanbul", "Ａｂｃ １２３ and ﬁnance"),
    ("Ελλάδα", "Crème brûlée — “quoted”, naïve coöperation"),
    ("東京", "レアアース 稀土 and Taipei"),
]


@pytest.mark.parametrize(("title", "text"), SAMPLES)
def test_python_fold_gives_the_vector_the_old_sql_expression_gave(
    settings: Settings, title: str, text: str
) -> None:
    old = search_vector(func.translate(func.lower(title + " " + text), *ascii_folds()))
    with db.transaction(db.session_factory(settings)) as session:
        expected, got = session.execute(
            select(old, search_vector(search_document(title, text)))
        ).one()
    assert got == expected
