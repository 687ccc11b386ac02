"""Politeness and formats over real loopback HTTP: robots.txt, per-host pacing, JSON Feed, discovery."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import newswatch.poll
from newswatch.fetch import fetch_page
from newswatch.http_client import AddressGuard, Downloader
from newswatch.records import FeedPoll, FeedState, Page
from newswatch.settings import Settings

LOOPBACK = Settings(connect_timeout=2, read_timeout=2, allow_hosts="127.0.0.1", per_host_interval=0)


def pages(settings: Settings, urls: list[str]) -> dict[str, Page]:
    async def go() -> dict[str, Page]:
        async with Downloader(settings) as downloader:
            got = await asyncio.gather(
                *(fetch_page(downloader, url, max_bytes=100_000) for url in urls)
            )
            return {page.url: page for page in got}

    return asyncio.run(go())


def poll(settings: Settings, url: str) -> FeedPoll:
    async def go() -> FeedPoll:
        async with Downloader(settings) as downloader:
            return await newswatch.poll.poll_feed(
                downloader, FeedState(id=1, name="t", url=url), max_bytes=100_000
            )

    return asyncio.run(go())


def test_robots_txt_disallow_is_honoured_for_article_pages(threaded_httpserver: HTTPServer) -> None:
    threaded_httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n"
    )
    threaded_httpserver.expect_request("/public/a").respond_with_data(
        "<p>ok</p>", content_type="text/html"
    )
    threaded_httpserver.expect_request("/private/b").respond_with_data(
        "<p>secret</p>", content_type="text/html"
    )
    got = pages(
        LOOPBACK,
        [threaded_httpserver.url_for("/public/a"), threaded_httpserver.url_for("/private/b")],
    )
    assert got[threaded_httpserver.url_for("/public/a")].html == b"<p>ok</p>"
    assert got[threaded_httpserver.url_for("/private/b")].error == "disallowed by robots.txt"
    assert not any(r.path == "/private/b" for r, _ in threaded_httpserver.log)
    assert (
        sum(r.path == "/robots.txt" for r, _ in threaded_httpserver.log) == 1
    )  # read once per host


def test_unreachable_robots_txt_disallows_for_now(threaded_httpserver: HTTPServer) -> None:
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("oops", status=503)
    got = pages(LOOPBACK, [threaded_httpserver.url_for("/a")])
    assert got[threaded_httpserver.url_for("/a")].error == (
        "robots.txt could not be read (HTTP 503); the site is skipped until it can"
    )


def test_a_site_that_does_not_answer_is_skipped_saying_why() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/a"
    error = pages(LOOPBACK, [url])[url].error or ""
    assert error.startswith("robots.txt could not be read (")
    assert "no answer" not in error and error.endswith("; the site is skipped until it can")


def test_requests_to_one_host_are_spaced_by_the_minimum_interval(
    threaded_httpserver: HTTPServer,
) -> None:
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    for i in range(4):
        threaded_httpserver.expect_request(f"/p{i}").respond_with_data(
            "<p>x</p>", content_type="text/html"
        )
    paced = LOOPBACK.model_copy(update={"per_host_interval": 0.3})
    started = time.monotonic()
    pages(paced, [threaded_httpserver.url_for(f"/p{i}") for i in range(4)])
    # Four pages: three gaps of at least 0.3 s (robots.txt does not start an interval).
    assert time.monotonic() - started >= 0.9


def test_a_sites_first_page_follows_its_robots_txt_without_waiting_an_interval(
    threaded_httpserver: HTTPServer,
) -> None:
    """robots.txt is a request the site expects before any other, as Nutch and StormCrawler
    fetch it: the first page goes right after it, then pages are an interval apart."""
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    for i in range(2):
        threaded_httpserver.expect_request(f"/p{i}").respond_with_data(
            "<p>x</p>", content_type="text/html"
        )
    paced = LOOPBACK.model_copy(update={"per_host_interval": 30})
    started = time.monotonic()
    first = pages(paced, [threaded_httpserver.url_for("/p0")])
    assert first[threaded_httpserver.url_for("/p0")].html == b"<p>x</p>"
    assert time.monotonic() - started < 30  # not an interval after robots.txt

    started = time.monotonic()
    pages(
        paced.model_copy(update={"per_host_interval": 0.5}),
        [threaded_httpserver.url_for(f"/p{i}") for i in range(2)],
    )
    assert time.monotonic() - started >= 0.5  # the pages themselves are still paced


def test_a_host_waiting_for_its_turn_does_not_hold_back_another_host(
    threaded_httpserver: HTTPServer,
) -> None:
    """One download slot, and four pages of one site queued before one of another: the other
    site's page goes while the first site waits out its interval, not after all its pages."""
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    for path in ["/a1", "/a2", "/a3", "/a4", "/b1"]:
        threaded_httpserver.expect_request(path).respond_with_data(
            "<p>x</p>", content_type="text/html"
        )
    paced = LOOPBACK.model_copy(
        update={
            "per_host_interval": 0.5,  # wide: a loaded machine must not reorder the turns
            "fetch_concurrency": 1,
            "allow_hosts": "127.0.0.1,localhost",
        }
    )
    port = threaded_httpserver.port
    urls = [f"http://127.0.0.1:{port}/a{n}" for n in range(1, 5)] + [f"http://localhost:{port}/b1"]
    got = pages(paced, urls)
    assert all(page.html == b"<p>x</p>" for page in got.values()), got
    order = [r.path for r, _ in threaded_httpserver.log if r.path != "/robots.txt"]
    assert order.index("/b1") <= 1, order
    assert sorted(order) == ["/a1", "/a2", "/a3", "/a4", "/b1"]


