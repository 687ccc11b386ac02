"""The webhook body, pure: one JSON object per alert, follow-up or digest (version 1, shown in
README "Webhooks"), built from the records the email is rendered from. Its idempotency key is
the email's Message-ID without the angle brackets: fixed per story, reader and kind (per
reader and period for a digest), so a retry or a rerun carries the same key."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from newswatch.config.models import WEBHOOK_CHANNEL_PREFIX
from newswatch.delivery.messages.alert import message_id
from newswatch.delivery.messages.common import safe_link
from newswatch.delivery.messages.digest import digest_message_id
from newswatch.records import AlertView, Digest, ReaderView, StoryView

VERSION = 1


def alert_event(view: AlertView, mail_from: str, now: datetime) -> dict[str, Any]:
    """An "alert", or an "update" naming only the topics the story hit since, with the key of
    the alert it follows."""
    event = _envelope(view.kind, message_id(view, mail_from), view.reader, now)
    if view.kind == "update":
        event["follows"] = _key(message_id(replace(view, kind="alert"), mail_from))
    return event | {"story": story_json(view.story)}


def digest_event(view: Digest, mail_from: str, now: datetime) -> dict[str, Any]:
    """A "digest" of the period's stories, ranked as in the email; with `overflow`, the stories
    held past the hourly cap instead."""
    return _envelope("digest", digest_message_id(view, mail_from), view.reader, now) | {
        "overflow": view.overflow,
        "period": {"start": _utc(view.period_start), "end": _utc(view.period_end)},
        "stories": [story_json(story) for story in view.stories],
    }


def story_json(story: StoryView) -> dict[str, Any]:
    """A story as a receiver gets it: times in UTC ISO 8601, links only when http(s), each
    topic with its matched terms, snippet and highlight spans [start, end) in the snippet."""
    topics = [
        {
            "name": hit.name,
            "title": hit.title,
            "terms": dict(hit.terms),
            "snippet": hit.snippet,
            "highlights": [[start, end] for start, end in hit.highlights],
        }
        for hit in story.topics
    ]
    return {
        "id": story.story_id,
        "title": story.title,
        "url": safe_link(story.url),
        "first_seen": _utc(story.first_seen),
        "published_at": _utc(story.published_at) if story.published_at else None,
        "text_source": story.text_source,
        "outlets": [{"name": o.name, "url": safe_link(o.url)} for o in story.outlets],
        "topics": topics,
        "snippet": topics[0]["snippet"] if topics else "",
    }


def body_bytes(event: dict[str, Any]) -> bytes:
    """The bytes that are signed and sent: compact UTF-8 JSON. A lone surrogate, which UTF-8
    cannot hold, becomes "?" rather than keeping the message from ever going."""
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="replace")


def _envelope(event: str, msgid: str, reader: ReaderView, now: datetime) -> dict[str, Any]:
    return {
        "version": VERSION,
        "event": event,
        "idempotency_key": _key(msgid),
        "sent_at": _utc(now),
        "subscriber": reader.key.removeprefix(WEBHOOK_CHANNEL_PREFIX),
    }


def _key(msgid: str) -> str:
    return msgid.strip("<>")


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
