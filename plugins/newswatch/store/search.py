"""Full-text search over stored articles (the GIN-indexed articles.search), for the dashboard, the CLI and topic backtests."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal_column, select
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.search_vector import search_query_text
from newswatch.store import reads

# ts_headline marks hits with these private-use characters (removed from the text first), so
# the renderer can escape everything and only then turn the marks into <mark> elements.
MARK_START = "\ue000"


MARK_END = "\ue001"


# PostgreSQL's cost of a search grows with its terms: 3,000 terms took 28 s of CPU, 10,000 about
# 7 minutes (ts_rank and ts_headline walk the whole query per row). A person types a handful.
MAX_SEARCH_CHARS = 256


MAX_SEARCH_TERMS = 32


_TERM = re.compile(r"[^\W_]+")  # what the `simple` parser makes a lexeme of (hyphen parts too)


class SearchRefused(ValueError):
    """A search too large or malformed to run; the message says which limit and by how much."""


@dataclass(frozen=True)
class SearchHit:
    id: int
    title: str
    url: str
    feed: str
    at: datetime
    rank: float
    headline: str  # feed text with MARK_START/MARK_END around the hits; not yet escaped
    copies: int = 1  # copies of its story that matched, when one hit per story was asked for
    story_id: int | None = None


def check_search(text: str) -> None:
    """Refuse, before any SQL, a search over MAX_SEARCH_CHARS characters or MAX_SEARCH_TERMS
    terms, or one holding control characters (PostgreSQL refuses NUL in text)."""
    if len(text) > MAX_SEARCH_CHARS:
        raise SearchRefused(
            f"search too long: {len(text)} characters, at most {MAX_SEARCH_CHARS} allowed"
        )
    terms = len(_TERM.findall(text))
    if terms > MAX_SEARCH_TERMS:
        raise SearchRefused(f"search too long: {terms} terms, at most {MAX_SEARCH_TERMS} allowed")
    if any(unicodedata.category(char) in ("Cc", "Cs") and char not in "\t\n\r" for char in text):
        raise SearchRefused("search holds a control character; type words only")


def search_articles(
    session: Session,
    text: str,
    limit: int = 20,
    *,
    offset: int = 0,
    topic: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    one_per_story: bool = False,
) -> list[SearchHit]:
    """Full-text search over stored articles (the GIN-indexed `search` column), best first;
    optionally only articles that matched `topic`, dated (published, else fetched) in
    [`since`, `until`); with `one_per_story`, each story once, by its best copy (`copies` says
    how many matched). SearchRefused, before any SQL, for a search check_search refuses."""
    check_search(text)
    query = func.websearch_to_tsquery("simple", search_query_text(text))
    search: ColumnElement[Any] = literal_column("articles.search")
    rank = func.ts_rank(search, query)
    story = func.coalesce(models.Article.story_id, -models.Article.id)
    order = (rank.desc(), models.Article.id)
    per_story = [
        func.row_number().over(partition_by=story, order_by=order).label("nth"),
        func.count().over(partition_by=story).label("copies"),
    ]
    found = select(
        models.Article.id.label("id"), rank.label("rank"), *(per_story if one_per_story else [])
    ).where(search.bool_op("@@")(query))
    if topic:
        found = found.where(
            exists()
            .where(models.Match.article_id == models.Article.id)
            .where(models.Match.topic_id == models.Topic.id)
            .where(models.Topic.name == topic)
            .correlate(models.Article)
        )
    if since is not None:
        found = found.where(reads.article_at() >= since)
    if until is not None:
        found = found.where(reads.article_at() < until)
    hits = found.subquery()
    document = models.Article.title + "\n" + models.Article.text
    # Our marks must not already be in the feed's text, or the renderer would mark wrong spans.
    document = func.translate(document, MARK_START + MARK_END, "")
    options = (
        f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=2, MaxWords=30, MinWords=10, "
        'FragmentDelimiter=" … "'
    )
    # The headline, the costly part, only for the page's rows.
    statement = (
        select(
            models.Article.id,
            models.Article.title,
            models.Article.url,
            models.Feed.name,
            reads.article_at(),
            hits.c.rank,
            func.ts_headline("simple", document, query, options),
            hits.c.copies if one_per_story else literal_column("1"),
            models.Article.story_id,
        )
        .join(hits, hits.c.id == models.Article.id)
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .order_by(hits.c.rank.desc(), models.Article.id)
        .limit(limit)
        .offset(offset)
    )
    if one_per_story:
        statement = statement.where(hits.c.nth == 1)
    return [SearchHit(*row) for row in session.execute(statement)]


def article_dates(
    session: Session, since: datetime | None
) -> tuple[int, datetime | None, datetime | None]:
    """How many articles are dated (published, else fetched) since `since` (all when None), and
    the oldest and newest of those dates: the window a backtest covers."""
    at = reads.article_at()
    query = select(func.count(), func.min(at), func.max(at)).select_from(models.Article)
    if since is not None:
        query = query.where(at >= since)
    count, oldest, newest = session.execute(query).one()
    return count, oldest, newest


def backtest_candidates(
    session: Session, tsquery: str | None, since: datetime, limit: int
) -> list[Any]:
    """Articles published (else fetched) since `since`, narrowed by the GIN-indexed `search`
    tsvector when a tsquery is given; newest first. Rows: id, title, text, language, url, at,
    source, story_id."""
    at = reads.article_at()
    query = (
        select(
            models.Article.id,
            models.Article.title,
            models.Article.text,
            models.Article.language,
            models.Article.url,
            at.label("at"),
            models.Feed.name.label("source"),
            models.Article.story_id,
        )
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .where(at >= since)
        .order_by(at.desc())
        .limit(limit)
    )
    if tsquery is not None:
        query = query.where(
            literal_column("articles.search").bool_op("@@")(func.to_tsquery("simple", tsquery))
        )
    return list(session.execute(query))
