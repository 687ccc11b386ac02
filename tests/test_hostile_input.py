"""Issue 11's classes, one regression each: a hostile feed or page affects only itself.

Every server is real and on loopback; a healthy feed runs beside the hostile one in the same
batch and must come through whole. tests/test_hostile_property.py generates the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from newswatch import clock, models, pipeline
from newswatch.feeds import MAX_ITEMS, parse_feed
from newswatch.outcomes import RunSummaryXCom
from newswatch.settings import Settings, get_settings
from newswatch.store import db

TOPICS = "recipients: [desk@example.com]\ntopics:\n  - name: tariffs\n    keywords: [tariff]\n"
HEALTHY_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Healthy</title>
<item><title>Tariffs on steel rise again</title><link>{base}/healthy/story</link>
<guid>healthy-1</guid><description>Tariffs summary.</description></item></channel></rss>"""
HEALTHY_PAGE = (
    "<html><body><article><p>"
    + "Tariffs on steel rose again this week, and importers braced for more. " * 12
    + "</p></article></body></html>"
)


def rss(*items: str, channel: str = "") -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>'
        + channel
        + "".join(items)
        + "</channel></rss>"
    )


def page(paragraph: str, lang: str = "en") -> str:
    return f'<html lang="{lang}"><body><article><p>{paragraph * 8}</p></article></body></html>'


@pytest.fixture
def web(
    settings: Settings,
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Web]:
    monkeypatch.setenv("NEWSWATCH_READ_TIMEOUT", "2")
    monkeypatch.setenv("NEWSWATCH_TOTAL_TIMEOUT", "5")
    yield Web(threaded_httpserver, tmp_path, monkeypatch)


class Web:
    """A healthy feed and a hostile one on loopback, and the config naming both."""

    def __init__(self, server: HTTPServer, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.serve_healthy()
        (folder / "feeds.yaml").write_text(
            "feeds:\n"
            f"  - {{name: Healthy, url: '{self.base}/healthy/feed'}}\n"
            f"  - {{name: Hostile, url: '{self.base}/hostile/feed'}}\n"
        )
        (folder / "topics.yaml").write_text(TOPICS)
        monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))

    def serve_healthy(self) -> None:
        self.server.expect_request("/robots.txt").respond_with_data("", status=404)
        self.server.expect_request("/healthy/feed").respond_with_data(
            HEALTHY_FEED.format(base=self.base), content_type="application/rss+xml"
        )
        self.server.expect_request("/healthy/story").respond_with_data(
            HEALTHY_PAGE, content_type="text/html"
        )

    def feed(
        self, body: str | bytes, content_type: str = "application/rss+xml", **kw: object
    ) -> None:
        self.server.expect_request("/hostile/feed").respond_with_data(
            body,
            content_type=content_type,
            **kw,  # type: ignore[arg-type]
        )

    def page(self, path: str, body: str) -> None:
        self.server.expect_request(path).respond_with_data(body, content_type="text/html")

    def run(self) -> RunSummaryXCom:
        summary = pipeline.run_once(get_settings()).to_xcom()
        with db.transaction(db.session_factory(get_settings())) as session:
            healthy = session.scalars(
                select(models.Article).where(models.Article.url == f"{self.base}/healthy/story")
            ).one()
            assert healthy.text_source == "page" and "Tariffs on steel" in healthy.text
            alerts = session.scalar(
                select(func.count()).where(models.Alert.story_id == healthy.story_id)
            )
            assert alerts == 1
            run = session.scalars(select(models.Run).order_by(models.Run.id.desc())).first()
            assert run is not None and run.finished_at is not None
        return summary


def hostile_feed(settings: Settings) -> models.Feed:
    with db.transaction(db.session_factory(settings)) as session:
        feed = session.scalars(select(models.Feed).where(models.Feed.name == "Hostile")).one()
        session.expunge(feed)
        return feed


def hostile_articles(settings: Settings) -> list[models.Article]:
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.scalars(
            select(models.Article).where(models.Article.feed_id != healthy_id(session))
        )
        articles = list(rows)
        for article in articles:
            session.expunge(article)
        return articles


