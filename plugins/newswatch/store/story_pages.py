"""What the dashboard's story pages read: the story list (each story once, with its topics,
outlets, best snippet and whether it was alerted) and one story in full (every copy, every
match, every delivery)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.records import StoryView, TopicHit
from newswatch.store import published, reads, views

Order = Literal["newest", "outlets"]
ORDERS: tuple[Order, ...] = ("newest", "outlets")


@dataclass(frozen=True)
class StoryItem:
    """One story as the list shows it."""

    id: int
    title: str
    url: str  # the lead article's link; "" when its feed gave none
    first_seen: datetime
    published: datetime  # its lead article's date (published, else fetched): what it is sorted by
    outlets: list[str]  # each once, in the order they carried it
    topics: list[TopicHit]  # config order; the first one's snippet is shown
    alerts: dict[str, int]  # state -> readers, for the story's first message to each
    told: list[str]  # the readers who have it (sent, or in a digest), by key


@dataclass(frozen=True)
class Copy:
    """One stored article of a story."""

    id: int
    title: str
    url: str
    outlets: list[str]  # every feed that listed it
    fetched_at: datetime
    published_at: datetime | None
    text_source: str
    language: str | None


@dataclass(frozen=True)
class Delivery:
    """One message about the story: to whom, of what kind, and how it went."""

    id: int
    reader: str
    kind: str
    channel: str
    state: str
    topics: list[str]
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    delivered_to: str | None
    last_error: str | None


@dataclass(frozen=True)
class StoryPage:
    story: StoryView
    copies: list[Copy]
    matches: list[published.MatchRow]
    deliveries: list[Delivery]


def _of_story(story: Any) -> ColumnElement[bool]:
    same: ColumnElement[bool] = models.Article.story_id == story
    return same


def story_list(
    session: Session,
    filters: reads.Filters,
    order: Order = "newest",
    limit: int = 50,
    offset: int = 0,
    unmatched: bool = False,
    zone: str = "UTC",
) -> list[StoryItem]:
    """Stories, each once, newest first (or carried by most outlets first); only those that hit
    a topic unless `unmatched`. The feed filter keeps stories any of whose copies the feed
    listed; the dates are its lead article's (published, else fetched), days in `zone`, inclusive."""
    story = models.Story
    outlets = (
        select(func.count(func.distinct(models.ArticleSource.feed_id)))
        .join(models.Article, models.Article.id == models.ArticleSource.article_id)
        .where(_of_story(story.id))
        .correlate(story)
        .scalar_subquery()
    )
    dated = func.coalesce(reads.article_at(), story.first_seen_at)
    query = select(
        story.id, story.title, story.first_seen_at, dated.label("dated"), models.Article.url
    ).outerjoin(models.Article, models.Article.id == story.lead_article_id)
    if not unmatched or filters.topic:
        hit = (
            select(models.Match.id)
            .join(models.Article, models.Article.id == models.Match.article_id)
            .where(_of_story(story.id))
        )
        if filters.topic:
            hit = hit.join(models.Topic, models.Topic.id == models.Match.topic_id).where(
                models.Topic.name == filters.topic
            )
        query = query.where(hit.correlate(story).exists())
    if filters.feed:
        query = query.where(
            exists()
            .where(models.ArticleSource.article_id == models.Article.id)
            .where(models.ArticleSource.feed_id == models.Feed.id)
            .where(models.Feed.name == filters.feed)
            .where(_of_story(story.id))
            .correlate(story)
        )
    # Dated as everywhere on the dashboard: by its lead article (published, else fetched).
    if filters.since:
        query = query.where(dated >= reads.day_start(filters.since, zone=zone))
    if filters.until:
        query = query.where(dated < reads.day_start(filters.until, after=True, zone=zone))
    ranked = [outlets.desc()] if order == "outlets" else []
    rows = session.execute(
        query.order_by(*ranked, dated.desc(), story.id.desc()).limit(limit).offset(offset)
    ).all()
    ids = [row.id for row in rows]
    hits = views.story_hits(
        session,
        select(models.Article.story_id)
        .select_from(models.Match)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .where(models.Article.story_id.in_(ids)),
    )
    carried = _outlets(session, ids)
    alerted, told = _alerts(session, ids)
    return [
        StoryItem(
            id=row.id,
            title=row.title,
            url=row.url or "",
            first_seen=row.first_seen_at,
            published=row.dated,
            outlets=carried.get(row.id, []),
            topics=hits.get(row.id, []),
            alerts=alerted.get(row.id, {}),
            told=told.get(row.id, []),
        )
        for row in rows
    ]


