"""The operator's daily feed-watch message, pure: the watchdog's new and resolved findings
(watchdog.py), from the report stored with its notice, as an email and as chat text. Its
Message-ID is fixed per day, so a resend after a crash is the same message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from newswatch.delivery.messages.common import fixed_message_id, header_safe, new_message
from newswatch.delivery.messages.layout import (
    Footer,
    html_part,
    link,
    plural,
    preheader,
    subject_line,
    text_part,
)
from newswatch.watchdog import KIND_LABELS

REPORT_KIND = "watch"  # notices.details["kind"] of a feed-watch report


@dataclass(frozen=True)
class Line:
    """One finding as the message shows it."""

    feed: str
    label: str
    reason: str
    since: str  # "2026-12-04 09:15 UTC"
    resolved: str | None


def watch_key(day: str) -> str:
    """One report a day, however many runs try to queue it."""
    return f"{REPORT_KIND}\n{day}"


def watch_message_id(report: Mapping[str, Any], mail_from: str) -> str:
    return fixed_message_id(REPORT_KIND, str(report["day"]), mail_from)


def watch_subject(report: Mapping[str, Any]) -> str:
    """`[newswatch] Feed watch: 2 new problems, 1 resolved`."""
    opened, resolved = len(report["opened"]), len(report["resolved"])
    parts = [plural(opened, "new problem")] if opened else []
    parts += [f"{resolved} resolved"] if resolved else []
    return subject_line(f"Feed watch: {', '.join(parts) or 'no change'}")


def watch_text(report: Mapping[str, Any]) -> tuple[str, str]:
    """The subject and the plain text: the email's plain part, and what chat channels get."""
    return watch_subject(report), text_part("watch.txt", **_context(report))


def watch_email(
    report: Mapping[str, Any], mail_from: str, to: Sequence[str], now: datetime
) -> EmailMessage:
    subject, context = watch_subject(report), _context(report)
    msg = new_message(mail_from, list(to), subject, watch_message_id(report, mail_from), now)
    msg.set_content(text_part("watch.txt", **context))
    msg.add_alternative(html_part("watch.html", subject=subject, **context), subtype="html")
    return msg


def _lines(rows: Sequence[Mapping[str, Any]]) -> list[Line]:
    return [
        Line(
            feed=header_safe(str(row["feed"])),
            label=KIND_LABELS.get(str(row["kind"]), str(row["kind"])),
            reason=header_safe(str(row["reason"])),
            since=_minute(row["since"]),
            resolved=_minute(row["resolved"]) if row.get("resolved") else None,
        )
        for row in rows
    ]


def _minute(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _context(report: Mapping[str, Any]) -> dict[str, Any]:
    opened, resolved = _lines(report["opened"]), _lines(report["resolved"])
    still = int(report.get("still_open", 0))
    health = link(str(report["health_url"])) if report.get("health_url") else None
    return {
        "day": str(report["day"]),
        "opened": opened,
        "resolved": resolved,
        "still_open": still,
        "health": health,
        "footer": Footer(
            why="you are this newswatch's operator (NEWSWATCH_OPERATOR_EMAIL or "
            "NEWSWATCH_OPERATOR_APPRISE_ENV); one message a day at most, none without change",
            dashboard=health,
            unsubscribe=None,
            unsubscribe_label="",
        ),
        "preheader": preheader(
            ", ".join(f"{line.feed}: {line.label.lower()}" for line in opened),
            f"resolved: {', '.join(line.feed for line in resolved)}" if resolved else "",
        ),
    }
