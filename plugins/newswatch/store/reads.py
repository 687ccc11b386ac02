"""What the CLI, dashboard and digest read from the news store: small typed queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session

from newswatch import models


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
    reader: str
    topics: list[str]
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
    last_polled_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    items_per_day: float | None
    last_error: str | None
    last_item_at: datetime | None = None  # when its newest item reached us
    daily: tuple[int, ...] = ()  # items per day over the watchdog's window, oldest first
    findings: tuple[OpenFinding, ...] = ()  # what the watchdog finds wrong now


@dataclass(frozen=True)
class OpenFinding:
    kind: str  # watchdog.Kind
    reason: str
    since: datetime


@dataclass(frozen=True)
class AlertListing:
    """One alert as `newswatch alerts` lists it: its reader, article, topics and every source."""

    id: int
    state: str
    reader: str
    topics: list[str]
    title: str
    url: str
    attempts: int
    sent_at: datetime | None
    delivered_to: str | None
    channel: str
    sources: list[tuple[str, str]]  # (outlet, url) of each outlet that carried the story
    last_error: str | None


@dataclass(frozen=True)
class DailyHits:
    """Matches per topic per local day, oldest day first; every topic has one count per day."""

    days: list[date]
    topics: dict[str, list[int]]  # topic name -> hits per day
    zone: str = "UTC"
    titles: dict[str, str] = field(default_factory=dict)  # topic name -> its label

    def by_title(self) -> dict[str, dict[date, int]]:
        """Label -> day -> hits, for the topics and days with any: the digest's chart data."""
        return {
            self.titles.get(name, name): {d: n for d, n in zip(self.days, hits, strict=True) if n}
            for name, hits in self.topics.items()
            if any(hits)
        }


def day_start(day: date | None, after: bool = False, zone: str = "UTC") -> datetime | None:
    """Midnight in `zone` starting `day` (the next day's, `after` it: an inclusive end), or
    None."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if after else day, time(), ZoneInfo(zone))


def article_at() -> ColumnElement[datetime]:
    return func.coalesce(models.Article.published_at, models.Article.fetched_at)


def narrow(query: Select[Any], filters: Filters) -> Select[Any]:
    """Apply the feed and date filters to a query that selects from articles."""
    at = article_at()
    if filters.feed:
        query = query.where(
            exists()
            .where(models.ArticleSource.article_id == models.Article.id)
            .where(models.ArticleSource.feed_id == models.Feed.id)
            .where(models.Feed.name == filters.feed)
            .correlate(models.Article)
        )
    if filters.since:
        query = query.where(at >= day_start(filters.since))
    if filters.until:
        query = query.where(at < day_start(filters.until, after=True))
    return query


def latest_alerts(
    session: Session, filters: Filters, limit: int = 50, offset: int = 0
) -> list[AlertRow]:
    """Newest alerts first, with their reader, article and topics."""
    origin = models.Feed.__table__.alias("origin")
    query = (
        select(
            models.Alert.id,
            models.Alert.state,
            models.Alert.reader,
            models.Article.title,
            models.Article.url,
            origin.c.name,
            article_at(),
            models.Alert.created_at,
            models.Alert.sent_at,
        )
        .join(models.Article, models.Article.id == models.Alert.article_id)
        .join(origin, origin.c.id == models.Article.feed_id)
        .order_by(models.Alert.created_at.desc(), models.Alert.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if filters.topic:
        query = query.where(
            exists()
            .where(models.AlertTopic.alert_id == models.Alert.id)
            .where(models.AlertTopic.topic_id == models.Topic.id)
            .where(models.Topic.name == filters.topic)
            .correlate(models.Alert)
        )
    rows = session.execute(narrow(query, filters)).all()
    topics = alert_topics(session, [row.id for row in rows])
    return [
        AlertRow(alert_id, state, reader, topics.get(alert_id, []), *rest)
        for alert_id, state, reader, *rest in rows
    ]


def alert_topics(session: Session, alert_ids: Sequence[int]) -> dict[int, list[str]]:
    """The names of the topics each alert tells of, in the config's order."""
    rows = session.execute(
        select(models.AlertTopic.alert_id, models.Topic.name)
        .join(models.Topic, models.Topic.id == models.AlertTopic.topic_id)
        .where(models.AlertTopic.alert_id.in_(list(alert_ids)))
        .order_by(models.Topic.id)
    )
    found: dict[int, list[str]] = {}
    for alert_id, name in rows:
        found.setdefault(alert_id, []).append(name)
    return found


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
    at = article_at()
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
        for row in session.execute(narrow(query, filters))
    ]


def topic_labels(session: Session) -> list[tuple[str, str]]:
    """(name, title) of every topic, in the config's order."""
    rows = session.execute(select(models.Topic.name, models.Topic.title).order_by(models.Topic.id))
    return [(name, title) for name, title in rows]


def topic_names(session: Session) -> list[str]:
    return list(session.scalars(select(models.Topic.name).order_by(models.Topic.name)))


def feed_names(session: Session) -> list[str]:
    return list(session.scalars(select(models.Feed.name).order_by(models.Feed.name)))