def healthy_id(session: Session) -> int:
    return session.scalars(select(models.Feed.id).where(models.Feed.name == "Healthy")).one()


def rerun_stores_nothing_twice(web: Web, settings: Settings) -> None:
    with db.transaction(db.session_factory(settings)) as session:
        before = [session.scalar(select(func.count()).select_from(t)) for t in COUNTED]
    clock.freeze(clock.now() + timedelta(hours=25))  # every feed is due again
    web.run()
    with db.transaction(db.session_factory(settings)) as session:
        after = [session.scalar(select(func.count()).select_from(t)) for t in COUNTED]
    assert after == before


COUNTED = (models.Article, models.Match, models.Alert, models.Story)


# Class 1: strings PostgreSQL or email cannot carry, overlong fields, huge numbers, bad URLs.


def test_nul_and_controls_in_a_feed_are_cleaned_and_every_item_stored(
    web: Web, settings: Settings
) -> None:
    web.feed(
        rss(
            f"<item><title>Tariff&#0; news\x01 one</title><link>{web.base}/hostile/a</link>"
            "<description>Body&#0;with NUL\x00 and &#xD800; surrogate</description></item>",
            f"<item><title>Second &#x1b;[31mtariff item</title><link>{web.base}/hostile/b</link>"
            "<author>x&#0;y@example.com</author></item>",
        ).encode("utf-8")
    )
    web.page("/hostile/a", page("Tariff page text with a NUL &#0; inside. "))
    web.page("/hostile/b", page("Another tariff page.\x00 "))
    web.run()
    articles = sorted(hostile_articles(settings), key=lambda a: a.url)
    assert [a.title for a in articles] == ["Tariff news one", "Second [31mtariff item"]
    for article in articles:
        for value in (article.title, article.text, article.summary, article.author or ""):
            assert "\x00" not in value and "\x1b" not in value and "\ud800" not in value
    assert hostile_feed(settings).consecutive_failures == 0
    rerun_stores_nothing_twice(web, settings)


def test_json_feed_with_escaped_nul_and_surrogates_is_stored(web: Web, settings: Settings) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Hostile\u0000",
        "items": [
            {"id": "j1\u0000", "title": "Tariff\u0000 \ud83d", "content_text": "x\u0000" * 300},
            {"id": 7, "title": "Numeric id tariff", "content_text": "y" * 300},
            {"id": "j1\u0000", "title": "Same id twice, tariff", "content_text": "z" * 300},
        ],
    }
    web.feed(json.dumps(feed), content_type="application/feed+json")
    web.run()
    titles = sorted(a.title for a in hostile_articles(settings))
    assert titles == ["Numeric id tariff", "Tariff"]  # one id is one item: the first one wins
    assert hostile_feed(settings).title == "Hostile"
    rerun_stores_nothing_twice(web, settings)


def test_overlong_html_lang_is_dropped_not_a_database_error(web: Web, settings: Settings) -> None:
    web.feed(rss(f"<item><title>Tariff page</title><link>{web.base}/hostile/a</link></item>"))
    web.page("/hostile/a", page("Tariff text of a page. ", lang="en-" + "x" * 300))
    web.run()
    (article,) = hostile_articles(settings)
    assert article.text_source == "page" and article.language is None


@pytest.mark.parametrize(
    ("headers", "channel"),
    [
        ({"Cache-Control": "max-age=" + "9" * 20}, ""),
        ({}, "<ttl>" + "9" * 20 + "</ttl>"),
        ({}, "<ttl>-5</ttl>"),
        ({"Cache-Control": "max-age=-1, max-age=" + "9" * 400}, "<ttl>1e400</ttl>"),
    ],
)
def test_huge_cache_hints_are_clamped_and_every_feed_polled_daily(
    web: Web, settings: Settings, headers: dict[str, str], channel: str
) -> None:
    web.feed(
        rss(f"<item><title>T</title><link>{web.base}/hostile/a</link></item>", channel=channel),
        headers=headers,
    )
    web.page("/hostile/a", page("Some page. "))
    web.run()
    feed = hostile_feed(settings)
    assert feed.consecutive_failures == 0 and feed.next_poll_at is not None
    assert feed.next_poll_at - clock.now() <= timedelta(hours=settings.max_poll_interval_hours)


