"""The watchdog: what is wrong with a feed that no reader would notice (pure functions).

A monitor's worst failure is the silent one: a feed that stops publishing to us, a site that
starts serving a consent or bot-check page instead of its articles, a feed that moved onto
another's URL. Each run, every enabled feed's recent history is held against its own baseline
(the BASELINE_DAYS up to its newest item, so weekends and quiet nights are part of what is
normal, and a feed that stays silent keeps the rhythm it had), and the
findings that hold now are returned; store.findings keeps them with first-seen and resolved
times, and the operator hears of new and resolved ones once a day (operator.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

BASELINE_DAYS = 28
MIN_BASELINE_ITEMS = 5  # fewer items in the window: too little to know the feed's rhythm
QUIET_AT_LEAST = timedelta(days=1)
QUIET_GAP_FACTOR = 2  # silent for twice its usual long gap (and longer than any in the window)
FAILING_AFTER = 3  # failed polls in a row
RECENT = timedelta(days=1)  # pages judged against the feed's baseline: the last day's
MIN_RECENT_PAGES = 3
BLOCKED_SHARE = 0.5  # pages read fall below half the feed's normal share
MIN_BASELINE_SHARE = 0.5  # a feed whose pages rarely read (no links, paywalled) is not judged
WALL_SHARE = 0.5  # half the last day's pages were walls (consent, bot check, paywall)
WALL_ERROR = "the page is a wall"  # how extract.extract_article's fetch error for one starts


class Kind(StrEnum):
    QUIET = "quiet"
    FAILING = "failing"
    GONE = "gone"
    MOVED = "moved"
    BLOCKED = "blocked"
    PARSE = "parse"


# What each kind is called where the operator reads it: report, `feeds health`, dashboard.
KIND_LABELS: dict[str, str] = {
    Kind.QUIET: "Gone quiet",
    Kind.FAILING: "Failing",
    Kind.GONE: "Removed by the publisher",
    Kind.MOVED: "Moved onto another feed",
    Kind.BLOCKED: "Pages blocked",
    Kind.PARSE: "Feed warnings",
}


@dataclass(frozen=True)
class PageRead:
    """One article page of a feed: when it was fetched, whether its text came from the page,
    whether it was a wall (consent, bot check, paywall), and why it was not read, if it was not."""

    at: datetime
    read: bool
    wall: bool = False
    why: str | None = None  # a wall: the phrase that gave it away; else the fetch error


@dataclass(frozen=True)
class FeedHistory:
    """One feed as the watchdog sees it: its state, its baseline over the window (the store
    aggregates it: store.findings.histories) and its pages of the last day."""

    feed_id: int
    name: str
    last_status: str | None  # "ok", "not_modified 304", "error 500", "gone 410"…
    consecutive_failures: int
    last_error: str | None  # an error, or on a successful poll the feed's warning
    moved_onto: str | None = None  # another feed's name, whose URL a 301 sent this one to
    # The baseline: the BASELINE_DAYS up to its newest item, so a feed that stays silent keeps
    # the rhythm it had and stays quiet until an item comes.
    items: int = 0  # items seen in the window
    median_gap: timedelta | None = None  # between the times items reached us
    long_gap: timedelta | None = None  # the 95th percentile of those gaps
    longest_gap: timedelta | None = None
    last_item_at: datetime | None = None  # its newest item, however old
    pages_before: int = 0  # its pages fetched in the window before the last day
    read_before: int = 0  # of which gave the article's text
    recent: Sequence[PageRead] = ()  # its pages of the last day

    @property
    def quiet_after(self) -> timedelta | None:
        """How long a silence is no longer normal; None: too little history to tell."""
        if self.items < MIN_BASELINE_ITEMS or self.long_gap is None or self.longest_gap is None:
            return None
        return max(QUIET_AT_LEAST, QUIET_GAP_FACTOR * self.long_gap, self.longest_gap)

    @property
    def read_share(self) -> float | None:
        """Its normal share of pages that gave their text; None before any page."""
        return self.read_before / self.pages_before if self.pages_before else None


@dataclass(frozen=True)
class Finding:
    feed_id: int
    kind: Kind
    reason: str  # in plain words, for the operator


def findings(history: FeedHistory, now: datetime, dormant_after: int) -> list[Finding]:
    """What is wrong with the feed now, at most one finding of each kind."""
    found: list[Finding] = []

    def add(kind: Kind, reason: str) -> None:
        found.append(Finding(history.feed_id, kind, reason))

    status = history.last_status or ""
    if status.startswith("gone"):
        add(Kind.GONE, "the site answers 410 Gone, so it is now tried only once a month")
    elif history.consecutive_failures >= FAILING_AFTER:
        why = history.last_error or "no reason given"
        failed = history.consecutive_failures
        if failed >= dormant_after:
            add(
                Kind.FAILING,
                f"dormant after {failed} failed polls in a row, now tried daily: {why}",
            )
        else:
            add(Kind.FAILING, f"{failed} failed polls in a row: {why}")
    elif history.last_error and history.consecutive_failures == 0 and history.last_status:
        add(Kind.PARSE, f"read, but {history.last_error}")
    if history.moved_onto:
        add(
            Kind.MOVED,
            f"its address now redirects to the one feed {history.moved_onto!r} polls, so both "
            "read the same feed: remove one of the two from feeds.yaml",
        )
    quiet = _quiet(history, now)
    if quiet:
        add(Kind.QUIET, quiet)
    blocked = _blocked(history)
    if blocked:
        add(Kind.BLOCKED, blocked)
    return found


def _quiet(history: FeedHistory, now: datetime) -> str | None:
    after = history.quiet_after
    if history.last_item_at is None or after is None:
        return None
    silence = now - history.last_item_at
    if silence <= after:
        return None
    usual = f"; usually one every {_span(history.median_gap)}" if history.median_gap else ""
    return f"no new item for {_span(silence)}{usual}"


def _blocked(history: FeedHistory) -> str | None:
    recent = history.recent
    if len(recent) < MIN_RECENT_PAGES:
        return None
    walls = [page for page in recent if page.wall]
    if len(walls) >= WALL_SHARE * len(recent):
        said = next((f" (one said {p.why!r})" for p in reversed(walls) if p.why), "")
        return (
            f"{len(walls)} of the {len(recent)} pages fetched in the last day were a cookie, "
            f"login, paywall or bot-check page, not the article{said}; alerts use the feed's "
            "own text instead"
        )
    share = sum(page.read for page in recent) / len(recent)
    normal = history.read_share
    if normal is None or normal < MIN_BASELINE_SHARE or share >= BLOCKED_SHARE * normal:
        return None
    example = next((p.why for p in reversed(recent) if not p.read and p.why), None)
    said = f"; the latest: {example}" if example else ""
    return (
        f"only {share:.0%} of its pages in the last day gave their article text, against "
        f"{normal:.0%} before{said}"
    )


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(counts: Sequence[int]) -> str:
    """One bar per count, scaled to the largest: a day without items is the lowest bar and any
    other day is higher, so a gap reads as a gap, not as the end of the line."""
    top = max(counts, default=0)
    steps = len(SPARKS) - 2
    return "".join(SPARKS[1 + round(c / top * steps)] if c and top else SPARKS[0] for c in counts)


def _span(delta: timedelta) -> str:
    """A duration as a person says it: 40 min, 5 h, 3 days."""
    minutes = delta.total_seconds() / 60
    if minutes < 90:
        return f"{max(1, round(minutes))} min"
    if minutes < 48 * 60:
        return f"{round(minutes / 60)} h"
    return f"{round(minutes / 1440)} days"
