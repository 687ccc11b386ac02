"""Pure rendering: records in, HTML out. Jinja2 escapes everything; the chart is SVG we draw."""

from __future__ import annotations

import itertools
from collections.abc import Sequence, Sized
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from newswatch.delivery.messages.common import mark_spans, safe_link
from newswatch.delivery.messages.layout import link, local_time
from newswatch.records import Match, TopicHit
from newswatch.store.reads import DailyHits
from newswatch.store.search import MARK_END, MARK_START
from newswatch.unsubscribe import ALERTS, digest_subscription
from newswatch.watchdog import KIND_LABELS

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE = 1000  # deeper pages only make PostgreSQL skip rows; filters narrow better

# Colour-blind-safe palette (Okabe–Ito), repeated when there are more topics.
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"]


def when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def safe_url(url: str) -> str:
    """Links from feeds are shown only when they are http(s): no javascript: or data: URLs."""
    return safe_link(url) or "#"


def link_or_none(url: str) -> str | None:
    """A link to render, or None: a story without an http(s) link shows no link at all."""
    return link(url) if url else None


def marked(hit: TopicHit | Match) -> Markup:
    """A match's snippet (a story's topic, or a rule editor's hit), escaped, with the matched
    terms in <mark>."""
    return Markup(mark_spans(hit.snippet, hit.highlights, "<mark>", "</mark>", escape))


def local(value: datetime | None, zone: str) -> str:
    """A time as the desk reads it: in NEWSWATCH_DIGEST_TIMEZONE, with the zone's name."""
    return "—" if value is None else local_time(value, ZoneInfo(zone))


# Where an article's text came from, in words (articles.text_source).
TEXT_FROM = {
    "page": "the page",
    "feed_content": "the feed's full text",
    "feed_summary": "the feed's summary",
    "title": "the title only",
}
# Delivery states in words (outbox rows).
STATES = {
    "pending": "waiting to be sent",
    "held": "held for the digest (hourly cap)",
    "sent": "sent",
    "digested": "sent in a digest",
    "failed": "failed",
    "cancelled": "cancelled",
}


# A poll's outcome in words (feeds.last_status is "<status> <HTTP code>").
POLL_WORDS = {
    "ok": "read",
    "not_modified": "unchanged since the last poll",
    "gone": "gone",
    "error": "failed",
}


def poll_status(status: str | None) -> str:
    """`unchanged since the last poll (HTTP 304)` for `not_modified 304`."""
    if not status:
        return "never polled"
    word, _, code = status.partition(" ")
    said = POLL_WORDS.get(word, word.replace("_", " "))
    return f"{said} (HTTP {code})" if code.isdigit() else said


def with_topic(pager: Pager, topic: str) -> str:
    """A topic chip's link: the list's other filters kept, the topic set, back to page one."""
    kept = [(name, value) for name, value in pager.keep if name not in ("topic", "page")]
    return "?" + urlencode([*kept, ("topic", topic)])


def alerted_line(alerts: dict[str, int], told: Sequence[str] = ()) -> str:
    """`Alerted to desk@example.com, analyst@example.com · 1 waiting to be sent` (past three
    readers, their number): whether, to whom and how the story went out."""
    if not alerts:
        return "Not alerted"
    count = alerts.get("sent", 0) + alerts.get("digested", 0)
    who = [reader.removeprefix("email:") for reader in told]
    named = ", ".join(who) if 0 < len(who) <= 3 else f"{count} readers"
    parts = [f"Alerted to {named}"] if count else []
    parts += [
        f"{n} {STATES.get(state, state)}"
        for state, n in sorted(alerts.items())
        if state not in ("sent", "digested")
    ]
    return " · ".join(parts)


def masked_reader(reader: str) -> str:
    """Whom an unsubscribe page names, without giving the address away to whoever holds the
    link: email:analyst@example.com is a•••@example.com."""
    channel, _, rest = reader.partition(":")
    if channel == "email":
        local, at, domain = rest.rpartition("@")
        return f"{local[:1]}•••{at}{domain}" if at else "•••"
    if channel == "apprise":
        return f"the {rest} channel"
    if channel == "webhook":
        return f"the {rest} webhook"
    return "•••"


def subscription_label(subscription: str) -> str:
    """What leaving a subscription stops, in words."""
    digest = digest_subscription("")
    if subscription == ALERTS:
        return "all immediate alerts"
    if subscription.startswith(digest):
        return f"the daily digest {subscription.removeprefix(digest)}"
    return subscription


def highlight(headline: str) -> Markup:
    """Escape a ts_headline fragment from feed text, then mark the hits."""
    escaped = str(escape(headline))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