def test_huge_retry_after_is_a_day_at_most(web: Web, settings: Settings) -> None:
    web.feed("busy", status=503, headers={"Retry-After": "1" + "0" * 20})
    web.run()
    feed = hostile_feed(settings)
    assert feed.last_error == "HTTP 503" and feed.next_poll_at is not None
    assert feed.next_poll_at - clock.now() <= timedelta(days=1, hours=3)


def test_unfetchable_item_links_fall_back_to_the_feed_text_with_the_reason(
    web: Web, settings: Settings
) -> None:
    links = ["http://0177.0.0.1/x", "http://[::1/x", "http://example.com:99999/", "http://%00/"]
    web.feed(
        rss(
            *(
                f"<item><title>Tariff {i}</title><link>{link}</link>"
                f"<description>Summary {i}</description></item>"
                for i, link in enumerate(links)
            )
        )
    )
    web.run()
    articles = hostile_articles(settings)
    assert len(articles) == len(links)
    assert all(a.text_source == "feed_summary" for a in articles)
    errors = sorted(a.fetch_error for a in articles if a.fetch_error)
    assert len(errors) >= 3 and all(e.startswith("link refused: ") for e in errors), errors
    assert any("ambiguous numeric host '0177.0.0.1'" in e for e in errors)


@contextmanager
def database_refuses(settings: Settings, event: str, when: str, message: str) -> Iterator[None]:
    """A real refusal by the real database while the block runs: a trigger raising `message`
    before `event` ("insert on articles") on rows matching `when`."""
    engine = db.get_engine(db.database_url(settings))
    table = event.split(" on ")[1]
    with engine.begin() as conn:
        conn.execute(
            text(
                "create or replace function refuse() returns trigger language plpgsql as"
                f" $$ begin raise exception '{message}'; end $$;"
                f" create trigger refuse before {event} for each row"
                f" when ({when}) execute function refuse()"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"drop trigger refuse on {table}"))


def test_an_article_the_database_refuses_fails_alone_and_is_retried(
    web: Web, settings: Settings
) -> None:
    """A real refusal by the real database (a trigger), not a mock: the chunk's other articles
    are stored, the failure is recorded on the feed, and the next poll retries the item."""
    with database_refuses(
        settings, "insert on articles", "new.title like '%POISON%'", "poisoned article"
    ):
        web.feed(
            rss(
                f"<item><title>POISON tariff</title><link>{web.base}/hostile/p</link></item>",
                f"<item><title>Fine tariff</title><link>{web.base}/hostile/f</link></item>",
            ),
            headers={"ETag": '"v1"'},
        )
        web.page("/hostile/p", page("Poisoned page text about tariffs. "))
        web.page("/hostile/f", page("Fine page text about tariffs. "))
        summary = web.run()
        assert [a.title for a in hostile_articles(settings)] == ["Fine tariff"]
        feed = hostile_feed(settings)
        assert feed.last_error is not None and "1 item(s) not stored" in feed.last_error
        assert "poisoned article" in feed.last_error
        assert feed.etag is None  # so the next poll is not answered 304 and the item is not lost
        assert any("poisoned article" in e for e in summary["errors"])
    clock.freeze(clock.now() + timedelta(hours=25))
    web.run()
    assert sorted(a.title for a in hostile_articles(settings)) == ["Fine tariff", "POISON tariff"]
    assert hostile_feed(settings).last_error is None


