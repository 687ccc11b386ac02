"""What a page's head says about it: read only for what the feed's item lacks."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from newswatch.extract import extract_article
from newswatch.page_meta import page_author, page_date, page_language, page_title
from newswatch.records import FeedItem, Page

HEAD = (
    b"<!doctype html><html lang='de-AT'><head><title>Site | Fallback title</title>"
    b"<meta property='og:title' content='Ministers agree &amp; sign the &quot;pact&quot;'>"
    b'<meta name="author" content="Anna  Berger">'
    b'<meta property="article:published_time" content="2026-11-30T08:15:00+01:00">'
    b"</head><body><article><p>"
    + b"The ministers signed the pact after a night of talks in the capital. " * 8
    + b"</p></article></body></html>"
)


def item(**kw: object) -> FeedItem:
    fields: dict[str, object] = {
        "feed_id": 1, "url": "https://news.example/a", "link": "https://news.example/a",
        "guid": None, "title": "", "author": None, "published_at": None,
        "summary": "", "content": "",
    }  # fmt: skip
    return FeedItem(**(fields | kw))  # type: ignore[arg-type]


def page(html: bytes) -> Page:
    return Page(url="https://news.example/a", final_url=None, status=200, html=html)


def test_the_head_names_title_author_date_and_language() -> None:
    assert page_title(HEAD) == 'Ministers agree & sign the "pact"'
    assert page_title(b"<title> Only\n the  title </title>") == "Only the title"
    assert page_author(HEAD) == "Anna Berger"
    assert page_date(HEAD, "https://news.example/a") == "2026-11-30"
    assert page_language(HEAD) == "de-AT"
    assert page_title(b"<p>no head</p>") is page_author(b"") is page_language(b"") is None


def test_an_item_without_title_author_or_date_takes_the_pages() -> None:
    article = extract_article(item(), page(HEAD))
    assert article.title == 'Ministers agree & sign the "pact"'
    assert article.author == "Anna Berger"
    assert article.published_at == datetime(2026, 11, 30, tzinfo=UTC)
    assert article.language == "de-at"


def test_the_feeds_own_title_author_and_date_come_first() -> None:
    when = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    article = extract_article(
        item(title="Pact signed", author="Desk", published_at=when), page(HEAD)
    )
    assert (article.title, article.author, article.published_at) == ("Pact signed", "Desk", when)


@given(st.binary(max_size=3000))
def test_any_bytes_give_an_answer_or_none(raw: bytes) -> None:
    for found in (page_title(raw), page_author(raw), page_language(raw)):
        assert found is None or isinstance(found, str)
    assert page_date(raw, None) is None or len(page_date(raw, None) or "") == 10