@dataclass(frozen=True)
class Pager:
    """Which slice of a listing a page shows, and links to its neighbours that keep the filters."""

    number: int  # 1-based
    size: int
    keep: tuple[tuple[str, str], ...] = ()  # the request's non-empty filters
    has_next: bool = False

    @classmethod
    def of(cls, number: int, size: int, keep: dict[str, str | None]) -> Pager:
        """A pager for ?page=number&size=size, both clamped to sane values."""
        filters = tuple((name, value) for name, value in keep.items() if value)
        return cls(max(number, 1), min(max(size, 1), MAX_PAGE_SIZE), filters)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def fetch(self) -> int:
        """Rows to ask for: one more than a page, to learn whether a next page exists."""
        return self.size + 1

    def after(self, *fetched: Sized) -> Pager:
        """This pager, knowing from rows fetched with `fetch` whether a next page exists."""
        return replace(self, has_next=any(len(rows) > self.size for rows in fetched))

    def link(self, number: int) -> str:
        """A query-only link: relative to the page it is on, so it holds wherever Airflow mounts
        the dashboard (a sub-path such as /airflow/newswatch/ included)."""
        params = list(self.keep)
        if self.size != PAGE_SIZE:
            params.append(("size", str(self.size)))
        if number > 1:
            params.append(("page", str(number)))
        return "?" + urlencode(params)


def sparkline_svg(counts: Sequence[int], width: int = 112, height: int = 24) -> Markup:
    """A feed's items per day as small bars, the last day on the right; a day without items is
    a thin baseline mark, so a gap shows as a gap. Presentation attributes only (CSP)."""
    if not counts:
        return Markup("")
    peak = max(1, *counts)
    slot = width / len(counts)
    total = sum(counts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="spark">',
        f"<title>{total} items in {len(counts)} days; {counts[-1]} in the last day</title>",
    ]
    # The empty days since the last item: what a quiet feed looks like, so they stand out.
    silent = len(counts) - len(list(itertools.takewhile(lambda c: c == 0, reversed(counts))))
    for i, count in enumerate(counts):
        bar = max(1.0, (height - 2) * count / peak) if count else 2.0
        colour = "#017cee" if count else "#d55e00" if i >= silent and total else "#c8c8c8"
        parts.append(
            f'<rect x="{i * slot + 0.5:.1f}" y="{height - bar:.1f}" width="{slot - 1:.1f}" '
            f'height="{bar:.1f}" fill="{colour}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("newswatch.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["safe_url"] = safe_url
    env.filters["highlight"] = highlight
    env.filters["marked"] = marked
    env.filters["sparkline"] = sparkline_svg
    env.filters["link"] = link_or_none
    env.filters["local"] = local
    env.filters["alerted"] = alerted_line
    env.filters["poll_status"] = poll_status
    env.filters["with_topic"] = with_topic
    env.globals["TEXT_FROM"] = TEXT_FROM
    env.globals["STATES"] = STATES
    env.globals["KIND_LABELS"] = KIND_LABELS
    return env


_ENV = _environment()


def page(template: str, **context: Any) -> str:
    """One dashboard page; `context` holds records from reads.py and the request's filters, and
    `embedded` whether Airflow's UI frames it."""
    return _ENV.get_template(template).render({"embedded": False} | context)


def chart_svg(hits: DailyHits, width: int = 760, height: int = 280) -> Markup:
    """Grouped bars, one colour per topic, one group per day; drawn with presentation attributes
    only (no inline CSS), so a strict Content-Security-Policy applies."""
    left, right, top, bottom = 40, 170, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *(n for counts in hits.topics.values() for n in counts)])
    slot = plot_w / max(len(hits.days), 1)
    bar = slot * 0.8 / max(len(hits.topics), 1)

    def y(n: int) -> float:
        return top + plot_h * (1 - n / peak)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="chart-title">',
        '<title id="chart-title">Hits per topic per day</title>',
    ]
    for tick in sorted({0, peak // 2, peak}):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#555">{tick}</text>'
        )
    for i, day in enumerate(hits.days):
        if (len(hits.days) - 1 - i) % 2 == 0:  # every other day, ending on the last
            parts.append(
                f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - bottom + 18}" '
                f'text-anchor="middle" font-size="11" fill="#555">{day:%m-%d}</text>'
            )
    for n, (topic, counts) in enumerate(hits.topics.items()):
        colour = PALETTE[n % len(PALETTE)]
        name = escape(hits.titles.get(topic, topic))  # the legend and tooltips show titles
        parts.append(f'<g class="series" data-topic="{escape(topic)}">')
        for i, count in enumerate(counts):
            if count:
                x = left + slot * (i + 0.1) + bar * n
                parts.append(
                    f'<rect class="bar" x="{x:.1f}" y="{y(count):.1f}" width="{bar:.1f}" '
                    f'height="{top + plot_h - y(count):.1f}" fill="{colour}">'
                    f"<title>{name} {hits.days[i]:%Y-%m-%d}: {count}</title></rect>"
                )
        legend_y = top + 16 * n
        parts.append(
            f'<rect x="{left + plot_w + 16}" y="{legend_y}" width="12" height="12" '
            f'fill="{colour}"/><text x="{left + plot_w + 34}" y="{legend_y + 10}" '
            f'font-size="12" fill="#222">{name}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
