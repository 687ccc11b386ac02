"""Parse feed bytes (RSS, Atom with feedparser; JSON Feed by hand) into clean, bounded FeedItems,
and find the feeds a web page links. Fetching them is poll.py's job."""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
import lxml.etree
import lxml.html

from newswatch.records import FeedItem
from newswatch.sanitize import (
    AUTHOR_CHARS,
    GUID_CHARS,
    TITLE_CHARS,
    clean_line,
    clean_text,
    optional_line,
    parse_datetime,
    parse_int,
)
from newswatch.urls import canonical_url, parse_url

MAX_ITEMS = 2000
MAX_PERSON_CHARS = AUTHOR_CHARS
MAX_TTL_MINUTES = 366 * 24 * 60  # a <ttl> beyond a year means "rarely"; the schedule caps it lower
# Elements feedparser runs its author/e-mail regexes on; those regexes are quadratic in length.
_PERSON = re.compile(
    rb"(<(?:[\w-]+:)?(?:author|creator|managingEditor|webMaster|name|email|contributor|publisher)\b[^>]*>)"
    rb"([^<]{%d})[^<]*" % MAX_PERSON_CHARS,
    re.IGNORECASE,
)


# Numeric character references to what no text may hold (NUL and other C0 controls, surrogates,
# beyond U+10FFFF): feedparser raised UnicodeEncodeError on one &#xD800; and lost the whole feed.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _drop_bad_charref(found: re.Match[bytes]) -> bytes:
    hexa, decimal = found.groups()
    code = int(hexa, 16) if hexa else int(decimal)
    bad = code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or (code < 0x20 and code not in (9, 10, 13))
    return b"" if bad else found.group(0)


def drop_bad_charrefs(body: bytes) -> bytes:
    return _CHARREF.sub(_drop_bad_charref, body) if b"&#" in body else body


class FeedParseError(Exception):
    """The bytes are not a feed feedparser can read."""


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    items: list[FeedItem]
    ttl_minutes: int | None
    warning: str | None
    empty: int = 0  # items skipped for having no title, no link and no text


def _kept(items: list[FeedItem]) -> tuple[list[FeedItem], list[str], int]:
    """The items that say something, the warning for those that do not, and how many: an item
    with no title, no link and no text (a malformed feed yields one) is no article."""
    kept = [item for item in items if item.title or item.link or item.summary or item.content]
    empty = len(items) - len(kept)
    noun = "item" if empty == 1 else "items"
    warning = [f"skipped {empty} empty {noun} (no title, link or text)"] if empty else []
    return kept, warning, empty


# Encoding mismatches feedparser fixes by itself (a cp1252 body declared UTF-8) are not worth a warning.
_HARMLESS = (feedparser.CharacterEncodingOverride,)


def parse_feed(
    feed_id: int, body: bytes, base_url: str, headers: Mapping[str, str] | None = None
) -> ParsedFeed:
    """Parse feed bytes (never a URL: feedparser would fetch it itself, with no timeout)."""
    content_type = (headers or {}).get("content-type", "").lower()
    if "json" in content_type or body.lstrip()[:1] == b"{":
        return parse_json_feed(feed_id, body, base_url)
    response_headers = {"content-location": base_url}
    if headers and headers.get("content-type"):
        response_headers["content-type"] = headers["content-type"]
    # Feed HTML is reduced to plain text by newswatch itself (extract.plain_text), so
    # feedparser's sanitiser and its relative-URI rewriting of that HTML are wasted work.
    parsed = feedparser.parse(
        drop_bad_charrefs(cap_person_fields(body)),
        response_headers=response_headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no feed found"
        found = discover_feeds(body, base_url)
        if found:
            reason = (
                f"this is a web page; it links the feed {found[0]} (newswatch feeds discover URL)"
            )
        raise FeedParseError(f"not a readable feed: {reason}")
    title = optional_line(parsed.feed.get("title"), TITLE_CHARS)
    items, skipped, empty = _kept(
        [_item(feed_id, entry, base_url) for entry in parsed.entries[:MAX_ITEMS]]
    )
    warnings = []
    if parsed.bozo and not isinstance(parsed.get("bozo_exception"), _HARMLESS):
        warnings.append(f"recovered from a malformed feed: {parsed.bozo_exception}")
    warnings += skipped + _cut_warning(len(parsed.entries))
    return ParsedFeed(
        title=title,
        items=items,
        ttl_minutes=_ttl(parsed.feed.get("ttl")),
        warning=clean_line("; ".join(warnings), 1000) or None,
        empty=empty,
    )


def _cut_warning(count: int) -> list[str]:
    if count <= MAX_ITEMS:
        return []
    return [f"the feed lists {count} items; only the first {MAX_ITEMS} were read"]


FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
)


def discover_feeds(body: bytes, base_url: str) -> list[str]:
    """Feed URLs an HTML page announces with <link rel="alternate" type="...">, in page order."""
    try:
        doc = lxml.html.fromstring(body)
    except (lxml.etree.ParserError, ValueError):
        return []
    found = []
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "alternate" in rels and (link.get("type") or "").lower().strip() in FEED_TYPES:
            url = canonical_url(link.get("href") or "", base_url)
            if url and url not in found:
                found.append(url)
    return found