def test_a_poll_outcome_the_database_refuses_fails_alone(web: Web, settings: Settings) -> None:
    """The feeds' outcomes share one transaction, each under its own savepoint: a real refusal
    (a trigger) of one feed's outcome is reported, and the other feed's outcome is stored."""
    refused_when = "new.name = 'Hostile' and new.last_polled_at is distinct from old.last_polled_at"
    with database_refuses(settings, "update on feeds", refused_when, "outcome refused"):
        web.feed(rss(f"<item><title>Tariff</title><link>{web.base}/hostile/a</link></item>"))
        web.page("/hostile/a", page("Tariff page. "))
        summary = web.run()  # the healthy feed's article, alert and run row: checked by run()
    assert hostile_feed(settings).last_polled_at is None
    assert [a.title for a in hostile_articles(settings)] == ["Tariff"]
    with db.transaction(db.session_factory(settings)) as session:
        healthy = session.get_one(models.Feed, healthy_id(session))
        assert healthy.last_polled_at is not None and healthy.last_error is None
    refused = [e for e in summary["errors"] if "outcome refused" in e]
    assert refused and refused[0].startswith("feed 'Hostile': poll outcome not stored")


def test_delivery_and_the_run_row_survive_a_batch_that_dies(web: Web, settings: Settings) -> None:
    web.feed(rss(f"<item><title>Tariff</title><link>{web.base}/hostile/a</link></item>"))
    web.page("/hostile/a", page("Tariff page. "))
    web.run()  # alerts stored and sent
    with db.transaction(db.session_factory(settings)) as session:
        alerts = cast(Table, models.Alert.__table__)
        session.execute(alerts.update().values(state="pending", sent_at=None))

    clock.freeze(clock.now() + timedelta(hours=25))  # the feeds are due again

    def dies(batches: list[list[int]]) -> Iterator[list[int]]:
        raise RuntimeError("the worker died")
        yield from batches

    with pytest.raises(RuntimeError, match="did not finish"):
        pipeline.run_once(get_settings(), track=dies)
    with db.transaction(db.session_factory(settings)) as session:
        pending = session.scalar(select(func.count()).where(models.Alert.state == "pending"))
        run = session.scalars(select(models.Run).order_by(models.Run.id.desc())).first()
    assert pending == 0
    assert run is not None and run.finished_at is not None
    assert any("did not finish" in e for e in run.errors)


# Class 3: boilerplate text never makes distinct headlines one article or one story.


@pytest.mark.parametrize(
    ("summary", "page_body"),
    [
        ("Read the full story on our website.", None),
        ("Read the full story on our website.", page("We use cookies to improve your visit. " * 3)),
    ],
)
def test_boilerplate_text_never_merges_distinct_headlines(
    web: Web, settings: Settings, summary: str, page_body: str | None
) -> None:
    titles = ["Tariffs hit cars", "Tariff talks stall", "Steel tariff ruling"]
    web.feed(
        rss(
            *(
                f"<item><title>{t}</title><link>{web.base}/hostile/{i}</link>"
                f"<description>{summary}</description></item>"
                for i, t in enumerate(titles)
            )
        )
    )
    for i in range(len(titles)):
        if page_body is None:
            web.server.expect_request(f"/hostile/{i}").respond_with_data("gone", status=404)
        else:
            web.page(f"/hostile/{i}", page_body)
    web.run()
    articles = hostile_articles(settings)
    assert sorted(a.title for a in articles) == sorted(titles)
    assert len({a.story_id for a in articles}) == 3
    with db.transaction(db.session_factory(settings)) as session:
        alerts = session.scalar(
            select(func.count()).where(models.Alert.story_id.in_([a.story_id for a in articles]))
        )
    assert alerts == 3
    rerun_stores_nothing_twice(web, settings)


# Class 7: a feed cut at MAX_ITEMS says so.


