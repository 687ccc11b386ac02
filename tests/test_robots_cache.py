"""robots.txt read once a day per site across downloaders and runs: real PostgreSQL, loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import delete, event, select
from werkzeug import Request, Response

from newswatch import clock, models, pipeline
from newswatch.fetch import fetch_page
from newswatch.http_client import Downloader
from newswatch.robots import RobotsFile
from newswatch.settings import Settings, get_settings
from newswatch.store import db
from newswatch.store.robots import RobotsTable, recall, remember

MORNING = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
PRIVATE = "User-agent: *\nDisallow: /private/\n"
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>
<item><title>{name} story on tariffs</title><link>{base}{path}</link><guid>{name}-1</guid>
<description>Tariffs summary.</description></item></channel></rss>"""
PAGE = (
    "<html><body><article><p>"
    + "Tariffs on steel rose again. " * 20
    + "</p></article></body></html>"
)
TOPICS = "recipients: [desk@example.com]\ntopics:\n  - name: tariffs\n    keywords: [tariff]\n"


@pytest.fixture
def robots_table(settings: Settings) -> Iterator[Settings]:
    """Settings on an empty robots_txt table (conftest's truncation does not know it)."""
    clear_robots_table(settings)
    yield settings
    clear_robots_table(settings)


def clear_robots_table(settings: Settings) -> None:
    with db.transaction(db.session_factory(settings)) as session:
        session.execute(delete(models.RobotsTxt))


ROBOTS_REFUSALS = ("disallowed by robots.txt", "robots.txt could not be read")


def allowed(settings: Settings, url: str, *, remember: bool = True) -> bool:
    """Fetch url through a new downloader (one run); whether robots.txt let it through."""

    async def go() -> bool:
        cache = RobotsTable(settings) if remember else None
        async with Downloader(settings, robots_cache=cache) as downloader:
            page = await fetch_page(downloader, url, max_bytes=100_000)
            return not (page.error or "").startswith(ROBOTS_REFUSALS)

    return asyncio.run(go())


def robots_requests(threaded_httpserver: HTTPServer) -> int:
    return sum(request.path == "/robots.txt" for request, _ in threaded_httpserver.log)


def serve_robots(threaded_httpserver: HTTPServer, body: str, status: int = 200) -> None:
    threaded_httpserver.clear_all_handlers()
    threaded_httpserver.expect_request("/robots.txt").respond_with_data(body, status=status)
    threaded_httpserver.expect_request("/private/a").respond_with_data(
        PAGE, content_type="text/html"
    )


def test_second_downloader_the_same_day_reads_robots_txt_from_the_database(
    robots_table: Settings, threaded_httpserver: HTTPServer
) -> None:
    serve_robots(threaded_httpserver, PRIVATE)
    url = threaded_httpserver.url_for("/private/a")
    assert not allowed(robots_table, url)
    assert not allowed(robots_table, url)
    assert robots_requests(threaded_httpserver) == 1
    assert not any(request.path == "/private/a" for request, _ in threaded_httpserver.log)


def test_robots_txt_is_read_again_after_a_day(
    robots_table: Settings, threaded_httpserver: HTTPServer
) -> None:
    clock.freeze(MORNING)
    serve_robots(threaded_httpserver, PRIVATE)
    url = threaded_httpserver.url_for("/private/a")
    assert not allowed(robots_table, url)
    serve_robots(threaded_httpserver, "", status=404)  # the site dropped its robots.txt
    clock.freeze(MORNING + timedelta(days=1, minutes=1))
    assert allowed(robots_table, url)
    assert robots_requests(threaded_httpserver) == 2


def test_disallow_read_yesterday_still_blocks_within_a_day(
    robots_table: Settings, threaded_httpserver: HTTPServer
) -> None:
    clock.freeze(MORNING)
    serve_robots(threaded_httpserver, PRIVATE)
    url = threaded_httpserver.url_for("/private/a")
    assert not allowed(robots_table, url)
    serve_robots(threaded_httpserver, "", status=404)
    clock.freeze(MORNING + timedelta(hours=23, minutes=59))  # the next calendar day
    assert not allowed(robots_table, url)
    assert robots_requests(threaded_httpserver) == 1


