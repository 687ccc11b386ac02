"""What one alert or digest shows, read in one place for delivery: records (records.py) that
the renderers in delivery.messages turn into email without touching the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.records import AlertView, Digest, DigestStory, DigestTopic
from newswatch.store import reads


def alert_view(session: Session, alert: models.Alert) -> AlertView:
    """What an alert shows, in one query (not the article's text: an alert never needs it)."""
    row = session.execute(
        select(
            models.Topic.name,
            models.Topic.title,
            models.Article.title,
            models.Article.url,
            models.Feed.name,  # the configured name: a feed's own <title> could claim any outlet
            models.Article.published_at,
            models.Match.terms,
            models.Match.snippet,
            models.Match.highlights,
            models.Article.text_source,
        )
        .select_from(models.Match)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .join(models.Topic, models.Topic.id == models.Match.topic_id)
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .where(models.Match.id == alert.match_id)
    ).one()
    topic, topic_title, title, url, source, published_at, terms, snippet, spans, text_source = row
    return AlertView(
        alert_id=alert.id,
        topic=topic,
        topic_title=topic_title,
        recipients=list(alert.recipients),
        title=title,
        url=url,
        source=source,
        published_at=published_at,
        terms=dict(terms),
        snippet=snippet,
        highlights=[(int(a), int(b)) for a, b in spans],
        text_source=text_source,
        copies=reads.story_copies(session, alert.story_id),
    )


def digest_view(
    session: Session, row: models.DigestMail, zone: ZoneInfo, days: list[date]
) -> Digest:
    """The digest of a row, its chart over `days` bucketed by local calendar day in `zone`."""
    topics = [str(name) for name in row.topics]
    return Digest(
        subscriber=row.subscriber,
        recipients=[str(r) for r in row.recipients] if row.channel == "email" else [],
        period_start=row.period_start,
        period_end=row.period_end,
        topics=digest_topics(session, topics, row.period_start, row.period_end),
        daily_hits=reads.daily_hits(session, days[-1], len(days), zone.key, topics).by_title(),
        days=days,
        zone=zone,
    )


def digest_topics(
    session: Session, topics: Sequence[str], start: datetime, end: datetime
) -> list[DigestTopic]:
    """Stories that hit each followed topic (all when none named) in [start, end), one entry each."""
    query = (
        select(models.Topic.name, models.Topic.title, models.Story, models.Match)
        .join(models.Match, models.Match.topic_id == models.Topic.id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .join(models.Story, models.Story.id == models.Article.story_id)
        .where(models.Match.matched_at >= start, models.Match.matched_at < end)
        .order_by(models.Topic.name, models.Match.id)
    )
    if topics:
        query = query.where(models.Topic.name.in_(topics))
    grouped: dict[str, tuple[str, dict[int, DigestStory]]] = {}
    for name, title, story, match in session.execute(query):
        _, stories_of_topic = grouped.setdefault(name, (title, {}))
        if story.id in stories_of_topic:
            continue  # the first match of a story explains it; copies add sources below
        lead = session.get(models.Article, story.lead_article_id) if story.lead_article_id else None
        stories_of_topic[story.id] = DigestStory(
            title=story.title,
            url=lead.url if lead else "",
            sources=reads.story_sources(session, story.id),
            first_seen=story.first_seen_at,
            snippet=match.snippet,
            highlights=[(int(a), int(b)) for a, b in match.highlights],
        )
    return [
        DigestTopic(name=name, title=title, stories=list(found.values()))
        for name, (title, found) in sorted(grouped.items())
    ]
