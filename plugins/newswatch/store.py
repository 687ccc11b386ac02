"""Store adapter: config sync, feed state, batch writes of articles, matches and alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.config import Config
from newswatch.records import Article, FeedPoll, FeedState, Match


def sync_config(session: Session, config: Config) -> None:
    """Upsert feeds and topics from config; entries removed from config are disabled, not deleted."""
    for feed in config.feeds:
        stmt = insert(models.Feed).values(name=feed.name, url=feed.url, enabled=feed.enabled)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[models.Feed.name],
                set_={"url": stmt.excluded.url, "enabled": stmt.excluded.enabled},
            )
        )
    names = [feed.name for feed in config.feeds]
    session.execute(update(models.Feed).where(models.Feed.name.not_in(names)).values(enabled=False))
    for topic in config.topics:
        values = {
            "name": topic.name,
            "title": topic.label,
            "description": topic.description,
            "rule": {"keywords": topic.keywords, "exclude": topic.exclude},
            "recipients": config.recipients_for(topic),
            "enabled": topic.enabled,
        }
        stmt = insert(models.Topic).values(**values)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[models.Topic.name],
                set_={k: stmt.excluded[k] for k in values if k != "name"},
            )
        )
    topic_names = [topic.name for topic in config.topics]
    session.execute(
        update(models.Topic).where(models.Topic.name.not_in(topic_names)).values(enabled=False)
    )


def enabled_feed_ids(session: Session) -> list[int]:
    return list(
        session.scalars(select(models.Feed.id).where(models.Feed.enabled).order_by(models.Feed.id))
    )


def feed_states(session: Session, feed_ids: Sequence[int]) -> list[FeedState]:
    rows = session.scalars(
        select(models.Feed)
        .where(models.Feed.id.in_(feed_ids), models.Feed.enabled)
        .order_by(models.Feed.id)
    )
    return [
        FeedState(id=f.id, name=f.name, url=f.url, etag=f.etag, last_modified=f.last_modified)
        for f in rows
    ]


def record_poll(session: Session, poll: FeedPoll, at: datetime) -> None:
    """Remember the outcome of a poll: validators on success, the reason on failure."""
    feed = session.get_one(models.Feed, poll.feed_id)
    feed.last_polled_at = at
    feed.last_status = (
        poll.status if poll.http_status is None else f"{poll.status} {poll.http_status}"
    )
    if poll.status == "error":
        feed.consecutive_failures += 1
        feed.last_error = poll.error
        return
    feed.consecutive_failures = 0
    feed.last_error = None
    feed.last_success_at = at
    feed.etag = poll.etag
    feed.last_modified = poll.last_modified
    if poll.title:
        feed.title = poll.title


def known_urls(session: Session, urls: Iterable[str]) -> dict[str, int]:
    """Article ids of the URLs already stored, in one query."""
    wanted = list(set(urls))
    if not wanted:
        return {}
    rows = session.execute(
        select(models.Article.url, models.Article.id).where(models.Article.url.in_(wanted))
    )
    return {url: article_id for url, article_id in rows}


def add_sources(session: Session, sources: Iterable[tuple[int, int, str | None]]) -> None:
    """Record that (article, feed, guid) was seen; repeats are ignored."""
    rows = [{"article_id": a, "feed_id": f, "guid": g} for a, f, g in sources]
    if rows:
        session.execute(insert(models.ArticleSource).values(rows).on_conflict_do_nothing())


def topic_ids(session: Session) -> dict[str, tuple[int, list[str]]]:
    rows = session.execute(
        select(models.Topic.name, models.Topic.id, models.Topic.recipients).where(
            models.Topic.enabled
        )
    )
    return {name: (topic_id, list(recipients)) for name, topic_id, recipients in rows}


def save_articles(
    session: Session,
    tagged: Sequence[tuple[Article, Sequence[Match]]],
    at: datetime,
) -> dict[str, int]:
    """Insert new articles with their matches and pending alerts; repeats insert nothing."""
    counts = {"articles_new": 0, "matches_new": 0, "alerts_new": 0}
    topics = topic_ids(session)
    for article, matches in tagged:
        values: dict[str, Any] = asdict(article)
        values["fetched_at"] = at
        article_id = session.scalar(
            insert(models.Article)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(models.Article.id)
        )
        if article_id is None:
            continue  # stored by an earlier run or a concurrent batch
        counts["articles_new"] += 1
        for match in matches:
            if match.topic not in topics:
                continue
            topic_id, recipients = topics[match.topic]
            match_id = session.scalar(
                insert(models.Match)
                .values(
                    article_id=article_id,
                    topic_id=topic_id,
                    terms=match.terms,
                    snippet=match.snippet,
                    highlights=[list(span) for span in match.highlights],
                    matched_at=at,
                )
                .on_conflict_do_nothing()
                .returning(models.Match.id)
            )
            if match_id is None:
                continue
            counts["matches_new"] += 1
            alert_id = session.scalar(
                insert(models.Alert)
                .values(
                    article_id=article_id,
                    topic_id=topic_id,
                    match_id=match_id,
                    recipients=recipients,
                    created_at=at,
                    next_attempt_at=at,
                )
                .on_conflict_do_nothing()
                .returning(models.Alert.id)
            )
            counts["alerts_new"] += alert_id is not None
    return counts


def start_run(session: Session, trigger: str, at: datetime) -> int:
    run = models.Run(started_at=at, trigger=trigger, counts={}, errors=[])
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session, run_id: int, counts: dict[str, int], errors: list[str], at: datetime
) -> models.Run:
    run = session.get_one(models.Run, run_id)
    run.counts = counts
    run.errors = errors
    run.finished_at = at
    return run