def test_unreachable_robots_txt_is_kept_an_hour_not_a_day(
    robots_table: Settings, threaded_httpserver: HTTPServer
) -> None:
    clock.freeze(MORNING)
    serve_robots(threaded_httpserver, "down for maintenance", status=503)
    url = threaded_httpserver.url_for("/private/a")
    assert not allowed(robots_table, url)
    serve_robots(threaded_httpserver, "", status=404)  # the outage is over
    clock.freeze(MORNING + timedelta(minutes=30))
    assert not allowed(robots_table, url)  # other tasks of the same run do not hammer it
    clock.freeze(MORNING + timedelta(minutes=61))
    assert allowed(robots_table, url)
    assert robots_requests(threaded_httpserver) == 2


def test_robots_txt_with_a_nul_byte_is_stored_and_still_honoured(
    robots_table: Settings, threaded_httpserver: HTTPServer
) -> None:
    serve_robots(threaded_httpserver, "# \x00 binary junk\n" + PRIVATE)
    url = threaded_httpserver.url_for("/private/a")
    assert not allowed(robots_table, url)
    assert not allowed(robots_table, url)
    assert robots_requests(threaded_httpserver) == 1


def test_downloader_without_the_table_reads_robots_txt_every_run_and_stores_nothing(
    robots_table: Settings, threaded_httpserver: HTTPServer
) -> None:
    serve_robots(threaded_httpserver, PRIVATE)
    url = threaded_httpserver.url_for("/private/a")
    assert not allowed(robots_table, url, remember=False)
    assert not allowed(robots_table, url, remember=False)
    assert robots_requests(threaded_httpserver) == 2
    with db.transaction(db.session_factory(robots_table)) as session:
        assert session.scalars(select(models.RobotsTxt)).all() == []


