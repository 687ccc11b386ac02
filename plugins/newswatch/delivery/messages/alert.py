"""The alert email, pure: one story that hit one topic, every feed string escaped or made
header-safe, with a Message-ID fixed per alert so a resend after a crash is the same message."""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage

from newswatch.delivery.messages.common import (
    SUBJECT_CHARS,
    fixed_message_id,
    header_safe,
    mark_spans,
    new_message,
    safe_link,
)
from newswatch.records import AlertView


def message_id(view: AlertView, mail_from: str) -> str:
    """Deterministic per alert, so a repeat after a crash is recognisable as the same message."""
    return fixed_message_id(f"alert.{view.alert_id}", f"{view.url}\n{view.topic}", mail_from)


def render_alert(
    view: AlertView, mail_from: str, now: datetime, unsubscribe: str | None = None
) -> EmailMessage:
    """The alert email; ValueError when a recipient or the sender is not a usable address."""
    subject = header_safe(f"[newswatch] {view.topic_title}: {view.title}")[:SUBJECT_CHARS]
    ours = {"X-Newswatch-Topic": header_safe(view.topic), "X-Newswatch-Alert": str(view.alert_id)}
    msg = new_message(
        mail_from, view.recipients, subject, message_id(view, mail_from), now, unsubscribe, ours
    )
    msg.set_content(_plain(view))
    msg.add_alternative(_html(view), subtype="html")
    return msg


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
