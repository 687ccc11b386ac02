"""When to poll a feed next (pure): publishing rate, server hints, and backoff on failure."""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from newswatch.sanitize import parse_int

MAX_RETRY_AFTER = timedelta(days=1)
MAX_HINT_SECONDS = 366 * 24 * 3600  # a cache hint beyond a year means "rarely"; bounds cap it lower
DORMANT_RETRY = timedelta(days=30)
FAILURE_STEP = timedelta(hours=1)


@dataclass(frozen=True)
class Bounds:
    shortest: timedelta
    longest: timedelta


@dataclass(frozen=True)
class NextPoll:
    at: datetime
    interval: timedelta | None  # the adaptive interval to remember (None: keep the old one)
    reason: str


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After in seconds or as an HTTP date, capped at one day; None when absent or unreadable."""
    if not value:
        return None
    seconds = parse_int(value, 0, int(MAX_RETRY_AFTER.total_seconds()))
    if seconds is not None:
        delay = timedelta(seconds=seconds)
    else:
        try:
            delay = parsedate_to_datetime(value.strip()[:64]) - now
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    return min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


def max_age(headers: Mapping[str, str]) -> timedelta | None:
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        seconds = parse_int(value.strip().strip('"'), 0, MAX_HINT_SECONDS)
        if name.lower() == "max-age" and seconds is not None:
            return timedelta(seconds=seconds)
    return None


def publishing_interval(published: Sequence[datetime]) -> timedelta | None:
    """Median gap between the newest items (up to 20); None with fewer than two dated items."""
    times = sorted(published, reverse=True)[:20]
    gaps = [(a - b).total_seconds() for a, b in zip(times, times[1:], strict=False) if a > b]
    return timedelta(seconds=statistics.median(gaps)) if gaps else None


def publishing_rate(published: Sequence[datetime]) -> float | None:
    """Items a day: the gaps between the feed's dated items over the span they cover, or the
    count when they all fall within a day; None with fewer than two. Counting only the last 7 days and dividing by 7 showed 0.0 for a feed whose listed
    items are older, and a seventh of the rate for a busy feed that lists only its last hours."""
    if len(published) < 2:
        return None
    span = max(published) - min(published)
    if span < timedelta(days=1):  # all within a day: that day's count
        return float(len(published))
    return round((len(published) - 1) / (span / timedelta(days=1)), 2)  # gaps over their span


def after_success(
    *,
    now: datetime,
    bounds: Bounds,
    published: Sequence[datetime],
    previous: timedelta | None,
    headers: Mapping[str, str],
    ttl_minutes: int | None,
) -> NextPoll:
    """Poll about as often as the feed publishes, never sooner than its TTL or max-age asks."""
    interval = publishing_interval(published) or previous or bounds.longest
    reason = "publishing rate"
    hints = [
        h for h in (max_age(headers), timedelta(minutes=ttl_minutes) if ttl_minutes else None) if h
    ]
    if hints and max(hints) > interval:
        interval, reason = max(hints), "feed's cache hint"
    interval = min(max(interval, bounds.shortest), bounds.longest)
    return NextPoll(at=now + interval, interval=interval, reason=reason)


def after_failure(
    *,
    now: datetime,
    failures: int,
    max_failures: int,
    status: int | None,
    headers: Mapping[str, str],
    rng: random.Random | None = None,
) -> NextPoll:
    """Retry-After when the server gives one (429/503), else linear backoff; monthly once dormant."""
    if failures >= max_failures:
        return NextPoll(
            at=now + DORMANT_RETRY, interval=None, reason=f"{failures} failures in a row: monthly"
        )
    wait = retry_after(headers.get("retry-after"), now) if status in (429, 503) else None
    if wait is not None:
        jitter = (rng or random).uniform(0, 0.1) * wait
        return NextPoll(at=now + wait + jitter, interval=None, reason="Retry-After")
    return NextPoll(
        at=now + min(FAILURE_STEP * failures, MAX_RETRY_AFTER), interval=None, reason="backoff"
    )