def test_a_feed_cut_at_the_item_cap_records_a_warning() -> None:
    items = "".join(
        f"<item><title>t{i}</title><guid>g{i}</guid></item>" for i in range(MAX_ITEMS + 50)
    )
    parsed = parse_feed(
        1, rss(items).encode(), "http://127.0.0.1/feed", {"content-type": "application/rss+xml"}
    )
    assert len(parsed.items) == MAX_ITEMS
    assert (
        parsed.warning
        == f"the feed lists {MAX_ITEMS + 50} items; only the first {MAX_ITEMS} were read"
    )
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1",
            "items": [{"id": str(i), "content_text": "x"} for i in range(MAX_ITEMS + 1)],
        }
    ).encode()
    assert "only the first" in (parse_feed(1, body, "http://127.0.0.1/feed").warning or "")


# Class 8: dates in the future, and the real reason for a refused page.


def test_a_date_in_the_future_is_clamped_to_the_fetch_and_kept(
    web: Web, settings: Settings
) -> None:
    web.feed(
        rss(
            f"<item><title>From 2100</title><link>{web.base}/hostile/a</link>"
            "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
        )
    )
    web.page("/hostile/a", page("Text. "))
    web.run()
    (article,) = hostile_articles(settings)
    assert article.claimed_published_at == datetime(2100, 1, 1, tzinfo=UTC)
    assert article.published_at is not None and article.published_at <= article.fetched_at


def test_a_private_address_is_reported_as_refused_not_as_robots(
    web: Web, settings: Settings
) -> None:
    web.feed(rss("<item><title>Internal</title><link>http://127.0.0.2:9/x</link></item>"))
    web.run()
    (article,) = hostile_articles(settings)
    assert article.fetch_error is not None
    assert "non-public address" in article.fetch_error and "robots" not in article.fetch_error


CONSENT = (
    "We use cookies to improve your visit. By clicking Accept all you consent to the use of "
    "cookies and similar technologies for analytics and advertising. Manage your privacy "
    "choices in Cookie settings at any time. "
)


def two_feeds(web: Web, folder: Path, second: str) -> None:
    """A second hostile feed beside the first, both in feeds.yaml."""
    web.server.expect_request("/hostile2/feed").respond_with_data(
        second, content_type="application/rss+xml"
    )
    with (folder / "feeds.yaml").open("a") as feeds:
        feeds.write(f"  - {{name: Hostile 2, url: '{web.base}/hostile2/feed'}}\n")


def test_one_consent_page_behind_two_feeds_keeps_both_headlines(
    web: Web, settings: Settings, tmp_path: Path
) -> None:
    web.feed(
        rss(f"<item><title>Alpha: tariff election result</title><link>{web.base}/c1</link></item>")
    )
    two_feeds(
        web,
        tmp_path,
        rss(f"<item><title>Beta: tariff typhoon damage</title><link>{web.base}/c2</link></item>"),
    )
    for i, path in enumerate(["/c1", "/c2"]):  # the same wall, with a nonce that differs
        web.page(path, page(CONSENT + f"Reference ID: 18.{i}. "))
    web.run()
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.execute(
            select(models.Article.title, models.Article.story_id, models.Article.fetch_error).where(
                models.Article.title.like("%tariff %")
            )
        ).all()
        alerts = session.scalar(
            select(func.count()).where(models.Alert.story_id.in_([r[1] for r in rows]))
        )
    assert sorted(r[0] for r in rows) == [
        "Alpha: tariff election result",
        "Beta: tariff typhoon damage",
    ]
    assert len({r[1] for r in rows}) == 2 and alerts == 2
    assert all("the page is a wall" in (r[2] or "") for r in rows)


def test_one_long_summary_under_two_headlines_in_two_feeds_stays_two_articles(
    web: Web, settings: Settings, tmp_path: Path
) -> None:
    teaser = "Subscribers only: this story about tariffs is reserved for our members. " * 4
    web.feed(
        rss(
            f"<item><title>Zeta: tariff port strike</title><description>{teaser}</description></item>"
        )
    )
    two_feeds(
        web,
        tmp_path,
        rss(
            f"<item><title>Eta: tariff rail upgrade</title><description>{teaser}</description></item>"
        ),
    )
    web.run()
    titles = sorted(a.title for a in hostile_articles(settings))
    assert titles == ["Eta: tariff rail upgrade", "Zeta: tariff port strike"]