def feed_health(
    session: Session, failing_first: bool = True, now: datetime | None = None
) -> list[FeedHealth]:
    """Every feed with the watchdog's findings and its items per day up to `now` (default: the
    database's now); feeds with findings, then failing ones first (unless not
    `failing_first`), then by name."""
    from newswatch.store import findings

    now = now or session.scalar(select(func.now()))
    assert now is not None
    feeds = session.scalars(select(models.Feed).order_by(models.Feed.name)).all()
    ids = [feed.id for feed in feeds]
    found = findings.open_findings(session)
    daily = findings.daily_items(session, now, ids)
    last = findings.last_items(session, ids)
    rows = [
        FeedHealth(
            name=feed.name,
            url=feed.url,
            enabled=feed.enabled,
            status=feed.last_status,
            last_polled_at=feed.last_polled_at,
            last_success_at=feed.last_success_at,
            consecutive_failures=feed.consecutive_failures,
            next_poll_at=feed.next_poll_at,
            items_per_day=feed.items_per_day,
            last_error=feed.last_error,
            last_item_at=last.get(feed.id),
            daily=tuple(daily[feed.id]),
            findings=tuple(
                OpenFinding(row.kind, row.reason, row.first_seen_at)
                for row in found.get(feed.id, [])
            ),
        )
        for feed in feeds
    ]
    if failing_first:
        rows.sort(key=lambda row: (not row.findings, -row.consecutive_failures))
    return rows


def daily_hits(
    session: Session, today: date, days: int = 14, zone: str = "UTC", topics: Sequence[str] = ()
) -> DailyHits:
    """Stories hitting each topic per calendar day in `zone` (the digest's time zone; by when
    newswatch matched them), `days` days up to and including `today` there: syndicated copies
    of one story count once. Every enabled topic has a row, zeros included, and so does any
    other topic with hits; `topics` narrows to those names (all when empty)."""
    first = today - timedelta(days=days - 1)
    day = func.date(func.timezone(zone, models.Match.matched_at))
    story = func.coalesce(models.Article.story_id, -models.Article.id)
    query = (
        select(models.Topic.name, day, func.count(story.distinct()))
        .join(models.Topic, models.Topic.id == models.Match.topic_id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .where(day >= first, day <= today)
        .group_by(models.Topic.name, day)
    )
    named = select(models.Topic.name, models.Topic.title, models.Topic.enabled)
    if topics:
        query = query.where(models.Topic.name.in_(topics))
        named = named.where(models.Topic.name.in_(topics))
    titles: dict[str, str] = {}
    counts: dict[str, list[int]] = {}
    for name, title, enabled in session.execute(named.order_by(models.Topic.name)):
        titles[name] = title
        if enabled:
            counts[name] = [0] * days
    for name, hit_day, count in session.execute(query):
        counts.setdefault(name, [0] * days)[(hit_day - first).days] = count
    all_days = [first + timedelta(days=n) for n in range(days)]
    return DailyHits(days=all_days, topics=counts, zone=zone, titles=titles)


def list_alerts(
    session: Session, state: str | None = None, limit: int = 100, undelivered: bool = False
) -> list[models.Alert]:
    """Newest first; `undelivered`: the failed ones, the sent ones that someone did not get, and
    pending ones someone will never get (refused for good while others are retried)."""
    query = select(models.Alert).order_by(models.Alert.id.desc()).limit(limit)
    if state:
        query = query.where(models.Alert.state == state)
    if undelivered:
        refused = func.jsonb_path_exists(
            models.Alert.outcomes, literal_column("""'$.* ? (@.state == "refused")'::jsonpath""")
        )
        query = query.where(
            (models.Alert.state == "failed")
            | ((models.Alert.state == "sent") & models.Alert.last_error.is_not(None))
            | ((models.Alert.state == "pending") & refused)
        )
    return list(session.scalars(query))


def alert_listing(
    session: Session, state: str | None = None, limit: int = 100, undelivered: bool = False
) -> list[AlertListing]:
    """list_alerts' alerts with what `newswatch alerts` shows of each."""
    alerts = list_alerts(session, state, limit, undelivered)
    topics = alert_topics(session, [alert.id for alert in alerts])
    listed = []
    for alert in alerts:
        article = session.get_one(models.Article, alert.article_id)
        listed.append(
            AlertListing(
                id=alert.id,
                state=alert.state,
                reader=alert.reader,
                topics=topics.get(alert.id, []),
                title=article.title,
                url=article.url,
                attempts=alert.attempts,
                sent_at=alert.sent_at,
                delivered_to=alert.delivered_to,
                channel=alert.channel,
                sources=story_outlets(session, alert.story_id),
                last_error=alert.last_error,
            )
        )
    return listed


def runs_since(session: Session, since: datetime) -> list[models.Run]:
    """Every run started at or after `since`, oldest first."""
    query = select(models.Run).where(models.Run.started_at >= since).order_by(models.Run.id)
    return list(session.scalars(query))


def latest_run(session: Session) -> models.Run | None:
    return session.scalars(select(models.Run).order_by(models.Run.id.desc()).limit(1)).first()


def story_outlets(session: Session, story_id: int) -> list[tuple[str, str]]:
    """(outlet, url) for each outlet that carried a story, once, oldest first: the outlet's own
    copy when it has one, else the copy its feed linked to (a wire feed linking a partner's
    page); the outlet is the feed's configured name, never its own <title>."""
    rows = session.execute(
        select(models.Feed.name, models.Article.url, models.Article.feed_id == models.Feed.id)
        .join(models.ArticleSource, models.ArticleSource.feed_id == models.Feed.id)
        .join(models.Article, models.Article.id == models.ArticleSource.article_id)
        .where(models.Article.story_id == story_id)
        .order_by(models.Article.id, models.Feed.id)
    )
    found: dict[str, tuple[str, bool]] = {}
    for outlet, url, own in rows:
        if outlet not in found or (own and not found[outlet][1]):
            found[outlet] = (url, bool(own))
    return [(outlet, url) for outlet, (url, _) in found.items()]
