"""The watchdog's findings as stored: each feed's history aggregated for it, findings opened and
resolved, and what the operator has been told of them.

Baselines are aggregated in SQL (gaps through a window function, their quantiles through
percentile_disc) so a busy feed's four weeks of items never travel to Python; only the last
day's pages do, as the pages judged.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.watchdog import BASELINE_DAYS, RECENT, WALL_ERROR, FeedHistory, Finding, PageRead

_QUOTED = re.compile(r"\((['\"])(.*?)\1\)")

_GAPS = text(
    """
    with newest as (
        select feed_id, max(seen_at) as last_at
        from article_sources where feed_id = any(:feeds) group by feed_id
    ), seen as (
        select s.feed_id, s.seen_at, count(*) as items
        from article_sources s join newest n on n.feed_id = s.feed_id
        where s.seen_at >= least(n.last_at, :now) - :window
        group by s.feed_id, s.seen_at
    ), gaps as (
        select feed_id, items,
               seen_at - lag(seen_at) over (partition by feed_id order by seen_at) as gap
        from seen
    )
    select g.feed_id, sum(items)::int,
           percentile_disc(0.5) within group (order by gap),
           percentile_disc(0.95) within group (order by gap),
           max(gap), max(n.last_at)
    from gaps g join newest n on n.feed_id = g.feed_id group by g.feed_id
    """
)
_LAST_ITEM = text(
    "select f.id, (select max(seen_at) from article_sources s where s.feed_id = f.id) "
    "from feeds f where f.id = any(:feeds)"
)
_PAGES_BEFORE = text(
    """
    select feed_id, count(*)::int, (count(*) filter (where text_source = 'page'))::int
    from articles
    where fetched_at >= :since and fetched_at < :recent and feed_id = any(:feeds)
    group by feed_id
    """
)
_DAILY = text(
    """
    select feed_id, floor(extract(epoch from :now - seen_at) / 86400)::int as age, count(*)::int
    from article_sources
    where seen_at > :since and seen_at <= :now and feed_id = any(:feeds)
    group by feed_id, age
    """
)


def histories(session: Session, now: datetime) -> list[FeedHistory]:
    """Every enabled feed's history for watchdog.findings: its baseline over the BASELINE_DAYS
    up to its newest item, its pages over the last BASELINE_DAYS."""
    feeds = session.scalars(
        select(models.Feed).where(models.Feed.enabled).order_by(models.Feed.id)
    ).all()
    ids = [feed.id for feed in feeds]
    since, recent = now - timedelta(days=BASELINE_DAYS), now - RECENT
    window = {"since": since, "feeds": ids}
    gaps = {
        row[0]: row[1:]
        for row in session.execute(
            _GAPS, {"feeds": ids, "now": now, "window": timedelta(days=BASELINE_DAYS)}
        )
    }
    before = {
        row[0]: row[1:] for row in session.execute(_PAGES_BEFORE, window | {"recent": recent})
    }
    pages: dict[int, list[PageRead]] = {}
    rows = session.execute(
        select(
            models.Article.feed_id,
            models.Article.fetched_at,
            models.Article.text_source,
            models.Article.fetch_error,
        )
        .where(models.Article.fetched_at >= recent, models.Article.feed_id.in_(ids))
        .order_by(models.Article.fetched_at)
    )
    for feed_id, at, source, error in rows:
        wall = error is not None and error.startswith(WALL_ERROR)
        why = error
        if (
            wall and error is not None
        ):  # the marker extract.py quoted: "…article ('we use cookies');"
            marker = _QUOTED.search(error)
            why = marker.group(2) if marker else None
        pages.setdefault(feed_id, []).append(PageRead(at, source == "page", wall, why))
    moved = {feed.moved_to for feed in feeds if feed.moved_to}
    names = {
        url: name
        for url, name in session.execute(
            select(models.Feed.url, models.Feed.name).where(models.Feed.url.in_(moved))
        )
    }
    out = []
    for feed in feeds:
        items, median_gap, long_gap, longest_gap, last_item_at = gaps.get(
            feed.id, (0, None, None, None, None)
        )
        pages_before, read_before = before.get(feed.id, (0, 0))
        out.append(
            FeedHistory(
                feed_id=feed.id,
                name=feed.name,
                last_status=feed.last_status,
                consecutive_failures=feed.consecutive_failures,
                last_error=feed.last_error,
                moved_onto=names.get(feed.moved_to, feed.moved_to) if feed.moved_to else None,
                items=items,
                median_gap=median_gap,
                long_gap=long_gap,
                longest_gap=longest_gap,
                last_item_at=last_item_at,
                pages_before=pages_before,
                read_before=read_before,
                recent=pages.get(feed.id, ()),
            )
        )
    return out


def last_items(session: Session, feed_ids: Sequence[int]) -> dict[int, datetime]:
    """When each feed's newest item reached us."""
    rows = session.execute(_LAST_ITEM, {"feeds": list(feed_ids)}).tuples()
    return {feed_id: at for feed_id, at in rows if at is not None}


