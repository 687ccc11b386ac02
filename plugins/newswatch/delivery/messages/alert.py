"""The alert email, pure: one story for one reader with every topic it hit for them (an
"update" tells only of topics it hit since), rendered from templates/alert.{html,txt}, with a
Message-ID fixed per story, reader and kind so a resend after a crash is the same message, and
an update threaded under the alert it follows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from newswatch.delivery.messages.common import fixed_message_id, header_safe, new_message
from newswatch.delivery.messages.layout import (
    UNTITLED,
    clock_time,
    footer,
    html_part,
    plural,
    preheader,
    story_card,
    subject_line,
    text_part,
    topic_label,
)
from newswatch.records import AlertView


def message_id(view: AlertView, mail_from: str) -> str:
    """Deterministic per story, reader and kind, so a repeat after a crash is recognisable. A
    story can have several updates for one reader, so an update's key holds its alert too."""
    key = f"{view.story.story_id}\n{view.reader.key}\n{view.kind}"
    if view.kind == "update":
        key += f"\n{view.alert_id}"
    return fixed_message_id(view.kind, key, mail_from)


def alert_subject(view: AlertView) -> str:
    """`[newswatch] Taiwan · Tariffs · Rare earths +2: <title>`; an update says so first."""
    topics = topic_label([hit.title for hit in view.story.topics])
    label = " · ".join(part for part in ("Update" if view.kind == "update" else "", topics) if part)
    title = header_safe(view.story.title) or UNTITLED
    return subject_line(f"{label}: {title}" if label else title)


def alert_text(view: AlertView) -> tuple[str, str]:
    """The subject and the plain text: the email's plain part, and what chat channels get."""
    return alert_subject(view), text_part("alert.txt", **_context(view))


def render_alert(view: AlertView, mail_from: str, now: datetime) -> EmailMessage:
    """The alert email; ValueError when a recipient or the sender is not a usable address."""
    subject, context = alert_subject(view), _context(view)
    ours = {
        "X-Newswatch-Topic": header_safe(", ".join(hit.name for hit in view.story.topics)),
        "X-Newswatch-Alert": str(view.alert_id),
    }
    if view.kind == "update":  # mail clients thread it under the alert the reader already has
        original = message_id(replace(view, kind="alert"), mail_from)
        ours |= {"In-Reply-To": original, "References": original}
    msg = new_message(
        mail_from,
        view.reader.recipients,
        subject,
        message_id(view, mail_from),
        now,
        view.reader.links,
        ours,
    )
    msg.set_content(text_part("alert.txt", **context))
    msg.add_alternative(html_part("alert.html", subject=subject, **context), subtype="html")
    return msg


def _context(view: AlertView) -> dict[str, Any]:
    card = story_card(view.story, view.reader.zone)
    topics = topic_label([hit.title for hit in card.topics], ", ")
    return {
        "update": view.kind == "update",
        "card": card,
        "footer": footer(view.reader),
        # Not the title or a snippet: the subject shows those already in the inbox.
        "preheader": preheader(
            f"Now also {topics}" if view.kind == "update" and topics else topics,
            plural(len(card.outlets), "outlet") if card.outlets else "",
            f"first seen {clock_time(view.story.first_seen, view.reader.zone)}",
        ),
    }
