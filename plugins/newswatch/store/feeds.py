"""Feed scheduling: which feeds are due, their stored state, and each poll's outcome."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    DateTime,
    and_,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from newswatch import models, schedule
from newswatch.records import FeedPoll, FeedState
from newswatch.sanitize import ERROR_CHARS, clean_line
from newswatch.settings import Settings
from newswatch.store import db
from newswatch.store.config import RELEASED


def due_feeds(session: Session, now: datetime, slack: timedelta) -> list[tuple[int, str]]:
    """(id, url) of enabled feeds whose next poll falls before now + slack; never polled is due.

    A feed is taken early by at most half its own interval, though: a feed polled every 15
    minutes was otherwise due again in every run within the default 30 minutes' slack, so runs
    a few minutes apart (cron, `newswatch run` by hand) polled it each time."""
    interval = models.Feed.poll_interval_seconds
    half_interval = interval * literal_column("interval '0.5 second'")
    due = or_(
        models.Feed.next_poll_at.is_(None),
        and_(
            models.Feed.next_poll_at <= now + slack,
            or_(
                interval.is_(None),
                models.Feed.next_poll_at <= literal(now, DateTime(timezone=True)) + half_interval,
            ),
        ),
    )
    query = (
        select(models.Feed.id, models.Feed.url)
        .where(models.Feed.enabled, due)
        .order_by(models.Feed.id)
    )
    return [(feed_id, url) for feed_id, url in session.execute(query)]


@dataclass(frozen=True)
class FeedRef:
    """A feed as a forced poll names it: by id or by its feeds.yaml name."""

    id: int
    name: str
    url: str
    enabled: bool


def feeds_by_key(session: Session, keys: Collection[int | str] | None) -> list[FeedRef]:
    """The feeds whose id or name is in keys (every feed when keys is None), enabled or not."""
    query = select(models.Feed.id, models.Feed.name, models.Feed.url, models.Feed.enabled)
    if keys is not None:
        ids = [key for key in keys if isinstance(key, int)]
        names = [key for key in keys if isinstance(key, str)]
        query = query.where(or_(models.Feed.id.in_(ids), models.Feed.name.in_(names)))
    return [FeedRef(*row) for row in session.execute(query.order_by(models.Feed.id))]


def feed_states(session: Session, feed_ids: Sequence[int]) -> list[FeedState]:
    rows = session.scalars(
        select(models.Feed)
        .where(models.Feed.id.in_(feed_ids), models.Feed.enabled)
        .order_by(models.Feed.id)
    )
    return [db.as_record(feed, FeedState) for feed in rows]


def load_feeds(session: Session, feed_ids: Sequence[int]) -> list[models.Feed]:
    """These feeds in one query: while the caller holds the list, `session.get` finds each in
    the session instead of asking the database again."""
    return list(session.scalars(select(models.Feed).where(models.Feed.id.in_(feed_ids))))


def _polled_elsewhere(session: Session, feed_id: int, url: str) -> models.Feed | None:
    """The other stored feed at `url`, however its address is spelled (query trackers, case,
    slashes); a 301 onto it would make two feeds read one."""
    from newswatch.urls import address_key  # courlan and httpx: not for every listing command

    key = address_key(url)
    others = session.scalars(select(models.Feed).where(models.Feed.id != feed_id))
    return next((other for other in others if address_key(other.url) == key), None)


def record_poll(session: Session, poll: FeedPoll, at: datetime, settings: Settings) -> str | None:
    """Remember a poll's outcome and schedule the next one; returns a note worth reporting."""
    feed = session.get_one(models.Feed, poll.feed_id)
    feed.last_polled_at = at
    feed.last_status = (
        poll.status if poll.http_status is None else f"{poll.status} {poll.http_status}"
    )
    note = None
    feed.moved_to = None
    if poll.moved_to and poll.moved_to != feed.url:
        taken = _polled_elsewhere(session, feed.id, poll.moved_to)
        if taken is not None and not taken.enabled:
            # A feed taken out of feeds.yaml reads nothing: it gives the URL up, as sync_config
            # has it give up one feeds.yaml names for another feed, and gets it back the same way.
            taken.url = f"{RELEASED}{taken.id}"
            session.flush()
            taken = None
        if taken is None:
            note = f"feed {feed.name!r} moved permanently: {feed.url} -> {poll.moved_to}"
            feed.url = poll.moved_to
        else:  # it would duplicate that feed: stay, and let the watchdog tell the operator
            feed.moved_to = taken.url
            note = f"feed {feed.name!r} redirects permanently to the URL of feed {taken.name!r}"
    if poll.status in ("error", "gone"):
        feed.consecutive_failures += 1
        # Error messages quote what servers and parsers said: bounded and clean like the rest.
        feed.last_error = clean_line(poll.error, ERROR_CHARS) or None
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
    warning = clean_line(poll.warning, ERROR_CHARS) or None
    if poll.status == "not_modified" and feed.consecutive_failures == 0:
        warning = feed.last_error  # the feed is as it was, and so is what was wrong with it
    feed.consecutive_failures = 0
    feed.last_error = warning
    feed.last_success_at = at
    if poll.unstored:
        # Keep the old validators: the next poll reads the feed in full and retries these
        # items (the stored ones are skipped), where a 304 would have lost them.
        feed.last_error = clean_line(
            "; ".join(
                [f"{len(poll.unstored)} item(s) not stored, retried next poll: {poll.unstored[0]}"]
                + ([poll.warning] if poll.warning else [])
            ),
            ERROR_CHARS,
        )
    if poll.status == "ok":
        if not poll.unstored:
            feed.etag = poll.etag
            feed.last_modified = poll.last_modified
        feed.items_per_day = schedule.publishing_rate(published)
        if poll.unconditional:
            feed.last_full_poll_at = at
    if poll.title:
        feed.title = poll.title
    return note
