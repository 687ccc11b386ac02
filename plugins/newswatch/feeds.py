"""Poll a feed: conditional GET with the stored validators, then parse the bytes with feedparser."""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx

from newswatch.http_client import FetchError, download
from newswatch.records import FeedItem, FeedPoll, FeedState
from newswatch.urls import canonical_url

MAX_ITEMS = 2000


class FeedParseError(Exception):
    """The bytes are not a feed feedparser can read."""


def poll_feed(client: httpx.Client, feed: FeedState, *, max_bytes: int) -> FeedPoll:
    """Fetch and parse one feed; every failure comes back as a FeedPoll with status "error"."""
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    try:
        got = download(client, feed.url, max_bytes=max_bytes, headers=headers)
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
        )
    if got.status != 200:
        return FeedPoll(
            feed_id=feed.id, status="error", http_status=got.status, error=f"HTTP {got.status}"
        )
    try:
        title, items = parse_feed(feed.id, got.body, got.final_url, got.headers)
    except FeedParseError as exc:
        return FeedPoll(feed_id=feed.id, status="error", http_status=200, error=str(exc))
    return FeedPoll(
        feed_id=feed.id,
        status="ok",
        http_status=200,
        title=title,
        etag=got.headers.get("etag"),
        last_modified=got.headers.get("last-modified"),
        final_url=got.final_url,
        items=items,
    )


def parse_feed(
    feed_id: int, body: bytes, base_url: str, headers: dict[str, str] | Any = None
) -> tuple[str | None, list[FeedItem]]:
    """Parse feed bytes (never a URL: feedparser would fetch it itself, with no timeout)."""
    response_headers = {"content-location": base_url}
    if headers and headers.get("content-type"):
        response_headers["content-type"] = headers["content-type"]
    parsed = feedparser.parse(body, response_headers=response_headers)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no feed found"
        raise FeedParseError(f"not a readable feed: {reason}")
    title = parsed.feed.get("title")
    items = [_item(feed_id, entry, base_url) for entry in parsed.entries[:MAX_ITEMS]]
    return title, items


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


def _pseudo_url(feed_id: int, guid: str | None, title: str, body: str) -> str:
    """A stable key for an item with no usable link, so it is stored once and never fetched."""
    key = guid or hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()[:32]
    return f"urn:newswatch:feed:{feed_id}:{key}"


def _utc(parsed: Any) -> datetime | None:
    # feedparser returns struct_time already converted to UTC.
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
