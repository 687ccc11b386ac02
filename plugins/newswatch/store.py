"""Store adapter: config sync, feed state, batch writes of articles, matches and alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models, schedule
from newswatch.config import Config
from newswatch.records import Article, FeedPoll, FeedState, Match
from newswatch.settings import Settings


def sync_config(session: Session, config: Config) -> None:
    """Upsert feeds and topics from config; entries removed from config are disabled, not deleted."""
    for feed in config.feeds:
        stmt = insert(models.Feed).values(
            name=feed.name, url=feed.url, config_url=feed.url, enabled=feed.enabled
        )
        config_changed = models.Feed.config_url.is_distinct_from(stmt.excluded.config_url)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[models.Feed.name],
                set_={
                    # A URL learnt from a permanent redirect stays until feeds.yaml itself changes.
                    "url": case((config_changed, stmt.excluded.url), else_=models.Feed.url),
                    "next_poll_at": case((config_changed, None), else_=models.Feed.next_poll_at),
                    "config_url": stmt.excluded.config_url,
                    "enabled": stmt.excluded.enabled,
                },
            )
        )
    names = [feed.name for feed in config.feeds]
    session.execute(update(models.Feed).where(models.Feed.name.not_in(names)).values(enabled=False))
    for topic in config.topics:
        values = {
            "name": topic.name,
            "title": topic.label,
            "description": topic.description,
            "rule": {
                "query": topic.query,
                "keywords": topic.keywords,
                "exclude": topic.exclude,
                "min_hits": topic.min_hits,
            },
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


def due_feeds(session: Session, now: datetime, slack: timedelta) -> list[tuple[int, str]]:
    """(id, url) of enabled feeds whose next poll falls before now + slack; never polled is due."""
    due = or_(models.Feed.next_poll_at.is_(None), models.Feed.next_poll_at <= now + slack)
    query = (
        select(models.Feed.id, models.Feed.url)
        .where(models.Feed.enabled, due)
        .order_by(models.Feed.id)
    )
    return [(feed_id, url) for feed_id, url in session.execute(query)]


def feed_states(session: Session, feed_ids: Sequence[int]) -> list[FeedState]:
    rows = session.scalars(
        select(models.Feed)
        .where(models.Feed.id.in_(feed_ids), models.Feed.enabled)
        .order_by(models.Feed.id)
    )
    return [
        FeedState(
            id=f.id,
            name=f.name,
            url=f.url,
            etag=f.etag,
            last_modified=f.last_modified,
            last_full_poll_at=f.last_full_poll_at,
        )
        for f in rows
    ]


def record_poll(session: Session, poll: FeedPoll, at: datetime, settings: Settings) -> str | None:
    """Remember a poll's outcome and schedule the next one; returns a note worth reporting."""
    feed = session.get_one(models.Feed, poll.feed_id)
    feed.last_polled_at = at
    feed.last_status = (
        poll.status if poll.http_status is None else f"{poll.status} {poll.http_status}"
    )
    note = None
    if poll.moved_to and poll.moved_to != feed.url:
        taken = session.scalar(select(models.Feed.id).where(models.Feed.url == poll.moved_to))
        if taken is None:
            note = f"feed {feed.name!r} moved permanently: {feed.url} -> {poll.moved_to}"
            feed.url = poll.moved_to
    if poll.status in ("error", "gone"):
        feed.consecutive_failures += 1
        feed.last_error = poll.error
        if poll.status == "gone":
            feed.last_error = "HTTP 410 Gone: the publisher removed this feed; now tried monthly"
            failures = max(feed.consecutive_failures, settings.max_consecutive_failures)
        else:
            failures = feed.consecutive_failures
        nxt = schedule.after_failure(
            now=at,
            failures=failures,
            max_failures=settings.max_consecutive_failures,
            status=poll.http_status,
            headers=poll.headers,
        )
        feed.next_poll_at = nxt.at
        return note
    published = [item.published_at for item in poll.items if item.published_at]
    previous = timedelta(seconds=feed.poll_interval_seconds) if feed.poll_interval_seconds else None
    nxt = schedule.after_success(
        now=at,
        bounds=schedule.Bounds(
            shortest=timedelta(minutes=settings.min_poll_interval_minutes),
            longest=timedelta(hours=settings.max_poll_interval_hours),
        ),
        published=published if poll.status == "ok" else [],
        previous=previous,
        headers=poll.headers,
        ttl_minutes=poll.ttl_minutes,
    )
    feed.next_poll_at = nxt.at
    feed.poll_interval_seconds = int(nxt.interval.total_seconds()) if nxt.interval else None
    feed.consecutive_failures = 0
    feed.last_error = poll.warning
    feed.last_success_at = at
    if poll.status == "ok":
        feed.etag = poll.etag
        feed.last_modified = poll.last_modified
        feed.items_per_day = schedule.items_per_day(published, at)
        if poll.unconditional:
            feed.last_full_poll_at = at
    if poll.title:
        feed.title = poll.title
    return note


def known_guids(session: Session, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """(feed, guid) pairs already stored: an item whose link changed is still not new."""
    wanted = list(set(pairs))
    if not wanted:
        return set()
    rows = session.execute(
        select(models.ArticleSource.feed_id, models.ArticleSource.guid).where(
            tuple_(models.ArticleSource.feed_id, models.ArticleSource.guid).in_(wanted)
        )
    )
    return {(feed_id, guid) for feed_id, guid in rows if guid is not None}


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
                    offsets={t: [list(s) for s in spans] for t, spans in match.offsets.items()},
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


def backtest_candidates(
    session: Session, tsquery: str | None, since: datetime, limit: int
) -> list[Any]:
    """Articles published (else fetched) since `since`, narrowed by the GIN-indexed `search`
    tsvector when a tsquery is given; newest first. Rows: id, title, text, language, url, at,
    source."""
    at = func.coalesce(models.Article.published_at, models.Article.fetched_at)
    query = (
        select(
            models.Article.id,
            models.Article.title,
            models.Article.text,
            models.Article.language,
            models.Article.url,
            at.label("at"),
            models.Feed.name.label("source"),
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
