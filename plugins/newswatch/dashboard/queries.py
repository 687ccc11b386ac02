"""What the dashboard reads from the news store: small typed queries, one per panel."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.textfold import fold_char

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
class Filters:
    """Query-string filters of the alerts and stories page; None means no narrowing."""

    topic: str | None = None  # topic name
    feed: str | None = None  # feed name: the article appeared in it (any of its sources)
    since: date | None = None  # article date (published, else fetched), UTC, inclusive
    until: date | None = None  # inclusive


@dataclass(frozen=True)
class AlertRow:
    id: int
    state: str
    topic: str
    title: str
    url: str
    feed: str
    article_at: datetime
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class StoryRow:
    id: int
    title: str
    url: str
    feed: str
    sources: list[str]
    topics: list[str]
    at: datetime
    text_source: str


@dataclass(frozen=True)
class FeedHealth:
    name: str
    url: str
    enabled: bool
    status: str | None
    last_success_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class DailyHits:
    """Matches per topic per local day, oldest day first; every topic has one count per day."""

    days: list[date]
    topics: dict[str, list[int]]
    zone: str = "UTC"


@dataclass(frozen=True)
class SearchHit:
    id: int
    title: str
    url: str
    feed: str
    at: datetime
    rank: float
    headline: str  # feed text with MARK_START/MARK_END around the hits; not yet escaped


def _article_at() -> ColumnElement[datetime]:
    return func.coalesce(models.Article.published_at, models.Article.fetched_at)


def _narrow(query: Select[Any], filters: Filters) -> Select[Any]:
    """Apply the feed and date filters to a query that selects from articles."""
    at = _article_at()
    if filters.feed:
        query = query.where(
            exists()
            .where(models.ArticleSource.article_id == models.Article.id)
            .where(models.ArticleSource.feed_id == models.Feed.id)
            .where(models.Feed.name == filters.feed)
            .correlate(models.Article)
        )
    if filters.since:
        query = query.where(at >= datetime.combine(filters.since, time(), UTC))
    if filters.until:
        query = query.where(at < datetime.combine(filters.until + timedelta(days=1), time(), UTC))
    return query


def latest_alerts(
    session: Session, filters: Filters, limit: int = 50, offset: int = 0
) -> list[AlertRow]:
    """Newest alerts first, with their article and topic."""
    origin = models.Feed.__table__.alias("origin")
    query = (
        select(
            models.Alert.id,
            models.Alert.state,
            models.Topic.name,
            models.Article.title,
            models.Article.url,
            origin.c.name,
            _article_at(),
            models.Alert.created_at,
            models.Alert.sent_at,
        )
        .join(models.Article, models.Article.id == models.Alert.article_id)
        .join(models.Topic, models.Topic.id == models.Alert.topic_id)
        .join(origin, origin.c.id == models.Article.feed_id)
        .order_by(models.Alert.created_at.desc(), models.Alert.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if filters.topic:
        query = query.where(models.Topic.name == filters.topic)
    return [AlertRow(*row) for row in session.execute(_narrow(query, filters))]


def latest_stories(
    session: Session, filters: Filters, limit: int = 50, offset: int = 0
) -> list[StoryRow]:
    """Newest stories first, each shown by its lead article with every feed and topic of its copies."""
    origin = models.Feed.__table__.alias("origin")
    source_feed = models.Feed.__table__.alias("source_feed")
    sibling = models.Article.__table__.alias("sibling")
    # Articles stored before stories existed have none: they stand for themselves.
    same_story = or_(
        sibling.c.story_id == models.Article.story_id, sibling.c.id == models.Article.id
    )
    sources = (
        select(func.array_agg(func.distinct(source_feed.c.name)))
        .select_from(models.ArticleSource)
        .join(source_feed, source_feed.c.id == models.ArticleSource.feed_id)
        .join(sibling, sibling.c.id == models.ArticleSource.article_id)
        .where(same_story)
        .scalar_subquery()
    )
    topics = (
        select(func.array_agg(func.distinct(models.Topic.name)))
        .select_from(models.Match)
        .join(models.Topic, models.Topic.id == models.Match.topic_id)
        .join(sibling, sibling.c.id == models.Match.article_id)
        .where(same_story)
        .scalar_subquery()
    )
    at = _article_at()
    query = (
        select(
            models.Article.id,
            models.Article.title,
            models.Article.url,
            origin.c.name,
            sources,
            topics,
            at,
            models.Article.text_source,
        )
        .join(origin, origin.c.id == models.Article.feed_id)
        .outerjoin(models.Story, models.Story.id == models.Article.story_id)
        .where(or_(models.Story.id.is_(None), models.Story.lead_article_id == models.Article.id))
        .order_by(at.desc(), models.Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if filters.topic:
        query = query.where(
            exists()
            .where(same_story)
            .where(models.Match.article_id == sibling.c.id)
            .where(models.Match.topic_id == models.Topic.id)
            .where(models.Topic.name == filters.topic)
            .correlate(models.Article)
        )
    return [
        StoryRow(
            id=row[0],
            title=row[1],
            url=row[2],
            feed=row[3],
            sources=sorted(row[4] or []),
            topics=sorted(row[5] or []),
            at=row[6],
            text_source=row[7],
        )
        for row in session.execute(_narrow(query, filters))
    ]


def topic_names(session: Session) -> list[str]:
    return list(session.scalars(select(models.Topic.name).order_by(models.Topic.name)))


def feed_names(session: Session) -> list[str]:
    return list(session.scalars(select(models.Feed.name).order_by(models.Feed.name)))


def feed_health(session: Session) -> list[FeedHealth]:
    """Every feed, failing ones first, then by name."""
    feeds = session.scalars(
        select(models.Feed).order_by(models.Feed.consecutive_failures.desc(), models.Feed.name)
    )
    return [
        FeedHealth(
            name=feed.name,
            url=feed.url,
            enabled=feed.enabled,
            status=feed.last_status,
            last_success_at=feed.last_success_at,
            consecutive_failures=feed.consecutive_failures,
            next_poll_at=feed.next_poll_at,
            last_error=feed.last_error,
        )
        for feed in feeds
    ]


def daily_hits(session: Session, today: date, days: int = 14, zone: str = "UTC") -> DailyHits:
    """Stories hitting each enabled topic per calendar day in `zone` (the digest's time zone;
    by when newswatch matched them), `days` days up to and including `today` there: syndicated
    copies of one story count once."""
    first = today - timedelta(days=days - 1)
    day = func.date(func.timezone(zone, models.Match.matched_at))
    story = func.coalesce(models.Article.story_id, -models.Article.id)
    rows = session.execute(
        select(models.Topic.name, day, func.count(story.distinct()))
        .join(models.Topic, models.Topic.id == models.Match.topic_id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .where(day >= first, day <= today)
        .group_by(models.Topic.name, day)
    )
    all_days = [first + timedelta(days=n) for n in range(days)]
    names = session.scalars(
        select(models.Topic.name).where(models.Topic.enabled).order_by(models.Topic.name)
    )
    counts: dict[str, list[int]] = {name: [0] * days for name in names}
    for name, hit_day, count in rows:
        counts.setdefault(name, [0] * days)[(hit_day - first).days] = count
    return DailyHits(days=all_days, topics=counts, zone=zone)


def fold_query(text: str) -> str:
    """Fold a search the way migration 0002 folds `articles.search` (accents, case), keeping
    websearch syntax (quotes, a leading minus, `or`) as typed."""
    return "".join(char.lower() if char.isascii() else fold_char(char) for char in text)


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
) -> list[SearchHit]:
    """Full-text search over stored articles (the GIN-indexed `search` column), best first;
    optionally only articles that matched `topic`, dated (published, else fetched) since `since`.
    SearchRefused, before any SQL, for a search check_search refuses."""
    check_search(text)
    query = func.websearch_to_tsquery("simple", fold_query(text))
    document = models.Article.title + "\n" + models.Article.text
    # Our marks must not already be in the feed's text, or the renderer would mark wrong spans.
    document = func.translate(document, MARK_START + MARK_END, "")
    search: ColumnElement[Any] = literal_column("articles.search")
    rank = func.ts_rank(search, query)
    options = (
        f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=2, MaxWords=30, MinWords=10, "
        'FragmentDelimiter=" … "'
    )
    statement = (
        select(
            models.Article.id,
            models.Article.title,
            models.Article.url,
            models.Feed.name,
            _article_at(),
            rank,
            func.ts_headline("simple", document, query, options),
        )
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .where(search.bool_op("@@")(query))
        .order_by(rank.desc(), models.Article.id)
        .limit(limit)
        .offset(offset)
    )
    if topic:
        statement = statement.where(
            exists()
            .where(models.Match.article_id == models.Article.id)
            .where(models.Match.topic_id == models.Topic.id)
            .where(models.Topic.name == topic)
            .correlate(models.Article)
        )
    if since is not None:
        statement = statement.where(_article_at() >= since)
    return [SearchHit(*row) for row in session.execute(statement)]
