"""The digest email, pure: a reader's stories of one period, ranked, with a per-topic count line
and a small chart of hits per topic per local day drawn in HTML (no image), rendered from
templates/digest.{html,txt}. The plain text, also what chat channels get, says the same.

Stories rank by how many outlets carried them, then by how recently they were first seen.
Times and days are in the reader's time zone. An overflow digest is the "N more stories"
message for a reader past the hourly alert limit who has no daily digest.
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
    local_time,
    plural,
    preheader,
    story_card,
    subject_line,
    text_part,
)
from newswatch.records import Digest, StoryView

CHART_DAYS = 14
BAR_PIXELS = 36  # the tallest bar; the others in proportion, a zero as a 2 px line


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
    def span(self) -> str:
        first, last = self.days[0], self.days[-1]
        end = f"{last:%b} {last.day}"
        return f"{first:%b} {first.day} – {end}" if first != last else end


def hits_chart(digest: Digest) -> Chart | None:
    """The chart over the digest's days, never past the local day its period ends in; None for
    an overflow message or when there are no days."""
    last = digest.period_end.astimezone(digest.zone).date()
    days = [day for day in digest.days if day <= last]
    if digest.overflow or not days:
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
                Bar(day, n, max(2, round(BAR_PIXELS * n / peak)) if n else 2)
                for day, n in zip(days, counts[title], strict=True)
            ],
        )
        for title in titles
    ]
    return Chart(days, rows, compact=len(days) == 1 or peak == 0)


def _day(digest: Digest) -> str:
    return digest.period_end.astimezone(digest.zone).strftime("%Y-%m-%d")


def _context(digest: Digest) -> dict[str, Any]:
    zone = digest.zone
    counts = " · ".join(f"{header_safe(title)} {n}" for title, n in digest.topic_counts)
    return {
        "digest": digest,
        "day": _day(digest),
        "period": (local_time(digest.period_start, zone), local_time(digest.period_end, zone)),
        "zone_name": digest.period_end.astimezone(zone).strftime("%Z"),
        "subscriber": header_safe(digest.subscriber),
        "count_line": counts,
        "cards": [story_card(story, zone) for story in rank(digest.stories)],
        "chart": hits_chart(digest),
        "footer": footer(digest.reader),
        "preheader": preheader(counts or "No stories hit your topics in this period."),
    }
