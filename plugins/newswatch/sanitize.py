"""Strings and numbers from the web made safe once, at the edge, before any other code sees them.

PostgreSQL text cannot hold NUL, UTF-8 cannot carry lone surrogates, and C0 controls in a
title end up in email headers and terminals; every string from a feed, page or header passes
`clean_text` or `clean_line` with the bound of the column it lands in. Numbers from headers
and feed elements pass `clamp` (a `<ttl>` of 10**20 minutes overflowed timedelta).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# C0 controls except tab and newline, DEL, C1 controls, lone surrogates, and the non-characters
# U+FFFE/U+FFFF. A CR becomes a newline first (CRLF → LF), so text keeps its line breaks.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+")
_SPACES = re.compile(r"\s+")

# Bounds of what newswatch keeps from the outside: each is the column's size where the column
# is bounded, else a size no honest publisher reaches.
TITLE_CHARS = 1000
AUTHOR_CHARS = 512
GUID_CHARS = 2048
URL_CHARS = 2048
HEADER_CHARS = 1024  # ETag, Last-Modified and other header values we keep
TEXT_CHARS = 2_000_000  # article text, feed content and summary
LANGUAGE_CHARS = 20  # articles.language is String(20)
ERROR_CHARS = 1000

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{1,8}){0,3}")


def clean_text(value: Any, limit: int = TEXT_CHARS) -> str:
    """Multi-line text: controls (but tab and newline) and lone surrogates removed, cut at limit."""
    if not isinstance(value, str):
        return ""
    if value.isprintable() and len(value) <= limit:  # the common case costs one C-level scan
        return value
    return _UNSAFE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))[:limit]


def clean_line(value: Any, limit: int = TITLE_CHARS) -> str:
    """One line: clean_text, then every run of whitespace (newlines too) one space, trimmed."""
    text = clean_text(value, max(limit * 4, limit))
    return _SPACES.sub(" ", text).strip()[:limit]


def optional_line(value: Any, limit: int) -> str | None:
    """clean_line, with None for a missing or blank value."""
    return clean_line(value, limit) or None


def clean_language(value: Any) -> str | None:
    """A BCP 47-looking language tag in lower case (en, pt-br, zh-hant-tw), else None."""
    tag = clean_line(value, 64).lower().replace("_", "-")
    return tag if len(tag) <= LANGUAGE_CHARS and _LANGUAGE.fullmatch(tag) else None


def clamp(value: int | float, lowest: int | float, highest: int | float) -> int | float:
    """A number from outside kept within [lowest, highest]."""
    return min(max(value, lowest), highest)


def parse_int(value: Any, lowest: int, highest: int) -> int | None:
    """A non-negative decimal integer (digits only, any length) clamped to [lowest, highest];
    None when value is not one."""
    text = value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) > len(str(highest)):  # no need to build a 10,000-digit int to know it is big
        return highest
    return int(clamp(int(text), lowest, highest))


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 date or date-time from outside (a JSON Feed's date, trafilatura's YYYY-MM-DD)
    as an aware UTC datetime, a naive one taken as UTC; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip()[:64])
        return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)
    except (ValueError, OverflowError):  # year 9999 with a negative offset overflows
        return None


def clamp_published(published: datetime | None, now: datetime) -> datetime | None:
    """A date from the outside is never later than when we saw it: a feed dated 2100 must not
    pin its story to the top. The claimed date is kept apart (articles.claimed_published_at)."""
    if published is None or published <= now:
        return published
    return now