def parse_json_feed(feed_id: int, body: bytes, base_url: str) -> ParsedFeed:
    """JSON Feed 1.0 / 1.1 (jsonfeed.org), which feedparser does not read."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"not a readable feed: invalid JSON: {exc}") from None
    if not isinstance(data, dict) or "jsonfeed.org/version" not in str(data.get("version", "")):
        raise FeedParseError("not a readable feed: JSON without a jsonfeed.org version")
    raw_items = data.get("items")
    entries: list[Any] = raw_items if isinstance(raw_items, list) else []
    items, warnings, empty = _kept(
        [_json_item(feed_id, e, base_url) for e in entries[:MAX_ITEMS] if isinstance(e, dict)]
    )
    return ParsedFeed(
        title=optional_line(data.get("title"), TITLE_CHARS),
        items=items,
        ttl_minutes=None,
        warning="; ".join(warnings + _cut_warning(len(entries))) or None,
        empty=empty,
    )


def _json_item(feed_id: int, entry: dict[str, Any], base_url: str) -> FeedItem:
    candidates = [entry.get("url"), entry.get("external_url")]
    raw_authors = entry.get("authors")
    authors: list[Any] = raw_authors if isinstance(raw_authors, list) else [entry.get("author")]
    names = [_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return _feed_item(
        feed_id,
        base_url,
        links=[c for c in candidates if isinstance(c, str)],
        guid=_text(entry.get("id"))
        or (str(entry["id"]) if isinstance(entry.get("id"), int) else ""),
        title=_text(entry.get("title")),
        author=", ".join(names),
        published_at=parse_datetime(entry.get("date_published") or entry.get("date_modified")),
        summary=_text(entry.get("summary")),
        content=_text(entry.get("content_html")) or _text(entry.get("content_text")),
    )


def _feed_item(
    feed_id: int,
    base_url: str,
    *,
    links: list[Any],
    guid: Any,
    title: Any,
    author: Any,
    published_at: datetime | None,
    summary: Any,
    content: Any,
) -> FeedItem:
    """The one place a feed entry becomes a FeedItem: every string cleaned and bounded, the
    link parsed once (refused links are kept as the reason, and the feed's text stands in)."""
    link, refused = None, None
    for candidate in links:
        if not candidate:
            continue
        parsed = parse_url(candidate, base_url)
        if parsed.url:
            link, refused = parsed.url, None
            break
        refused = refused or parsed.refused
    clean_guid = optional_line(guid, GUID_CHARS)
    clean_title = clean_line(title, TITLE_CHARS)
    clean_summary = clean_text(summary)
    clean_content = clean_text(content)
    return FeedItem(
        feed_id=feed_id,
        url=link or _pseudo_url(feed_id, clean_guid, clean_title, clean_summary + clean_content),
        link=link,
        guid=clean_guid,
        title=clean_title,
        author=optional_line(author, AUTHOR_CHARS),
        published_at=published_at,
        summary=clean_summary,
        content=clean_content,
        link_refused=f"link refused: {refused}" if refused else None,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def cap_person_fields(body: bytes) -> bytes:
    """Cut author, name and e-mail elements to MAX_PERSON_CHARS before feedparser sees them."""
    return _PERSON.sub(rb"\1\2", body)


def _item(feed_id: int, entry: Any, base_url: str) -> FeedItem:
    content = " ".join(_text(part.get("value")) for part in entry.get("content", []))
    return _feed_item(
        feed_id,
        base_url,
        links=_links(entry),
        guid=entry.get("id"),
        title=entry.get("title"),
        author=entry.get("author"),
        published_at=_utc(entry.get("published_parsed") or entry.get("updated_parsed")),
        summary=entry.get("summary"),
        content=content,
    )


def _links(entry: Any) -> list[Any]:
    """The entry's candidate article links, best first."""
    candidates = [entry.get("link")]
    candidates += [
        link.get("href")
        for link in entry.get("links", [])
        if link.get("rel") in (None, "alternate")
    ]
    guid = entry.get("id")
    if guid and entry.get("guidislink", True):
        candidates.append(guid)
    return candidates


def _ttl(value: Any) -> int | None:
    """RSS <ttl>: minutes the feed asks clients to cache it, at most a year."""
    minutes = parse_int(value, 0, MAX_TTL_MINUTES)
    return minutes or None


def _pseudo_url(feed_id: int, guid: str | None, title: str, body: str) -> str:
    """A stable key for an item with no usable link, so it is stored once and never fetched."""
    key = guid or hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()[:32]
    return f"urn:newswatch:feed:{feed_id}:{key}"


def _utc(parsed: Any) -> datetime | None:
    # feedparser returns struct_time already converted to UTC.
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (ValueError, OverflowError, OSError, TypeError):  # years past 9999 or before 1
        return None
