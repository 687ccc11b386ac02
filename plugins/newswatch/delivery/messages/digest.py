"""The digest email, pure: a reader's stories of one period, ranked, with a per-topic count line
and a small chart of hits per topic per local day drawn in HTML (no image), rendered from
templates/digest.{html,txt}. The plain text, also what chat channels get, says the same.

Stories rank by how many outlets carried them, then by how recently they were first seen; the
first FULL_CARDS are shown in full, every further one on a line of its own (none is ever left
out: held alerts reach their reader only in a digest). Times and days are in the reader's time
zone. An overflow digest is the "N more stories" message for a reader past the hourly alert
limit who has no daily digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from newswatch.delivery.messages.common import fixed_message_id, header_safe, new_message
from newswatch.delivery.messages.layout import (
    footer,
    html_part,
    in_zone,
    local_time,
    plural,
    preheader,
    story_card,
    subject_line,
    text_part,
)
from newswatch.records import Digest, StoryView

CHART_DAYS = 14
CHART_TOPICS = 8  # topics drawn as bars (~3 KB each inlined); the caption sums up every topic
BAR_PIXELS = 36  # the tallest bar; the others in proportion, at least 2 px; a zero draws none
# Gmail clips an HTML part past ~102 KB, hiding the footer and its unsubscribe link. Inlined, the
# frame is ~7.5 KB, a full card ~2.3 KB, a one-line story ~0.55 KB and a charted topic ~3.2 KB
# (measured with 230-character links): 10 cards and 8 charted topics leave room for ~85 lines.
FULL_CARDS = 10


def chart_days(period_end: datetime, zone: ZoneInfo, count: int) -> list[date]:
    """The `count` local calendar days up to the one the period ends in, oldest first."""
    last = period_end.astimezone(zone).date()
    return [last - timedelta(days=n) for n in range(count - 1, -1, -1)]


def rank(stories: list[StoryView]) -> list[StoryView]:
    """Most outlets first, then the most recently first seen."""
    return sorted(
        stories, key=lambda s: (-len({o.name for o in s.outlets}), -s.first_seen.timestamp())
    )


def digest_message_id(digest: Digest, mail_from: str) -> str:
    """One Message-ID per subscriber, reader and period, so a resent digest is recognisably the
    same (each of a subscriber's addresses gets its own message)."""
    period = f"{digest.period_start.isoformat()}\n{digest.period_end.isoformat()}"
    key = f"{digest.subscriber}\n{digest.reader.key}\n{period}"
    return fixed_message_id("overflow" if digest.overflow else "digest", key, mail_from, 20)


def digest_title(digest: Digest) -> str:
    """The subject line, dated by the local day the period ends in."""
    count = digest.story_count
    if digest.overflow:
        return subject_line(f"{plural(count, 'more story', 'more stories')} (hourly limit reached)")
    stories = plural(count, "story", "stories") if count else "no stories"
    return subject_line(f"Daily digest {_day(digest)}: {stories}")


def digest_text(digest: Digest) -> str:
    """The plain-text part; chat and webhook channels get it as it is."""
    return text_part("digest.txt", **_context(digest))


def render_digest(digest: Digest, mail_from: str, now: datetime) -> EmailMessage:
    """The digest email; ValueError when a recipient or the sender is not a usable address."""
    subject = digest_title(digest)
    msg = new_message(
        mail_from,
        digest.recipients,
        subject,
        digest_message_id(digest, mail_from),
        now,
        digest.reader.links,
    )
    context = _context(digest)
    msg.set_content(text_part("digest.txt", **context))
    msg.add_alternative(html_part("digest.html", subject=subject, **context), subtype="html")
    return msg


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    height: int  # pixels


@dataclass(frozen=True)
class ChartRow:
    title: str
    total: int
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    """Hits per topic per local day; `compact` when bars would say nothing (a single day, or no
    hit at all), and then only the totals are shown."""

    days: list[date]
    rows: list[ChartRow]
    compact: bool

    @property
    def drawn(self) -> list[ChartRow]:
        """The rows drawn as bars: the busiest CHART_TOPICS."""
        return self.rows[:CHART_TOPICS]

    @property
    def span(self) -> str:
        first, last = self.days[0], self.days[-1]
        end = f"{last:%b} {last.day}"
        return f"{first:%b} {first.day} – {end}" if first != last else end

    @property
    def totals(self) -> str:
        """`Taiwan 27 · Tariffs 21`: what the bars say, as text (the bars are hidden from
        screen readers)."""
        return " · ".join(f"{row.title} {row.total}" for row in self.rows)


def hits_chart(digest: Digest) -> Chart | None:
    """The chart over the digest's days, never past the local day its period ends in; None for
    an overflow message, a digest without stories, or when there are no days or topics."""
    last = digest.period_end.astimezone(digest.zone).date()
    days = [day for day in digest.days if day <= last]
    if digest.overflow or not digest.stories or not days or not digest.daily_hits:
        return None
    order = {title: n for n, (title, _) in enumerate(digest.topic_counts)}
    titles = sorted(digest.daily_hits, key=lambda t: (order.get(t, len(order)), t))
    counts = {t: [int(digest.daily_hits[t].get(day, 0)) for day in days] for t in titles}
    peak = max([0, *(n for row in counts.values() for n in row)])
    rows = [
        ChartRow(
            title=header_safe(title),
            total=sum(counts[title]),
            bars=[
                Bar(day, n, max(2, round(BAR_PIXELS * n / peak)) if n else 0)
                for day, n in zip(days, counts[title], strict=True)
            ],
        )
        for title in titles
    ]
    return Chart(days, rows, compact=len(days) == 1 or peak == 0)


def _day(digest: Digest) -> str:
    return digest.period_end.astimezone(digest.zone).strftime("%Y-%m-%d")


def period(digest: Digest) -> tuple[str, str]:
    """`2026-12-03 07:00`, `2026-12-04 07:00 JST`: the zone once, unless it changed between."""
    start, end = (in_zone(t, digest.zone) for t in (digest.period_start, digest.period_end))
    same_zone = start.strftime("%Z") == end.strftime("%Z")
    return (
        start.strftime("%Y-%m-%d %H:%M") if same_zone else local_time(start, digest.zone),
        local_time(end, digest.zone),
    )


def _context(digest: Digest) -> dict[str, Any]:
    zone = digest.zone
    counts = " · ".join(f"{header_safe(title)} {n}" for title, n in digest.topic_counts)
    last_day = in_zone(digest.period_end, zone).date()
    cards = [story_card(story, zone, last_day) for story in rank(digest.stories)]
    return {
        "digest": digest,
        "day": _day(digest),
        "period": period(digest),
        "zone_name": digest.period_end.astimezone(zone).strftime("%Z"),
        "subscriber": header_safe(digest.subscriber),
        "count_line": counts,
        "stories": cards,
        "cards": cards[:FULL_CARDS],
        "more": cards[FULL_CARDS:],
        "chart": hits_chart(digest),
        "footer": footer(digest.reader, digest=not digest.overflow),
        "preheader": preheader(counts or "No stories hit your topics in this period."),
    }
