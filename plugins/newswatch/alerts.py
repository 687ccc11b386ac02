"""Alert emails: what one shows (AlertView) and how it is rendered (pure, every feed string escaped)."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
SUBJECT_CHARS = 180


@dataclass(frozen=True)
class AlertView:
    alert_id: int
    topic: str
    topic_title: str
    recipients: list[str]
    title: str
    url: str
    source: str
    published_at: datetime | None
    terms: dict[str, int]
    snippet: str
    highlights: list[tuple[int, int]]
    text_source: str
    copies: list[tuple[str, str]] = field(default_factory=list)  # (outlet, url) of every copy


def message_id(view: AlertView, mail_from: str) -> str:
    """Deterministic per alert, so a repeat after a crash is recognisable as the same message."""
    digest = hashlib.sha256(f"{view.url}\n{view.topic}".encode()).hexdigest()[:16]
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "newswatch.invalid"
    return f"<alert.{view.alert_id}.{digest}@{domain}>"


def render_alert(
    view: AlertView, mail_from: str, now: datetime, unsubscribe: str | None = None
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = ", ".join(header_safe(r) for r in view.recipients)
    msg["Subject"] = header_safe(f"[newswatch] {view.topic_title}: {view.title}")[:SUBJECT_CHARS]
    msg["Message-ID"] = message_id(view, mail_from)
    msg["X-Newswatch-Topic"] = header_safe(view.topic)
    msg["X-Newswatch-Alert"] = str(view.alert_id)
    msg["Date"] = format_datetime(now)
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{header_safe(unsubscribe)}>"
    msg.set_content(_plain(view))
    msg.add_alternative(_html(view), subtype="html")
    return msg


def header_safe(value: str) -> str:
    """One line: CR, LF and other control characters cannot add headers or recipients."""
    return " ".join(_CONTROL.sub(" ", value).split())


def safe_link(url: str) -> str | None:
    return url if urlsplit(url).scheme in ("http", "https") else None


def _terms(view: AlertView) -> str:
    return ", ".join(f"{term} ×{count}" for term, count in sorted(view.terms.items()))


def _when(view: AlertView) -> str:
    return view.published_at.strftime("%Y-%m-%d %H:%M UTC") if view.published_at else "date unknown"


def _plain(view: AlertView) -> str:
    marked = mark_spans(view.snippet, view.highlights, "[", "]", lambda s: s)
    link = safe_link(view.url) or "(no link in the feed)"
    lines = [
        f"Topic: {view.topic_title}",
        f"Title: {header_safe(view.title)}",
        f"Source: {header_safe(view.source)}",
        f"Published: {_when(view)}",
        f"Link: {link}",
        f"Matched: {_terms(view)}",
        "",
        marked,
    ]
    if len(view.copies) > 1:
        lines += ["", f"Carried by {len(view.copies)} sources:"]
        lines += [
            f"  - {header_safe(outlet)}: {safe_link(url) or url}" for outlet, url in view.copies
        ]
    if view.text_source != "page":
        lines += [
            "",
            f"(Text taken from the feed's {view.text_source.replace('feed_', '')}: the page could not be read.)",
        ]
    return "\n".join(lines) + "\n"


def _html(view: AlertView) -> str:
    esc = html.escape
    marked = mark_spans(view.snippet, view.highlights, "<mark>", "</mark>", esc)
    link = safe_link(view.url)
    title = f'<a href="{esc(link)}">{esc(view.title)}</a>' if link else esc(view.title)
    note = ""
    if len(view.copies) > 1:
        items = "".join(
            f'<li>{esc(outlet)}: <a href="{esc(link)}">{esc(link)}</a></li>'
            if (link := safe_link(url))
            else f"<li>{esc(outlet)}</li>"
            for outlet, url in view.copies
        )
        note += f"<p>Carried by {len(view.copies)} sources:</p><ul>{items}</ul>"
    if view.text_source != "page":
        note += f"<p><small>Text taken from the feed's {esc(view.text_source.replace('feed_', ''))}: the page could not be read.</small></p>"
    return (
        "<!doctype html><html><body>"
        f"<p><small>newswatch · topic <b>{esc(view.topic_title)}</b></small></p>"
        f"<h2>{title}</h2>"
        f"<p>{esc(view.source)} · {esc(_when(view))}</p>"
        f"<blockquote>{marked}</blockquote>"
        f"<p>Matched: {esc(_terms(view))}</p>{note}"
        "</body></html>"
    )


def mark_spans(
    text: str, spans: list[tuple[int, int]], left: str, right: str, esc: Callable[[str], str]
) -> str:
    out: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor or end > len(text):
            continue
        out += [esc(text[cursor:start]), left, esc(text[start:end]), right]
        cursor = end
    out.append(esc(text[cursor:]))
    return "".join(out)
