"""A typed search folds as the stored articles.search does: every spelling finds the article."""

from __future__ import annotations

import pytest
from helpers import seed_alerts
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from newswatch.search_vector import search_document, search_query_text, search_vector
from newswatch.settings import Settings
from newswatch.store import db
from newswatch.store.search import search_articles

STRASSE = "Berlin closes the Straße by the river"
STRASSE_ASCII = "Zurich repaves the Strasse to the lake"
FINANCE = "Bank ﬁnance chief resigns"  # the ﬁ ligature, as PDF-extracted feeds carry it
CAFE = "Café owners protest rents"
TOKYO = "ＴＯＫＹＯ markets rally"  # full-width letters
ATHENS = "Η οδός Ερμού κλείνει"  # Greek accents and a final sigma
LOAN = "Заём для Москвы одобрен"  # Cyrillic ё
TITLES = (STRASSE, STRASSE_ASCII, FINANCE, CAFE, TOKYO, ATHENS, LOAN)


@pytest.fixture
def stored(settings: Settings) -> Settings:
    seed_alerts(settings, *TITLES)
    return settings


def _found(settings: Settings, typed: str) -> set[str]:
    with db.read(settings) as session:
        return {hit.title for hit in search_articles(session, typed)}


@pytest.mark.parametrize("typed", ["Straße", "strasse", "STRASSE", "STRAẞE", "straße"])
def test_sharp_s_and_ss_find_both_spellings(stored: Settings, typed: str) -> None:
    assert _found(stored, typed) == {STRASSE, STRASSE_ASCII}


@pytest.mark.parametrize("typed", ["finance", "Finance", "ﬁnance", "FINANCE"])
def test_a_ligature_is_found_by_its_letters(stored: Settings, typed: str) -> None:
    assert _found(stored, typed) == {FINANCE}


@pytest.mark.parametrize("typed", ["cafe", "Café", "CAFÉ", "café"])
def test_accents_are_found_with_or_without_them(stored: Settings, typed: str) -> None:
    assert _found(stored, typed) == {CAFE}


@pytest.mark.parametrize("typed", ["tokyo", "ＴＯＫＹＯ", "Tokyo", "ｔｏｋｙｏ"])
def test_full_width_letters_are_found_as_ascii(stored: Settings, typed: str) -> None:
    assert _found(stored, typed) == {TOKYO}


@pytest.mark.parametrize(
    ("typed", "title"),
    [("οδος", ATHENS), ("ΟΔΟΣ", ATHENS), ("οδός", ATHENS), ("заем", LOAN), ("ЗАЁМ", LOAN)],
)
def test_greek_and_cyrillic_accents_are_found_either_way(
    stored: Settings, typed: str, title: str
) -> None:
    assert _found(stored, typed) == {title}


def test_websearch_syntax_survives_folding(stored: Settings) -> None:
    assert _found(stored, '"Straße by the" OR ＴＯＫＹＯ') == {STRASSE, TOKYO}
    assert _found(stored, "strasse -Berlin") == {STRASSE_ASCII}
    assert search_query_text('Straße -"Café" OR ﬁnance') == 'strasse -"cafe" or finance'


# Words as readers write them: letters, marks and digits of any script, spaces between.
_words = st.text(st.characters(categories=["L", "M", "N", "Zs"], exclude_characters="\x00"))


@given(title=_words, text=_words)
def test_a_word_folds_alone_as_it_folds_inside_its_document(title: str, text: str) -> None:
    folded = [
        part for word in f"{title} {text}".split() for part in search_query_text(word).split()
    ]
    assert search_document(title, text).split() == folded


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_words)
def test_every_word_of_an_article_finds_it(settings: Settings, text: str) -> None:
    """PostgreSQL's parser splits the folded word as it splits the folded document."""
    document = search_vector(search_document("", text))
    with db.read(settings) as session:
        for word in set(text.split()):
            query = func.websearch_to_tsquery("simple", search_query_text(word))
            found, terms = session.execute(
                select(document.bool_op("@@")(query), func.numnode(query))
            ).one()
            assert found or terms == 0, word


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=300))
def test_the_fast_fold_is_the_translate_table_character_for_character(text: str) -> None:
    """ASCII stretches are lower-cased with str.lower and only the rest goes through the
    table: the same result as the table over all of it, which stored vectors were made with."""
    from newswatch.search_vector import _fold, _table

    mixed = f"Tokyo {text} STRASSE Straße ﬁnance ＴＯＫＹＯ {text.upper()}"
    for sample in (text, mixed):
        assert _fold(sample) == sample.translate(_table())
