"""The daily digest email, pure: hits of the period grouped by topic, stories ranked, a small chart.

Stories rank by how many sources carried them, then by how recently they were first seen. The
chart (hits per topic per local day over the last days) is a PNG embedded by Content-ID, and the
plain-text part, which is also what Apprise channels get, says the same without it. Times and
days are in the digest's time zone, the one its readers wake up in.
"""

from __future__ import annotations

import html
import io
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from newswatch.delivery.messages.common import (
    fixed_message_id,
    header_safe,
    mark_spans,
    new_message,
    safe_link,
)
from newswatch.records import Digest, DigestStory

CHART_CID_DOMAIN = "newswatch.digest"
CHART_DAYS = 14


def chart_days(period_end: datetime, zone: ZoneInfo, count: int) -> list[date]:
    """The `count` local calendar days up to the one the period ends in, oldest first."""
    last = period_end.astimezone(zone).date()
    return [last - timedelta(days=n) for n in range(count - 1, -1, -1)]


def rank(stories: list[DigestStory]) -> list[DigestStory]:
    return sorted(stories, key=lambda s: (-len(s.sources), -s.first_seen.timestamp()))


def digest_message_id(digest: Digest, mail_from: str) -> str:
    """One Message-ID per subscriber and period, so a resent digest is recognisably the same."""
    key = f"{digest.subscriber}\n{digest.period_start.isoformat()}\n{digest.period_end.isoformat()}"
    return fixed_message_id("digest", key, mail_from, hex_chars=20)


def render_digest(
    digest: Digest, mail_from: str, now: datetime, unsubscribe: str | None = None
) -> EmailMessage:
    """The digest email; ValueError when a recipient or the sender is not a usable address."""
    msg = new_message(
        mail_from,
        digest.recipients,
        digest_title(digest),
        digest_message_id(digest, mail_from),
        now,
        unsubscribe,
    )
    msg.set_content(digest_text(digest))
    chart_cid = make_msgid(domain=CHART_CID_DOMAIN)
    msg.add_alternative(_html(digest, chart_cid[1:-1]), subtype="html")
    html_part = msg.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(hits_chart_png(digest), "image", "png", cid=chart_cid)
    return msg


def digest_title(digest: Digest) -> str:
    """The subject line, dated by the local day the period ends in."""
    day = digest.period_end.astimezone(digest.zone).strftime("%Y-%m-%d")
    return header_safe(
        f"[newswatch] Daily digest {day}: {digest.story_count} "
        f"{'story' if digest.story_count == 1 else 'stories'} in {len(digest.topics)} topic(s)"
    )


def hits_chart_png(digest: Digest) -> bytes:
    """Hits per topic per day as a small line chart."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.4), dpi=100)
    try:
        for topic, per_day in sorted(digest.daily_hits.items()):
            hits = [per_day.get(d, 0) for d in digest.days]
            ax.plot(range(len(digest.days)), hits, marker="o", label=topic)
        ax.set_ylabel("hits")
        ax.set_title(f"Hits per topic, last {len(digest.days)} days", fontsize=10)
        ax.tick_params(labelsize=7)
        ax.set_xticks(range(len(digest.days)), [d.strftime("%m-%d") for d in digest.days])
        if digest.daily_hits:
            ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def _when(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def digest_text(digest: Digest) -> str:
    """The plain-text part; chat and webhook channels get it as it is, without the chart."""
    lines = [
        f"newswatch daily digest for {digest.subscriber}",
        f"{_when(digest.period_start, digest.zone)} to {_when(digest.period_end, digest.zone)}",
        "",
    ]
    if not digest.topics:
        lines.append("No hits in this period.")
    for topic in digest.topics:
        lines += [f"== {topic.title} ({len(topic.stories)}) ==", ""]
        for story in rank(topic.stories):
            link = safe_link(story.url) or "(no link in the feed)"
            lines += [
                f"* {header_safe(story.title)}",
                f"  {len(story.sources)} source(s): {', '.join(header_safe(s) for s in story.sources)}"
                f" · first seen {_when(story.first_seen, digest.zone)}",
                f"  {link}",
                f"  {mark_spans(story.snippet, story.highlights, '[', ']', str)}",
                "",
            ]
    lines.append(
        "Hits per day: "
        + "; ".join(
            f"{topic}: {sum(per_day.values())}"
            for topic, per_day in sorted(digest.daily_hits.items())
        )
    )
    return "\n".join(lines) + "\n"


def _html(digest: Digest, chart_cid: str) -> str:
    esc = html.escape
    start, end = _when(digest.period_start, digest.zone), _when(digest.period_end, digest.zone)
    parts = [
        "<!doctype html><html><body>",
        f"<h2>newswatch daily digest</h2><p>{esc(start)} – {esc(end)}</p>",
    ]
    if not digest.topics:
        parts.append("<p>No hits in this period.</p>")
    for topic in digest.topics:
        parts.append(f"<h3>{esc(topic.title)} ({len(topic.stories)})</h3><ul>")
        for story in rank(topic.stories):
            link = safe_link(story.url)
            title = f'<a href="{esc(link)}">{esc(story.title)}</a>' if link else esc(story.title)
            sources = ", ".join(esc(s) for s in story.sources)
            parts.append(
                f"<li><b>{title}</b><br><small>{len(story.sources)} source(s): {sources} · "
                f"first seen {esc(_when(story.first_seen, digest.zone))}</small><br>"
                f"{mark_spans(story.snippet, story.highlights, '<mark>', '</mark>', esc)}</li>"
            )
        parts.append("</ul>")
    parts.append(f'<p><img src="cid:{esc(chart_cid)}" alt="Hits per topic per day"></p>')
    parts.append("</body></html>")
    return "".join(parts)
