"""Poll a feed: conditional GET with the stored validators, then parse the bytes with feedparser."""

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

from newswatch.http_client import Downloader, FetchError
from newswatch.records import FeedItem, FeedPoll, FeedState
from newswatch.urls import canonical_url
from newswatch.workers import CpuPool, JobFailed

MAX_ITEMS = 2000
MAX_PERSON_CHARS = 512
# Elements feedparser runs its author/e-mail regexes on; those regexes are quadratic in length.
_PERSON = re.compile(
    rb"(<(?:[\w-]+:)?(?:author|creator|managingEditor|webMaster|name|email|contributor|publisher)\b[^>]*>)"
    rb"([^<]{%d})[^<]*" % MAX_PERSON_CHARS,
    re.IGNORECASE,
)


class FeedParseError(Exception):
    """The bytes are not a feed feedparser can read."""


async def poll_feed(
    downloader: Downloader,
    feed: FeedState,
    *,
    max_bytes: int,
    conditional: bool = True,
    pool: CpuPool | None = None,
    parse_timeout: float = 30.0,
) -> FeedPoll:
    """Fetch and parse one feed; every failure comes back as a FeedPoll with status "error".

    Parsing runs on `pool` under `parse_timeout`, so a pathological feed costs at most that
    much CPU and fails alone.
    """
    headers = {}
    if conditional and feed.etag:
        headers["If-None-Match"] = feed.etag
    if conditional and feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    try:
        got = await downloader.get(feed.url, max_bytes=max_bytes, headers=headers)
    except FetchError as exc:
        return FeedPoll(feed_id=feed.id, status="error", error=str(exc))
    if got.status == 304:
        return FeedPoll(
            feed_id=feed.id,
            status="not_modified",
            http_status=304,
            etag=feed.etag,
            last_modified=feed.last_modified,
            final_url=got.final_url,
            moved_to=got.moved_to,
            headers=dict(got.headers),
        )
    if got.status != 200:
        return FeedPoll(
            feed_id=feed.id,
            status="gone" if got.status == 410 else "error",
            http_status=got.status,
            error=f"HTTP {got.status}",
            moved_to=got.moved_to,
            headers=dict(got.headers),
        )
    try:
        parsed = await (pool or CpuPool(1)).run(
            "extract",
            parse_timeout,
            parse_feed,
            feed.id,
            got.body,
            got.final_url,
            dict(got.headers),
        )
    except FeedParseError as exc:
        return FeedPoll(feed_id=feed.id, status="error", http_status=200, error=str(exc))
    except JobFailed as exc:
        return FeedPoll(
            feed_id=feed.id, status="error", http_status=200, error=f"parsing stopped: it {exc}"
        )
    return FeedPoll(
        feed_id=feed.id,
        status="ok",
        http_status=200,
        title=parsed.title,
        etag=got.headers.get("etag"),
        last_modified=got.headers.get("last-modified"),
        final_url=got.final_url,
        moved_to=got.moved_to,
        headers=dict(got.headers),
        ttl_minutes=parsed.ttl_minutes,
        unconditional=not headers,
        warning=parsed.warning,
        items=parsed.items,
    )


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    items: list[FeedItem]
    ttl_minutes: int | None
    warning: str | None


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
        cap_person_fields(body),
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
    title = parsed.feed.get("title")
    items = [_item(feed_id, entry, base_url) for entry in parsed.entries[:MAX_ITEMS]]
    warning = None
    if parsed.bozo and not isinstance(parsed.get("bozo_exception"), _HARMLESS):
        warning = f"recovered from a malformed feed: {parsed.bozo_exception}"
    return ParsedFeed(
        title=title, items=items, ttl_minutes=_ttl(parsed.feed.get("ttl")), warning=warning
    )


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
    items = [_json_item(feed_id, e, base_url) for e in entries[:MAX_ITEMS] if isinstance(e, dict)]
    return ParsedFeed(
        title=_text(data.get("title")) or None, items=items, ttl_minutes=None, warning=None
    )


def _json_item(feed_id: int, entry: dict[str, Any], base_url: str) -> FeedItem:
    link = None
    for candidate in (entry.get("url"), entry.get("external_url")):
        if isinstance(candidate, str) and (link := canonical_url(candidate, base_url)):
            break
    guid = _text(entry.get("id")) or None
    title = _text(entry.get("title"))
    summary = _text(entry.get("summary"))
    content = _text(entry.get("content_html")) or _text(entry.get("content_text"))
    raw_authors = entry.get("authors")
    authors: list[Any] = raw_authors if isinstance(raw_authors, list) else [entry.get("author")]
    names = [_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return FeedItem(
        feed_id=feed_id,
        url=link or _pseudo_url(feed_id, guid, title, summary + content),
        link=link,
        guid=guid,
        title=title.strip(),
        author=", ".join(names)[:MAX_PERSON_CHARS] or None,
        published_at=_iso_utc(entry.get("date_published") or entry.get("date_modified")),
        summary=summary,
        content=content,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _iso_utc(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)


def cap_person_fields(body: bytes) -> bytes:
    """Cut author, name and e-mail elements to MAX_PERSON_CHARS before feedparser sees them."""
    return _PERSON.sub(rb"\1\2", body)


def _item(feed_id: int, entry: Any, base_url: str) -> FeedItem:
    link = _first_link(entry, base_url)
    guid = entry.get("id") or None
    content = " ".join(part.get("value", "") for part in entry.get("content", []))
    summary = entry.get("summary", "") or ""
    title = (entry.get("title") or "").strip()
    url = link or _pseudo_url(feed_id, guid, title, summary + content)
    return FeedItem(
        feed_id=feed_id,
        url=url,
        link=link,
        guid=guid,
        title=title,
        author=entry.get("author") or None,
        published_at=_utc(entry.get("published_parsed") or entry.get("updated_parsed")),
        summary=summary,
        content=content,
    )


def _first_link(entry: Any, base_url: str) -> str | None:
    candidates = [entry.get("link")]
    candidates += [
        link.get("href")
        for link in entry.get("links", [])
        if link.get("rel") in (None, "alternate")
    ]
    guid = entry.get("id")
    if guid and entry.get("guidislink", True):
        candidates.append(guid)
    for candidate in candidates:
        if candidate:
            url = canonical_url(candidate, base_url)
            if url:
                return url
    return None


def _ttl(value: Any) -> int | None:
    """RSS <ttl>: minutes the feed asks clients to cache it."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if minutes > 0 else None


def _pseudo_url(feed_id: int, guid: str | None, title: str, body: str) -> str:
    """A stable key for an item with no usable link, so it is stored once and never fetched."""
    key = guid or hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()[:32]
    return f"urn:newswatch:feed:{feed_id}:{key}"


def _utc(parsed: Any) -> datetime | None:
    # feedparser returns struct_time already converted to UTC.
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