def test_a_canonical_link_shared_by_distinct_pages_does_not_merge_them(
    web: Web, settings: Settings
) -> None:
    web.feed(
        rss(
            f"<item><title>Steel tariff ruling</title><link>{web.base}/hostile/a</link></item>",
            f"<item><title>Rice harvest forecast</title><link>{web.base}/hostile/b</link></item>",
        )
    )
    for path, text_ in (
        ("/hostile/a", "Steel tariff ruling text. "),
        ("/hostile/b", "Rice harvest text. "),
    ):
        web.page(
            path,
            page(text_).replace(
                "<html", f'<html><head><link rel="canonical" href="{web.base}/"></head', 1
            ),
        )
    web.run()
    assert sorted(a.title for a in hostile_articles(settings)) == [
        "Rice harvest forecast",
        "Steel tariff ruling",
    ]


def test_a_text_too_long_for_the_search_index_is_stored(web: Web, settings: Settings) -> None:
    words = " ".join(f"w{i:07d}" for i in range(180_000))  # 1.6 M characters of distinct words
    web.feed(
        rss(f"<item><title>Tariff dump</title><description>tariff {words}</description></item>")
    )
    web.run()
    (article,) = hostile_articles(settings)
    assert len(article.text) > 1_000_000


def test_feeds_yaml_wins_over_urls_the_store_learnt(
    web: Web, settings: Settings, tmp_path: Path
) -> None:
    """Two feeds swapping URLs, and a URL a 301 moved another feed onto, used to stop every run
    on the unique URL."""
    web.feed(rss(f"<item><title>Tariff one</title><link>{web.base}/hostile/a</link></item>"))
    web.page("/hostile/a", page("Tariff page. "))
    web.server.expect_request("/mover/feed").respond_with_data(
        "", status=301, headers={"Location": f"{web.base}/target/feed"}
    )
    web.server.expect_request("/target/feed").respond_with_data(
        rss(), content_type="application/rss+xml"
    )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds.read_text() + f"  - {{name: Mover, url: '{web.base}/mover/feed'}}\n")
    web.run()
    with db.transaction(db.session_factory(settings)) as session:
        mover = session.scalars(select(models.Feed).where(models.Feed.name == "Mover")).one()
        assert mover.url == f"{web.base}/target/feed"
    swapped = (
        feeds.read_text()
        .replace("/healthy/feed", "/SWAP")
        .replace("/hostile/feed", "/healthy/feed")
    )
    swapped = swapped.replace("/SWAP", "/hostile/feed")
    feeds.write_text(swapped + f"  - {{name: Target, url: '{web.base}/target/feed'}}\n")
    clock.freeze(clock.now() + timedelta(hours=25))
    pipeline.run_once(get_settings())
    with db.transaction(db.session_factory(settings)) as session:
        urls = dict(session.execute(select(models.Feed.name, models.Feed.url)).all())
    assert (
        urls["Healthy"] == f"{web.base}/hostile/feed"
        and urls["Hostile"] == f"{web.base}/healthy/feed"
    )
    assert urls["Target"] == f"{web.base}/target/feed" and urls["Mover"] == f"{web.base}/mover/feed"


HEADLINES = [
    "Taiwan election result delayed by court",
    "Taiwan typhoon damage grows in south",
    "Taiwan chip exports hit record",
    "Taiwan navy drills near Kinmen",
    "Taiwan central bank holds rates",
]


def alerts_for(settings: Settings, titles: list[str]) -> tuple[int, int]:
    """(stories, alerts) of the articles with these titles."""
    with db.transaction(db.session_factory(settings)) as session:
        stories_ = set(
            session.scalars(select(models.Article.story_id).where(models.Article.title.in_(titles)))
        )
        alerts = session.scalar(select(func.count()).where(models.Alert.story_id.in_(stories_)))
    return len(stories_), alerts or 0