def _outlets(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    first = func.min(models.ArticleSource.seen_at)
    found: dict[int | None, list[str]] = {}
    for story_id, name, _ in session.execute(
        select(models.Article.story_id, models.Feed.name, first)
        .join(models.ArticleSource, models.ArticleSource.article_id == models.Article.id)
        .join(models.Feed, models.Feed.id == models.ArticleSource.feed_id)
        .where(models.Article.story_id.in_(ids))
        .group_by(models.Article.story_id, models.Feed.name)
        .order_by(models.Article.story_id, first, models.Feed.name)
    ):
        found.setdefault(story_id, []).append(name)
    return {story: names for story, names in found.items() if story is not None}


def _alerts(
    session: Session, ids: Sequence[int]
) -> tuple[dict[int, dict[str, int]], dict[int, list[str]]]:
    """Per story: how many readers' messages are in each state, and who has it."""
    found: dict[int, dict[str, int]] = {}
    told: dict[int, list[str]] = {}
    for story_id, state, reader in session.execute(
        select(models.Alert.story_id, models.Alert.state, models.Alert.reader)
        .where(models.Alert.story_id.in_(ids), models.Alert.kind == "alert")
        .order_by(models.Alert.id)
    ):
        states = found.setdefault(story_id, {})
        states[state] = states.get(state, 0) + 1
        if state in ("sent", "digested"):
            told.setdefault(story_id, []).append(reader)
    return found, told


def story_page(session: Session, story_id: int) -> StoryPage | None:
    """One story with every copy, match and delivery, or None."""
    view = published.story(session, story_id)
    if view is None:
        return None
    copies = [
        Copy(
            id=article.id,
            title=article.title,
            url=article.url,
            outlets=[],
            fetched_at=article.fetched_at,
            published_at=article.published_at,
            text_source=article.text_source,
            language=article.language,
        )
        for article in session.scalars(
            select(models.Article).where(_of_story(story_id)).order_by(models.Article.id)
        )
    ]
    sources: dict[int, list[str]] = {}
    for article_id, name in session.execute(
        select(models.ArticleSource.article_id, models.Feed.name)
        .join(models.Feed, models.Feed.id == models.ArticleSource.feed_id)
        .where(models.ArticleSource.article_id.in_([c.id for c in copies]))
        .order_by(models.ArticleSource.seen_at)
    ):
        sources.setdefault(article_id, []).append(name)
    for copy in copies:
        copy.outlets.extend(sources.get(copy.id, []))
    return StoryPage(
        story=view,
        copies=copies,
        matches=published.matches(session, reads.Filters(), limit=500, story_id=story_id),
        deliveries=_deliveries(session, story_id),
    )


def _deliveries(session: Session, story_id: int) -> list[Delivery]:
    alerts = session.scalars(
        select(models.Alert).where(models.Alert.story_id == story_id).order_by(models.Alert.id)
    ).all()
    topics = reads.alert_topics(session, [alert.id for alert in alerts])
    return [
        Delivery(
            id=alert.id,
            reader=alert.reader,
            kind=alert.kind,
            channel=alert.channel,
            state=alert.state,
            topics=topics.get(alert.id, []),
            attempts=alert.attempts,
            created_at=alert.created_at,
            sent_at=alert.sent_at,
            delivered_to=alert.delivered_to,
            last_error=alert.last_error,
        )
        for alert in alerts
    ]