def test_json_feed_items_are_read(threaded_httpserver: HTTPServer) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON Wire",
        "items": [
            {
                "id": "j1",
                "url": "/stories/1?utm_source=json",
                "title": "Rare earth deal",
                "content_html": "<p>Japan and Australia sign a rare earth deal.</p>",
                "date_published": "2025-12-17T09:00:00+09:00",
                "authors": [{"name": "Desk"}],
            },
            {"id": "j2", "content_text": "No link, text only."},
        ],
    }
    threaded_httpserver.expect_request("/feed.json").respond_with_data(
        json.dumps(feed), content_type="application/feed+json"
    )
    result = poll(LOOPBACK, threaded_httpserver.url_for("/feed.json"))
    assert result.status == "ok" and result.title == "JSON Wire"
    first, second = result.items
    assert first.url == threaded_httpserver.url_for("/stories/1") and first.author == "Desk"
    assert (
        first.published_at is not None
        and first.published_at.isoformat() == "2025-12-17T00:00:00+00:00"
    )
    assert second.link is None and second.content == "No link, text only."


def test_html_page_names_the_feed_it_links(threaded_httpserver: HTTPServer) -> None:
    html = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        "</head><body>Home</body></html>"
    )
    threaded_httpserver.expect_request("/").respond_with_data(html, content_type="text/html")
    result = poll(LOOPBACK, threaded_httpserver.url_for("/"))
    assert result.status == "error"
    assert f"links the feed {threaded_httpserver.url_for('/rss.xml')}" in (result.error or "")


def test_loopback_is_refused_unless_allowlisted(threaded_httpserver: HTTPServer) -> None:
    threaded_httpserver.expect_request("/feed").respond_with_data(
        "<rss/>", content_type="application/rss+xml"
    )
    result = poll(
        LOOPBACK.model_copy(update={"allow_hosts": ""}), threaded_httpserver.url_for("/feed")
    )
    assert result.status == "error" and "non-public address" in (result.error or "")
    assert threaded_httpserver.log == []


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "[::1]", "localhost"])
def test_every_spelling_of_loopback_is_refused_before_connecting(host: str) -> None:
    """IP literals skip the resolver (urls.parse_url refuses forms only it reads, like 127.1);
    the guard judges a literal as it judges a resolved name."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        listener.setblocking(False)
        settings = LOOPBACK.model_copy(update={"allow_hosts": ""})
        page = pages(settings, [f"http://{host}:{port}/a"])[f"http://{host}:{port}/a"]
        assert "non-public address (loopback)" in (page.error or ""), page.error
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:8.8.8.8", False),
        # IPv6 forms carrying an IPv4 address are judged by it.
        ("64:ff9b::7f00:1", True),  # NAT64 of 127.0.0.1
        ("64:ff9b::808:808", False),  # NAT64 of 8.8.8.8
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", True),  # 6to4 of 10.0.0.1
        ("::127.0.0.1", True),  # IPv4-compatible
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo, client 127.0.0.1
        ("fec0::1", True),  # site-local
        ("2001:4860:4860::8888", False),
    ],
)
def test_address_guard_refuses_non_public_addresses(address: str, refused: bool) -> None:
    assert (AddressGuard("").refusal("news.example", address) is not None) is refused


def test_allowlist_by_network_and_by_host_name() -> None:
    guard = AddressGuard("10.0.0.0/8, intranet.example")
    assert guard.refusal("a.example", "10.9.8.7") is None
    assert guard.refusal("intranet.example", "192.168.1.5") is None
    assert guard.refusal("other.example", "192.168.1.5") is not None


def test_sites_take_turns_in_the_download_queue() -> None:
    from newswatch.ingest import host_turns
    from newswatch.records import FeedItem

    def item(link: str | None) -> FeedItem:
        url = link or "https://feed-only.example/x"
        return FeedItem(
            feed_id=1, url=url, link=link, guid=None, title="t", author=None,
            published_at=None, summary="", content="",
        )  # fmt: skip

    links = ["http://a.example/1", "http://a.example/2", "http://a.example/3",
             "http://b.example/1", "http://b.example/2", "http://c.example/1", None]  # fmt: skip
    turns = [i.link for i in host_turns([item(link) for link in links])]
    assert turns == [
        "http://a.example/1", "http://b.example/1", "http://c.example/1", None,
        "http://a.example/2", "http://b.example/2", "http://a.example/3",
    ]  # fmt: skip


def test_requests_to_each_host_stay_an_interval_apart_under_contention(
    threaded_httpserver: HTTPServer,
) -> None:
    """Two sites, eight pages each, two requests per site allowed at once and three slots in
    all: however the waits interleave, each site sees its requests at least the interval apart."""
    arrivals: dict[str, list[float]] = {"127.0.0.1": [], "localhost": []}

    def answer(request: Request) -> Response:
        arrivals[request.host.split(":")[0]].append(time.monotonic())
        return Response("<p>x</p>", content_type="text/html")

    threaded_httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    threaded_httpserver.expect_request(re.compile(r"/p\d+")).respond_with_handler(answer)
    interval = 0.25
    paced = LOOPBACK.model_copy(
        update={
            "per_host_interval": interval,
            "per_host_concurrency": 2,
            "fetch_concurrency": 3,
            "allow_hosts": "127.0.0.1,localhost",
        }
    )
    port = threaded_httpserver.port
    urls = [f"http://{host}:{port}/p{n}" for n in range(8) for host in arrivals]
    got = pages(paced, urls)
    assert all(page.html == b"<p>x</p>" for page in got.values())
    for host, times in arrivals.items():
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        # Half the interval: what the server sees may lag what the client sent by a moment on
        # a loaded machine, while a broken turn shows as two requests at once (a gap near 0).
        assert len(times) == 8 and min(gaps) >= interval / 2, (host, gaps)