def test_second_pipeline_run_the_same_day_reads_robots_txt_from_the_database(
    robots_table: Settings,
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    threaded_httpserver.expect_request("/robots.txt").respond_with_data(PRIVATE)
    for name, path in (("first", "/news/a"), ("second", "/private/b")):
        threaded_httpserver.expect_request(f"/{name}/feed").respond_with_data(
            FEED.format(name=name, base=base, path=path), content_type="application/rss+xml"
        )
        threaded_httpserver.expect_request(path).respond_with_data(PAGE, content_type="text/html")
    (tmp_path / "topics.yaml").write_text(TOPICS)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    feeds = "feeds:\n  - {name: First, url: '" + base + "/first/feed'}\n"
    (tmp_path / "feeds.yaml").write_text(feeds)
    clock.freeze(MORNING)
    pipeline.run_once(get_settings())
    # Later that day a second feed on the same site is added: its item needs robots.txt again.
    (tmp_path / "feeds.yaml").write_text(
        feeds + "  - {name: Second, url: '" + base + "/second/feed'}\n"
    )
    clock.freeze(MORNING + timedelta(hours=3))
    pipeline.run_once(get_settings())
    assert robots_requests(threaded_httpserver) == 1
    assert not any(request.path == "/private/b" for request, _ in threaded_httpserver.log)
    with db.transaction(db.session_factory(robots_table)) as session:
        rows = session.execute(select(models.Article.url, models.Article.fetch_error))
        errors = {url: error for url, error in rows}
    assert errors == {f"{base}/news/a": None, f"{base}/private/b": "disallowed by robots.txt"}


def test_a_new_sites_first_page_follows_its_feed_by_one_interval_not_two(
    robots_table: Settings,
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """robots.txt, read when the site's first page is, waits out the feed's interval; the page
    it cleared then follows it at once. It used to wait out another interval, robots.txt's own,
    holding a fetch-ahead slot meanwhile: two intervals per new site."""
    base = threaded_httpserver.url_for("").rstrip("/")
    asked: dict[str, float] = {}

    def answer(body: str, kind: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            asked[request.path] = time.monotonic()
            return Response(body, content_type=kind)

        return handler

    threaded_httpserver.expect_request("/robots.txt").respond_with_handler(
        answer("User-agent: *\nAllow: /\n", "text/plain")
    )
    threaded_httpserver.expect_request("/first/feed").respond_with_handler(
        answer(FEED.format(name="first", base=base, path="/news/a"), "application/rss+xml")
    )
    threaded_httpserver.expect_request("/news/a").respond_with_handler(answer(PAGE, "text/html"))
    (tmp_path / "topics.yaml").write_text(TOPICS)
    feeds = "feeds:\n  - {name: First, url: '" + base + "/first/feed'}\n"
    (tmp_path / "feeds.yaml").write_text(feeds)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSWATCH_PER_HOST_INTERVAL", "1.5")
    pipeline.run_once(get_settings())
    # The feed is polled whatever robots.txt says (the reader asked for it): no robots.txt first.
    assert list(asked) == ["/first/feed", "/robots.txt", "/news/a"]
    # robots.txt waits its turn (less a moment: the server may see the feed late).
    assert asked["/robots.txt"] - asked["/first/feed"] >= 1.0
    assert asked["/news/a"] - asked["/robots.txt"] < 1.5  # what it cleared follows at once
    assert asked["/news/a"] - asked["/first/feed"] < 3.0  # one interval, not two


def test_a_batchs_sites_are_recalled_in_one_query_with_the_answers_one_by_one_gives(
    robots_table: Settings,
) -> None:
    """recall_all asks for every site of a batch at once before their first requests; a query
    a site held up the start of a run of hundreds. Its answers are recall's: fresh ones, and
    None for stale, expired-unreachable and unknown sites alike."""
    clock.freeze(MORNING)
    sites = {
        "http://fresh.example": (RobotsFile(200, PRIVATE), MORNING - timedelta(hours=2)),
        "http://stale.example": (RobotsFile(200, PRIVATE), MORNING - timedelta(days=2)),
        "http://down.example": (RobotsFile(503), MORNING - timedelta(hours=2)),
        "http://gone.example": (RobotsFile(404), MORNING - timedelta(hours=2)),
    }
    factory = db.session_factory(robots_table)
    with db.transaction(factory) as session:
        for origin, (robots, at) in sites.items():
            remember(session, origin, robots, at)
    asked = [*sites, "http://unknown.example"]
    with db.transaction(factory) as session:
        one_by_one = {origin: recall(session, origin, MORNING) for origin in asked}
    assert one_by_one == {
        "http://fresh.example": RobotsFile(200, PRIVATE),
        "http://stale.example": None,
        "http://down.example": None,
        "http://gone.example": RobotsFile(404),
        "http://unknown.example": None,
    }

    queries: list[str] = []
    engine = db.get_engine(db.database_url(robots_table))

    def count(*args: object) -> None:
        queries.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:

        async def go() -> dict[str, RobotsFile | None]:
            table = RobotsTable(robots_table)
            await table.recall_all(asked)
            return {origin: await table.recall(origin) for origin in asked}

        assert asyncio.run(go()) == one_by_one
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum("robots_txt" in query for query in queries) == 1


def test_a_runs_new_answers_are_written_together_when_saved(robots_table: Settings) -> None:
    """remember keeps an answer in memory; save writes them all in one statement, each with the
    time it was read (a transaction a site held up the page robots.txt had cleared)."""
    clock.freeze(MORNING)
    read = {
        "http://one.example": RobotsFile(200, PRIVATE),
        "http://two.example": RobotsFile(404),
        "http://three.example": RobotsFile(503),
    }
    statements: list[str] = []
    engine = db.get_engine(db.database_url(robots_table))

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    async def go() -> None:
        table = RobotsTable(robots_table)
        for origin, robots in read.items():
            await table.remember(origin, robots)
            assert await table.recall(origin) == robots  # known at once, without a query
        assert statements == []
        await table.save()

    event.listen(engine, "before_cursor_execute", count)
    try:
        asyncio.run(go())
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum("robots_txt" in statement for statement in statements) == 1
    with db.transaction(db.session_factory(robots_table)) as session:
        rows = {row.origin: row for row in session.scalars(select(models.RobotsTxt))}
    assert {origin: (row.status, row.body) for origin, row in rows.items()} == {
        origin: (robots.status, robots.text) for origin, robots in read.items()
    }
    assert {row.fetched_at for row in rows.values()} == {MORNING}


def test_answers_that_cannot_be_saved_are_logged_not_raised(
    robots_table: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The database gone at the end of a run costs only a robots.txt read by the next run."""
    unreachable = robots_table.model_copy(
        update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    )

    async def go() -> None:
        table = RobotsTable(unreachable)
        await table.remember("http://one.example", RobotsFile(200, PRIVATE))
        await table.save()

    asyncio.run(go())
    assert "robots.txt of 1 site(s) not remembered" in caplog.text