def daily_items(
    session: Session, now: datetime, feed_ids: Sequence[int], days: int = BASELINE_DAYS
) -> dict[int, list[int]]:
    """Items per day for each feed over the `days` days up to now, oldest first."""
    counts = {feed_id: [0] * days for feed_id in feed_ids}
    since = now - timedelta(days=days)
    for feed_id, age, count in session.execute(
        _DAILY, {"now": now, "since": since, "feeds": list(feed_ids)}
    ):
        if 0 <= age < days:
            counts[feed_id][days - 1 - age] = count
    return counts


@dataclass(frozen=True)
class Changes:
    opened: int
    resolved: int


def record(
    session: Session, found: Sequence[Finding], checked: Collection[int], now: datetime
) -> Changes:
    """Make the open findings of the `checked` feeds those `found`: new ones open, gone ones
    resolve, lasting ones keep their first-seen time and take the latest reason."""
    open_rows = session.scalars(
        select(models.FeedFinding)
        .where(models.FeedFinding.resolved_at.is_(None))
        .where(models.FeedFinding.feed_id.in_(list(checked)))
        .with_for_update()
    ).all()
    current = {(f.feed_id, str(f.kind)): f for f in found}
    opened = resolved = 0
    for row in open_rows:
        finding = current.pop((row.feed_id, row.kind), None)
        if finding is None:
            row.resolved_at = now
            resolved += 1
        else:
            row.reason, row.last_seen_at = finding.reason, now
    for finding in current.values():
        session.add(
            models.FeedFinding(
                feed_id=finding.feed_id,
                kind=str(finding.kind),
                reason=finding.reason,
                first_seen_at=now,
                last_seen_at=now,
            )
        )
        opened += 1
    # A feed no longer checked (disabled, removed from feeds.yaml) has nothing open; nothing
    # was mended, so the operator who took it out is not told that it was.
    result = session.execute(
        update(models.FeedFinding)
        .where(models.FeedFinding.resolved_at.is_(None))
        .where(models.FeedFinding.feed_id.not_in(list(checked)))
        .values(
            resolved_at=now,
            told_at=func.coalesce(models.FeedFinding.told_at, now),
            told_resolved_at=now,
        )
    )
    resolved += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.flush()
    return Changes(opened, resolved)


def open_findings(session: Session) -> dict[int, list[models.FeedFinding]]:
    """The open findings of each feed, oldest first."""
    rows = session.scalars(
        select(models.FeedFinding)
        .where(models.FeedFinding.resolved_at.is_(None))
        .order_by(models.FeedFinding.first_seen_at, models.FeedFinding.id)
    )
    found: dict[int, list[models.FeedFinding]] = {}
    for row in rows:
        found.setdefault(row.feed_id, []).append(row)
    return found


@dataclass(frozen=True)
class Told:
    """A finding as the operator's report tells of it."""

    id: int
    feed: str
    kind: str
    reason: str
    since: datetime
    resolved: datetime | None


def untold(session: Session) -> tuple[list[Told], list[Told]]:
    """Findings the operator has not heard of: (opened, resolved). A finding that opened and
    resolved before any report is not worth a line; it is marked told here and left out."""
    rows = session.execute(
        select(models.FeedFinding, models.Feed.name)
        .join(models.Feed, models.Feed.id == models.FeedFinding.feed_id)
        .where(models.FeedFinding.told_resolved_at.is_(None))
        .where(
            (models.FeedFinding.told_at.is_(None)) | (models.FeedFinding.resolved_at.is_not(None))
        )
        .order_by(models.Feed.name, models.FeedFinding.first_seen_at)
        .with_for_update(of=models.FeedFinding)
    ).all()
    opened: list[Told] = []
    resolved: list[Told] = []
    for row, name in rows:
        told = Told(row.id, name, row.kind, row.reason, row.first_seen_at, row.resolved_at)
        if row.resolved_at is None:
            opened.append(told)
        elif row.told_at is not None:
            resolved.append(told)
        else:
            row.told_at = row.told_resolved_at = row.resolved_at
    return opened, resolved


def mark_told(session: Session, told: Sequence[Told], now: datetime) -> None:
    """The report that tells of these is queued: none of them is told again."""
    for item in told:
        row = session.get_one(models.FeedFinding, item.id)
        if item.resolved is None:
            row.told_at = now
        else:
            row.told_resolved_at = now


def still_open(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(models.FeedFinding)
            .where(models.FeedFinding.resolved_at.is_(None))
        )
        or 0
    )
