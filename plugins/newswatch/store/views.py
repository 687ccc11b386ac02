"""What one alert or digest shows, read in one place for delivery: records (records.py) that
the renderers in delivery.messages turn into email without touching the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from newswatch import models, unsubscribe
from newswatch.config.models import reader_key
from newswatch.records import AlertView, Digest, Links, Outlet, ReaderView, StoryView, TopicHit
from newswatch.store import readers, reads


@dataclass(frozen=True)
class Addressing:
    """What a message's reader part needs besides the store: the default time zone, the public
    dashboard address (None: no one-click link), the fallback unsubscribe target
    (NEWSWATCH_UNSUBSCRIBE: a mailto:, or the operator's own https page) and the time it is sent."""

    zone: str
    public_url: str | None
    mailto: str | None
    now: datetime


def reader_view(
    session: Session,
    key: str,
    recipients: Sequence[str],
    follows: Iterable[str],
    subscription: str,
    how: Addressing,
) -> ReaderView:
    """The reader's time zone and links (the unsubscribe link signed for `subscription`)."""
    reader = session.get(models.Reader, key)
    zone = ZoneInfo((reader.timezone if reader else None) or how.zone)
    url, mailto = None, how.mailto
    if how.public_url:
        token = unsubscribe.sign(readers.secret(session), key, subscription, how.now)
        url = unsubscribe.unsubscribe_url(how.public_url, token)
    elif mailto and mailto.startswith(("https://", "http://")):
        url, mailto = mailto, None  # NEWSWATCH_UNSUBSCRIBE names the operator's own page
    return ReaderView(
        key=key,
        recipients=list(recipients),
        zone=zone,
        follows=topic_titles(session, follows),
        links=Links(dashboard=how.public_url, unsubscribe=url, mailto=mailto),
    )


def topic_titles(session: Session, names: Iterable[str]) -> list[str]:
    """Titles of the named topics in the config's order; every enabled one when none named."""
    wanted = list(names)
    query = select(models.Topic.title).order_by(models.Topic.id)
    query = query.where(models.Topic.name.in_(wanted) if wanted else models.Topic.enabled)
    return list(session.scalars(query))


def alert_view(session: Session, alert: models.Alert, how: Addressing) -> AlertView:
    """What an alert shows: its story, the topics it tells of, and its reader."""
    reader = session.get(models.Reader, alert.reader)
    hits = story_hits(
        session,
        select(models.Article.story_id)
        .select_from(models.AlertTopic)
        .join(models.Match, models.Match.id == models.AlertTopic.match_id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .where(models.AlertTopic.alert_id == alert.id),
    )
    return AlertView(
        alert_id=alert.id,
        kind="update" if alert.kind == "update" else "alert",
        story=story_view(session, alert.story_id, hits.get(alert.story_id, [])),
        reader=reader_view(
            session,
            alert.reader,
            [str(r) for r in alert.recipients],
            reader.topics if reader else [],
            unsubscribe.ALERTS,
            how,
        ),
    )


def story_view(session: Session, story_id: int, topics: list[TopicHit]) -> StoryView:
    """A story by its lead article, with each outlet that carried it once."""
    story = session.get_one(models.Story, story_id)
    lead = session.get(models.Article, story.lead_article_id) if story.lead_article_id else None
    return StoryView(
        story_id=story_id,
        title=story.title,
        url=lead.url if lead else "",
        first_seen=story.first_seen_at,
        published_at=lead.published_at if lead else None,
        topics=topics,
        outlets=[Outlet(name, url) for name, url in reads.story_outlets(session, story_id)],
        text_source=lead.text_source if lead else "page",
    )


def story_hits(session: Session, story_of: Select[Any]) -> dict[int, list[TopicHit]]:
    """story -> the topics it hit, each with its first match, in the config's topic order;
    `story_of` selects the story of each match it keeps (its FROM is joined to matches)."""
    query = (
        story_of.add_columns(
            models.Topic.name,
            models.Topic.title,
            models.Match.terms,
            models.Match.snippet,
            models.Match.highlights,
        )
        .join(models.Topic, models.Topic.id == models.Match.topic_id)
        .order_by(models.Topic.id, models.Match.id)
    )
    found: dict[int, dict[str, TopicHit]] = {}
    for story_id, name, title, terms, snippet, spans in session.execute(query):
        if story_id is None:
            continue
        found.setdefault(story_id, {}).setdefault(
            name,
            TopicHit(
                name=name,
                title=title,
                terms=dict(terms),
                snippet=snippet,
                highlights=[(int(a), int(b)) for a, b in spans],
            ),
        )
    return {story: list(topics.values()) for story, topics in found.items()}


def digest_view(
    session: Session, row: models.DigestMail, how: Addressing, chart_days: int = 14
) -> Digest:
    """The digest of a row: the stories of the period that hit its topics and the held alerts
    it carries (only those for an overflow row); its chart over the last `chart_days` local
    days of the reader's time zone."""
    topics = [str(name) for name in row.topics]
    found: dict[int, list[TopicHit]] = {}
    if not row.overflow:
        in_period = (
            select(models.Article.story_id)
            .select_from(models.Match)
            .join(models.Article, models.Article.id == models.Match.article_id)
            .where(models.Match.matched_at >= row.period_start)
            .where(models.Match.matched_at < row.period_end)
        )
        if topics:
            in_period = in_period.where(
                models.Match.topic_id.in_(
                    select(models.Topic.id).where(models.Topic.name.in_(topics))
                )
            )
        found = story_hits(session, in_period)
    carried: dict[int, list[TopicHit]] = {}
    if row.id is not None:  # a preview's row is never stored, so it carries nothing
        carried = story_hits(
            session,
            select(models.Alert.story_id)
            .select_from(models.AlertTopic)
            .join(models.Alert, models.Alert.id == models.AlertTopic.alert_id)
            .join(models.Match, models.Match.id == models.AlertTopic.match_id)
            .where(models.Alert.digest_id == row.id),
        )
    for story_id, hits in carried.items():
        known = {hit.name for hit in found.get(story_id, [])}
        found.setdefault(story_id, []).extend(hit for hit in hits if hit.name not in known)
    stories = [story_view(session, story_id, hits) for story_id, hits in found.items()]
    counts: dict[str, int] = {}
    for story in stories:
        for hit in story.topics:
            counts[hit.title] = counts.get(hit.title, 0) + 1
    recipients = [str(r) for r in row.recipients] if row.channel == "email" else []
    key = reader_key(recipients[0]) if recipients else row.channel
    subscription = (
        unsubscribe.ALERTS if row.overflow else unsubscribe.digest_subscription(row.subscriber)
    )
    reader = reader_view(session, key, recipients, topics, subscription, how)
    # The chart's days end with the local day the period ends in: never a day still to come.
    last = (row.period_end - timedelta(microseconds=1)).astimezone(reader.zone).date()
    days = [last - timedelta(days=n) for n in range(chart_days - 1, -1, -1)]
    daily = {}
    if not row.overflow:
        daily = reads.daily_hits(session, last, chart_days, reader.zone.key, topics).by_title()
    return Digest(
        subscriber=row.subscriber,
        reader=reader,
        period_start=row.period_start,
        period_end=row.period_end,
        stories=stories,
        topic_counts=sorted(counts.items(), key=lambda item: (-item[1], item[0])),
        daily_hits=daily,
        days=[] if row.overflow else days,
        overflow=row.overflow,
    )