@pytest.mark.parametrize(
    "shared",
    [
        " ".join(f"footer{i % 97} word{i % 89}" for i in range(700)),  # a long site footer
        "Nous utilisons des cookies et technologies similaires. Identifiant de session : ",
        "We and our partners process data: "
        + " ".join(f"Vendor{i} Advertising Ltd," for i in range(120))
        + " Accept all or manage your privacy choices. Ref ",
    ],
    ids=["footer", "french-wall", "long-wall"],
)
def test_text_shared_by_distinct_headlines_never_makes_them_one_story(
    web: Web, settings: Settings, shared: str
) -> None:
    titles = [t.replace("Taiwan", "Tariff") for t in HEADLINES]
    web.feed(
        rss(
            *(
                f"<item><title>{t}</title><link>{web.base}/hostile/{i}</link></item>"
                for i, t in enumerate(titles)
            )
        )
    )
    for i in range(len(titles)):  # a few words of its own each, then the shared text
        web.page(
            f"/hostile/{i}",
            page(f"Story {i} alpha{i} beta{i} gamma{i} tariff. {shared} {i:012x}. "),
        )
    web.run()
    assert alerts_for(settings, titles) == (5, 5)


def test_one_text_retitled_by_three_feeds_in_one_run_is_one_story(
    web: Web, settings: Settings, tmp_path: Path
) -> None:
    title = "Japan raises tariffs on Taiwan steel imports"
    titles = [title, f"{title} - Reuters", f"{title} (via AloJapan)"]
    body = page("Japan raised tariffs on steel from Taiwan on Monday, officials said. ")
    web.feed(rss(f"<item><title>{titles[0]}</title><link>{web.base}/hostile/a</link></item>"))
    two_feeds(
        web,
        tmp_path,
        rss(f"<item><title>{titles[1]}</title><link>{web.base}/hostile/b</link></item>"),
    )
    web.server.expect_request("/hostile3/feed").respond_with_data(
        rss(f"<item><title>{titles[2]}</title><link>{web.base}/hostile/c</link></item>"),
        content_type="application/rss+xml",
    )
    with (tmp_path / "feeds.yaml").open("a") as feeds:
        feeds.write(f"  - {{name: Hostile 3, url: '{web.base}/hostile3/feed'}}\n")
    for path in ("/hostile/a", "/hostile/b", "/hostile/c"):
        web.page(path, body)
    web.run()
    assert alerts_for(settings, titles) == (1, 1)


def test_a_feed_republishing_a_story_as_updated_sends_no_second_alert(
    web: Web, settings: Settings
) -> None:
    title = "Japan raises tariffs on Taiwan steel imports"
    body = page("Japan raised tariffs on steel from Taiwan on Monday, officials said. ")
    first = f"<item><title>{title}</title><link>{web.base}/hostile/a1</link></item>"
    web.feed(rss(first))
    web.page("/hostile/a1", body)
    web.run()
    web.server.clear()  # the same sites, now with the update
    web.serve_healthy()
    web.feed(
        rss(
            f"<item><title>{title} (updated)</title><link>{web.base}/hostile/a2</link></item>",
            first,
        )
    )
    web.page("/hostile/a1", body)
    web.page("/hostile/a2", body)
    clock.freeze(clock.now() + timedelta(hours=25))
    web.run()
    assert alerts_for(settings, [title, f"{title} (updated)"]) == (1, 1)


def test_an_empty_item_is_skipped_counted_and_told_never_stored(
    web: Web, settings: Settings
) -> None:
    web.feed(
        rss(
            "<item><title></title><description>  </description></item>",
            "<item><guid isPermaLink='false'>only-a-guid</guid></item>",
            f"<item><title>Tariff item</title><link>{web.base}/hostile/a</link></item>",
        ).encode("utf-8")
    )
    web.page("/hostile/a", page("A tariff page. "))
    summary = web.run()
    assert [a.title for a in hostile_articles(settings)] == ["Tariff item"]
    assert summary["counts"]["items_empty"] == 2
    feed = hostile_feed(settings)
    assert feed.last_error == "skipped 2 empty items (no title, link or text)"
    assert feed.consecutive_failures == 0
