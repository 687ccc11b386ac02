"""Poll a feed: a conditional GET with the stored validators, then its bytes parsed (feeds.py)
on the CPU pool; every outcome, failures included, comes back as one FeedPoll.

Apart from parsing so that the HTTP caching rules (ETag, Last-Modified, 304, 410) stand in
one place and parsing can be tested on bytes alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from newswatch import clock
from newswatch.feeds import FeedParseError, parse_feed
from newswatch.http_client import Downloader, FetchError
from newswatch.records import FeedItem, FeedPoll, FeedState
from newswatch.sanitize import HEADER_CHARS, clamp_published, optional_line
from newswatch.workers import CpuPool, JobFailed


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
    now = clock.now()
    return FeedPoll(
        feed_id=feed.id,
        status="ok",
        http_status=200,
        title=parsed.title,
        etag=optional_line(got.headers.get("etag"), HEADER_CHARS),
        last_modified=optional_line(got.headers.get("last-modified"), HEADER_CHARS),
        final_url=got.final_url,
        moved_to=got.moved_to,
        headers=dict(got.headers),
        ttl_minutes=parsed.ttl_minutes,
        unconditional=not headers,
        warning=parsed.warning,
        items=[_not_after(item, now) for item in parsed.items],
        empty_items=parsed.empty,
    )


def _not_after(item: FeedItem, now: datetime) -> FeedItem:
    """The item with a date in the future set to now, the claimed date kept beside it."""
    published = clamp_published(item.published_at, now)
    if published == item.published_at:
        return item
    return replace(item, published_at=published, claimed_published_at=item.published_at)
