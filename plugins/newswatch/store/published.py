"""What the Atom feeds and the read API publish: stories by topic as feed entries, and matches
as rows; the other listings are the dashboard's (store.reads, store.search)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.records import StoryView
from newswatch.store import reads, views

FEED_ENTRIES = 100  # newest stories an Atom feed holds


@dataclass(frozen=True)
class FeedStory:
    """A story as a feed entry: what it shows, and when it last changed (its newest match)."""

    story: StoryView
    updated: datetime


@dataclass(frozen=True)
class MatchRow:
    id: int
    topic: str
    story_id: int | None
    article_id: int
    title: str
    url: str
    feed: str
    terms: dict[str, int]
    snippet: str
    highlights: list[tuple[int, int]]
    matched_at: datetime
    offsets: dict[str, list[tuple[int, int]]]  # term -> [start, end) spans in the article text


def _of_topics(topics: Sequence[str] | None) -> ColumnElement[bool]:
    """A match of any of `topics`; None: of any topic."""
    if topics is None:
        return true()
    return models.Match.topic_id.in_(
        select(models.Topic.id).where(models.Topic.name.in_(list(topics)))
    )


def feed_stories(
    session: Session, topics: Sequence[str] | None, limit: int = FEED_ENTRIES
) -> list[FeedStory]:
    """The newest `limit` stories (by first seen) that hit any of `topics` (None: any topic),
    each with the topics of those it hit."""
    story_id = models.Article.story_id
    newest = session.execute(
        select(story_id, func.max(models.Match.matched_at), models.Story.first_seen_at)
        .select_from(models.Match)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .join(models.Story, models.Story.id == story_id)
        .where(_of_topics(topics))
        .group_by(story_id, models.Story.first_seen_at)
        .order_by(models.Story.first_seen_at.desc(), story_id.desc())
        .limit(limit)
    ).all()
    hits = views.story_hits(
        session,
        select(story_id)
        .select_from(models.Match)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .where(story_id.in_([row[0] for row in newest]), _of_topics(topics)),
    )
    found = []
    for sid, last, first in newest:
        assert sid is not None  # joined to its story
        found.append(FeedStory(views.story_view(session, sid, hits.get(sid, [])), max(last, first)))
    return found


def story(session: Session, story_id: int) -> StoryView | None:
    """One story with every topic it hit, or None."""
    if session.get(models.Story, story_id) is None:
        return None
    hits = views.story_hits(
        session,
        select(models.Article.story_id)
        .select_from(models.Match)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .where(models.Article.story_id == story_id),
    )
    return views.story_view(session, story_id, hits.get(story_id, []))


def matches(
    session: Session,
    filters: reads.Filters,
    limit: int = 50,
    offset: int = 0,
    story_id: int | None = None,
) -> list[MatchRow]:
    """Newest matches first (of one story's copies, with `story_id`), with their topic, article
    and the terms that matched."""
    query = (
        select(
            models.Match.id,
            models.Topic.name,
            models.Article.story_id,
            models.Article.id,
            models.Article.title,
            models.Article.url,
            models.Feed.name,
            models.Match.terms,
            models.Match.snippet,
            models.Match.highlights,
            models.Match.matched_at,
            models.Match.offsets,
        )
        .join(models.Topic, models.Topic.id == models.Match.topic_id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .order_by(models.Match.matched_at.desc(), models.Match.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if filters.topic:
        query = query.where(models.Topic.name == filters.topic)
    if story_id is not None:
        query = query.where(models.Article.story_id == story_id)
    return [
        MatchRow(
            id=row[0],
            topic=row[1],
            story_id=row[2],
            article_id=row[3],
            title=row[4],
            url=row[5],
            feed=row[6],
            terms=dict(row.terms),
            snippet=row.snippet,
            highlights=[(int(a), int(b)) for a, b in row.highlights],
            matched_at=row.matched_at,
            offsets={
                term: [(int(a), int(b)) for a, b in spans] for term, spans in row.offsets.items()
            },
        )
        for row in session.execute(reads.narrow(query, filters))
    ]
