"""Polling over real HTTP on loopback (pytest-httpserver)."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import newswatch.poll
from newswatch.http_client import Downloader
from newswatch.records import FeedPoll, FeedState
from newswatch.settings import Settings

RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Test Wire</title><link>{base}/</link>
<item><title>Tariffs rise</title><link>/news/1?utm_source=rss</link><guid>g1</guid>
<pubDate>Wed, 17 Dec 2025 09:00:00 +0900</pubDate><description>About tariffs.</description></item>
<item><title>No link here</title><guid isPermaLink="false">urn:x:2</guid>
<description>Only a summary.</description></item>
</channel></rss>"""


LOOPBACK = Settings(connect_timeout=2, read_timeout=2, allow_hosts="127.0.0.1", per_host_interval=0)


def poll_feed(state: FeedState, max_bytes: int, settings: Settings = LOOPBACK) -> FeedPoll:
    async def go() -> FeedPoll:
        async with Downloader(settings) as downloader:
            return await newswatch.poll.poll_feed(downloader, state, max_bytes=max_bytes)

    return asyncio.run(go())


def feed(httpserver: HTTPServer, path: str = "/feed", **kw: Any) -> FeedState:
    return FeedState(id=1, name="t", url=httpserver.url_for(path), **kw)


def test_items_get_canonical_absolute_links_and_utc_dates(
    httpserver: HTTPServer,
) -> None:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed").respond_with_data(
        RSS.format(base=base), content_type="application/rss+xml", headers={"ETag": '"v1"'}
    )
    poll = poll_feed(feed(httpserver), max_bytes=1_000_000)
    assert poll.status == "ok" and poll.title == "Test Wire" and poll.etag == '"v1"'
    first, second = poll.items
    assert first.url == f"{base}/news/1"
    assert first.published_at == datetime(2025, 12, 17, 0, 0, tzinfo=UTC)
    assert second.link is None
    assert second.url == "urn:newswatch:feed:1:urn:x:2"


def test_feed_with_no_items_is_ok_and_empty(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Empty</title></channel></rss>',
        content_type="application/rss+xml",
    )
    poll = poll_feed(feed(httpserver), max_bytes=1_000_000)
    assert (poll.status, poll.items) == ("ok", [])


def test_conditional_get_sends_validators_and_304_parses_nothing(
    httpserver: HTTPServer,
) -> None:
    seen: dict[str, str] = {}

    def handler(request: Request) -> Response:
        seen.update(request.headers)
        return Response(status=304)

    httpserver.expect_request("/feed").respond_with_handler(handler)
    state = feed(httpserver, etag='"v1"', last_modified="Wed, 17 Dec 2025 00:00:00 GMT")
    poll = poll_feed(state, max_bytes=1_000_000)
    assert poll.status == "not_modified" and poll.items == []
    assert poll.etag == '"v1"'
    assert seen["If-None-Match"] == '"v1"'
    assert seen["If-Modified-Since"] == "Wed, 17 Dec 2025 00:00:00 GMT"


def test_server_error_is_a_recorded_failure(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data("down", status=503)
    poll = poll_feed(feed(httpserver), max_bytes=1_000_000)
    assert (poll.status, poll.http_status, poll.error) == ("error", 503, "HTTP 503")


def test_html_page_is_not_a_feed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "<html><body><p>Welcome</p></body></html>", content_type="text/html"
    )
    poll = poll_feed(feed(httpserver), max_bytes=1_000_000)
    assert poll.status == "error" and "not a readable feed" in (poll.error or "")


def test_oversized_feed_is_cut_off(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "x" * 50_000, content_type="application/rss+xml"
    )
    poll = poll_feed(feed(httpserver), max_bytes=10_000)
    assert poll.status == "error" and "larger than 10000 bytes" in (poll.error or "")


def test_unreachable_feed_is_a_recorded_failure() -> None:
    state = FeedState(id=1, name="t", url="http://127.0.0.1:9/feed")
    poll = poll_feed(state, max_bytes=1_000)
    assert poll.status == "error" and poll.error


def test_non_http_feed_url_is_refused() -> None:
    poll = poll_feed(FeedState(id=1, name="t", url="file:///etc/passwd"), max_bytes=1_000)
    assert poll.status == "error" and "non-http" in (poll.error or "")
