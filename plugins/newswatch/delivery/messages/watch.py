"""The operator's daily feed-watch message, pure: the watchdog's new and resolved findings
(watchdog.py), from the report stored with its notice, as an email and as chat text. Its
Message-ID is fixed per day, so a resend after a crash is the same message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from newswatch.delivery.messages.common import fixed_message_id, header_safe, new_message
from newswatch.delivery.messages.layout import (
    TOPICS_IN_SUBJECT,
    Footer,
    html_part,
    link,
    local_time,
    plural,
    preheader,
    short_label,
    subject_line,
    text_part,
    topic_label,
)
from newswatch.watchdog import KIND_LABELS

REPORT_KIND = "watch"  # notices.details["kind"] of a feed-watch report
REPORT_LINES = 30  # findings listed of each section; the rest are counted, and on feed health


@dataclass(frozen=True)
class Line:
    """One finding as the message shows it."""

    feed: str
    label: str
    reason: str
    since: str  # when the watchdog noticed it, in the operator's zone: "2026-12-04 09:15 JST"
    resolved: str | None


def watch_key(day: str) -> str:
    """One report a day, however many runs try to queue it."""
    return f"{REPORT_KIND}\n{day}"


def watch_message_id(report: Mapping[str, Any], mail_from: str) -> str:
    return fixed_message_id(REPORT_KIND, str(report["day"]), mail_from)


def watch_subject(report: Mapping[str, Any]) -> str:
    """What changed, naming the feeds: `[newswatch] Feed watch: Asia Wire gone quiet; 1
    resolved`, `… Feed watch: 3 new problems (Kyodo, Nikkei Asia, Asia Wire); 1 resolved`."""
    opened = report["opened"]
    opened_count, resolved_count = _counts(report)
    parts = []
    if opened_count == 1:
        parts.append(f"{opened[0]['feed']} {_label(opened[0]['kind']).lower()}")
    elif opened:
        names = list(dict.fromkeys(str(row["feed"]) for row in opened))
        feeds = topic_label(names[:TOPICS_IN_SUBJECT], ", ")
        more = int(report.get("feeds_opened", len(names))) - TOPICS_IN_SUBJECT
        parts.append(
            f"{plural(opened_count, 'new problem')} ({feeds}{f' +{more}' if more > 0 else ''})"
        )
    if resolved_count:
        parts.append(f"{resolved_count} resolved")
    return subject_line(f"Feed watch: {'; '.join(parts) or 'no change'}")


def _counts(report: Mapping[str, Any]) -> tuple[int, int]:
    """How many findings opened and resolved, listed or not."""
    return (
        int(report.get("opened_count", len(report["opened"]))),
        int(report.get("resolved_count", len(report["resolved"]))),
    )


def _label(kind: object) -> str:
    return KIND_LABELS.get(str(kind), str(kind))


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


def _lines(rows: Sequence[Mapping[str, Any]], zone: ZoneInfo) -> list[Line]:
    return [
        Line(
            feed=header_safe(str(row["feed"])),
            label=_label(row["kind"]),
            reason=_sentence(header_safe(str(row["reason"]))),
            since=local_time(datetime.fromisoformat(row["since"]), zone),
            resolved=(
                local_time(datetime.fromisoformat(row["resolved"]), zone)
                if row.get("resolved")
                else None
            ),
        )
        for row in rows
    ]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _context(report: Mapping[str, Any]) -> dict[str, Any]:
    zone = ZoneInfo(str(report.get("zone") or "UTC"))
    opened, resolved = _lines(report["opened"], zone), _lines(report["resolved"], zone)
    opened_count, resolved_count = _counts(report)
    still = int(report.get("still_open", 0))
    health = link(str(report["health_url"])) if report.get("health_url") else None
    return {
        "day": str(report["day"]),
        "opened": opened,
        "resolved": resolved,
        "opened_count": opened_count,
        "resolved_count": resolved_count,
        "more_opened": opened_count - len(opened),
        "more_resolved": resolved_count - len(resolved),
        "still_open": still,
        "before": max(0, still - opened_count),
        "health": health,
        "footer": Footer(
            why="you run this newswatch. At most one message a day, and only when something "
            "changes",
            dashboard=None,  # the button above goes there already
            unsubscribe=None,
            unsubscribe_label="",
        ),
        "preheader": preheader(
            f"{opened_count} new: " + ", ".join(short_label(line.feed) for line in opened[:5])
            if opened
            else "",
            f"{resolved_count} resolved: "
            + ", ".join(short_label(line.feed) for line in resolved[:5])
            if resolved
            else "",
        ),
    }
