"""The watchdog on a loopback news web: a feed that goes quiet past its baseline, a site that
starts serving consent walls, a feed that 301s onto another feed's URL, and recovery; the
operator hears of it in one message a day over real SMTP, and nothing on a day without change."""

from __future__ import annotations

import email
import hashlib
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from conftest import Mailbox
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from typer.testing import CliRunner
from werkzeug import Request, Response

from newswatch import clock, models, pipeline
from newswatch.cli.main import app
from newswatch.delivery.messages.watch import REPORT_LINES
from newswatch.settings import Settings, get_settings
from newswatch.store import db

DAY1 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # an hour after the operator's report time
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
OPERATOR = "ops@example.com"
ARTICLE = (
    "<html lang='en'><body><article><h1>{title}</h1>"
    + "<p>The harbour authority said the new pier would open in spring, and traders welcomed "
    "the longer quay for container ships calling at the port. </p>" * 4 + "</article></body></html>"
)
WALL = (
    "<html lang='en'><body><div>We use cookies to improve your visit. By clicking Accept all "
    "you consent to the use of cookies. Manage your privacy choices in Cookie settings.</div>"
    "</body></html>"
)


class NewsWeb:
    """Feeds on loopback whose items, pages and redirects a test changes between runs."""

    def __init__(self, server: HTTPServer) -> None:
        self.base = server.url_for("").rstrip("/")
        self.items: dict[str, list[str]] = {"wire": [], "mover": []}  # feed -> item slugs
        self.walls: set[str] = set()  # slugs whose page is a consent wall
        self.moved: dict[str, str] = {}  # feed -> the path it 301s to
        self.malformed: set[str] = set()  # feeds served broken (recovered: a warning), with ETags
        self.pages: dict[str, str] = {}  # slug -> a page of its own
        server.expect_request(re.compile(r"/.*")).respond_with_handler(self.handle)

    def url(self, feed: str) -> str:
        return f"{self.base}/{feed}/feed"

    def publish(self, feed: str, *slugs: str) -> None:
        self.items[feed] = [*slugs, *self.items[feed]]

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/robots.txt":
            return Response("", status=404)
        feed = path.removesuffix("/feed").strip("/")
        if path.endswith("/feed") and feed in self.moved:
            return Response("", status=301, headers={"Location": self.base + self.moved[feed]})
        if path.endswith("/feed") and feed in self.malformed:
            body = self.rss(feed).replace("<channel>", "<channel><bad>&nbsp;</bad>", 1)
            etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:16]}"'
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            return Response(body, content_type="application/rss+xml", headers={"ETag": etag})
        if path.endswith("/feed") and feed in self.items:
            return Response(self.rss(feed), content_type="application/rss+xml")
        slug = path.rsplit("/", 1)[-1]
        body = WALL if slug in self.walls else ARTICLE.format(title=f"Harbour news {slug}")
        body = self.pages.get(slug, body)
        return Response(body, content_type="text/html")

    def rss(self, feed: str) -> str:
        entries = "".join(
            f"<item><title>Harbour news {slug}</title><link>{self.base}/{feed}/{slug}</link>"
            f"<guid>{feed}-{slug}</guid><pubDate>Tue, 01 Dec 2026 06:00:00 GMT</pubDate></item>"
            for slug in self.items[feed]
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed}</title>{entries}</channel></rss>'


@pytest.fixture
def web(
    settings: Settings,
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp: Mailbox,
) -> Iterator[NewsWeb]:
    web = NewsWeb(threaded_httpserver)
    folder = tmp_path / "watch-config"
    folder.mkdir()
    (folder / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: wire, url: '{web.url('wire')}'}}\n"
        f"  - {{name: mover, url: '{web.url('mover')}'}}\n"
    )
    (folder / "topics.yaml").write_text(
        "recipients: [desk@example.com]\ntopics:\n  - {name: harbour, query: harbour}\n"
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    monkeypatch.setenv("NEWSWATCH_OPERATOR_EMAIL", OPERATOR)
    monkeypatch.setenv("NEWSWATCH_DIGEST_TIMEZONE", "UTC")
    monkeypatch.setenv("NEWSWATCH_DIGEST_TIME", "07:00")
    yield web


def seed_history(feed_name: str, times: list[datetime], read: bool = True) -> None:
    """Items the feed brought at `times` (and their pages, read or not), as if polled then."""
    settings = get_settings()
    with db.transaction(db.session_factory(settings)) as session:
        feed = session.scalars(select(models.Feed).where(models.Feed.name == feed_name)).one()
        for at in times:
            text = f"Old harbour item of {at:%Y-%m-%d %H:%M}. " * 8
            article = models.Article(
                url=f"https://old.example/{feed_name}/{at:%Y%m%d%H%M}",
                feed_id=feed.id,
                title=f"Old item {at:%Y-%m-%d %H:%M}",
                published_at=at,
                fetched_at=at,
                text=text,
                text_source="page" if read else "feed_summary",
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
            )
            session.add(article)
            session.flush()
            session.add(models.ArticleSource(article_id=article.id, feed_id=feed.id, seen_at=at))


def run_at(at: datetime) -> None:
    clock.freeze(at)
    pipeline.run_once(get_settings())


def findings() -> dict[tuple[str, str], tuple[bool, str]]:
    """(feed, kind) -> (open, reason) of every finding."""
    with db.transaction(db.session_factory(get_settings())) as session:
        rows = session.execute(
            select(models.Feed.name, models.FeedFinding)
            .join(models.FeedFinding, models.FeedFinding.feed_id == models.Feed.id)
            .order_by(models.FeedFinding.id)
        ).all()
        return {(name, f.kind): (f.resolved_at is None, f.reason) for name, f in rows}


def reports(mailbox: Mailbox) -> list[EmailMessage]:
    """The operator's messages, oldest first."""
    found = []
    for envelope in mailbox.received:
        if OPERATOR in envelope.rcpt_tos:
            msg = email.message_from_bytes(envelope.content, policy=default)  # type: ignore[arg-type]
            found.append(msg)
    return found


def plain(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    times = []
    while start < end:
        times.append(start)
        start += step
    return times


def first_run(web: NewsWeb) -> None:
    """Both feeds in the store, polled once before the test's history is laid down."""
    run_at(DAY1 - 28 * DAY - HOUR)


def test_a_feed_gone_quiet_is_told_once_that_day_then_silence_then_its_recovery(
    web: NewsWeb, smtp: Mailbox
) -> None:
    first_run(web)
    seed_history("wire", every(DAY1 - 28 * DAY, DAY1 - 3 * DAY, 2 * HOUR))

    run_at(DAY1)
    assert findings() == {
        ("wire", "quiet"): (True, "no new item for 3 days; usually one every 2 h"),
    }
    (report,) = reports(smtp)
    assert report["Subject"] == "[newswatch] Feed watch: wire gone quiet"
    body = plain(report)
    assert "wire · Gone quiet (noticed 2026-12-01 08:00 UTC)" in body
    assert "No new item for 3 days; usually one every 2 h." in body
    assert report.get_body(preferencelist=("html",)) is not None

    run_at(DAY1 + 3 * HOUR)  # later that day: still quiet, nothing more is said
    run_at(DAY1 + DAY)  # the next day, unchanged: silence
    assert len(reports(smtp)) == 1

    web.publish("wire", "pier-opens")
    clock.freeze(DAY1 + DAY + 2 * HOUR)
    pipeline.run_once(get_settings(), force=["wire"])  # polled now, not at its next poll
    assert findings()[("wire", "quiet")][0] is False  # resolved
    assert [r["Subject"] for r in reports(smtp)] == [
        "[newswatch] Feed watch: wire gone quiet",
        "[newswatch] Feed watch: 1 resolved",
    ]
    assert "wire · Gone quiet (noticed 2026-12-01 08:00 UTC, over 2026-12-02 10:00 UTC)" in plain(
        reports(smtp)[1]
    )
    run_at(DAY1 + 2 * DAY)
    assert len(reports(smtp)) == 2


def test_a_site_serving_consent_walls_is_pages_blocked(web: NewsWeb, smtp: Mailbox) -> None:
    first_run(web)
    seed_history("wire", every(DAY1 - 28 * DAY, DAY1 - DAY, 2 * HOUR))  # pages read, always
    web.publish("wire", "a", "b", "c", "d")
    web.walls |= {"a", "b", "c"}

    run_at(DAY1)

    is_open, reason = findings()[("wire", "blocked")]
    assert is_open
    assert reason.startswith("3 of the 4 pages fetched in the last day were a cookie, login")
    assert "(one said 'we use cookies')" in reason
    (report,) = reports(smtp)
    assert "wire · Pages blocked" in plain(report)


def test_a_feed_redirected_onto_another_feeds_url_is_moved_until_it_is_not(
    web: NewsWeb, smtp: Mailbox
) -> None:
    first_run(web)
    web.moved["mover"] = "/wire/feed"

    run_at(DAY1)

    is_open, reason = findings()[("mover", "moved")]
    assert is_open and "feed 'wire'" in reason
    with db.transaction(db.session_factory(get_settings())) as session:
        mover = session.scalars(select(models.Feed).where(models.Feed.name == "mover")).one()
        assert mover.url == web.url("mover")  # it does not take the other feed's URL
    health = CliRunner().invoke(app, ["feeds", "health", "--json"])
    assert health.exit_code == 0, health.output
    rows = {row["name"]: row for row in json.loads(health.output)}
    assert [f["kind"] for f in rows["mover"]["findings"]] == ["moved"]
    assert rows["wire"]["findings"] == []

    del web.moved["mover"]
    run_at(DAY1 + DAY)  # mover is not due yet: its poll is forced
    pipeline.run_once(get_settings(), force=["mover"])
    assert findings()[("mover", "moved")][0] is False
    assert [r["Subject"] for r in reports(smtp)] == [
        "[newswatch] Feed watch: mover moved onto another feed",
        "[newswatch] Feed watch: 1 resolved",
    ]


def test_the_report_also_goes_to_the_operators_chat_channel_once(
    web: NewsWeb, smtp: Mailbox, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/ops", method="POST").respond_with_data("ok")
    monkeypatch.setenv("NEWSWATCH_OPERATOR_APPRISE_ENV", "OPS_CHAT")
    monkeypatch.setenv("OPS_CHAT", f"json://127.0.0.1:{httpserver.port}/ops")
    first_run(web)
    seed_history("wire", every(DAY1 - 28 * DAY, DAY1 - 3 * DAY, 2 * HOUR))

    run_at(DAY1)
    run_at(DAY1 + HOUR)

    posts = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/ops"]
    assert [post["title"] for post in posts] == ["[newswatch] Feed watch: wire gone quiet"]
    assert "wire · Gone quiet" in posts[0]["message"]
    assert len(reports(smtp)) == 1  # and the email, once


def test_a_feed_that_stays_silent_stays_quiet_past_its_baseline_window(
    web: NewsWeb, smtp: Mailbox
) -> None:
    first_run(web)
    seed_history("wire", every(DAY1 - 28 * DAY, DAY1 - 3 * DAY, 2 * HOUR))
    run_at(DAY1)
    for day in range(1, 31):  # a month on, its last item is older than the baseline window
        run_at(DAY1 + day * DAY)

    is_open, reason = findings()[("wire", "quiet")]
    assert is_open and reason == "no new item for 33 days; usually one every 2 h"
    assert [r["Subject"] for r in reports(smtp)] == ["[newswatch] Feed watch: wire gone quiet"]


def test_an_unchanged_feed_warning_is_one_finding_across_not_modified_polls(
    web: NewsWeb, smtp: Mailbox
) -> None:
    web.malformed.add("wire")
    first_run(web)
    for day in range(3):
        web.publish("wire", f"day{day}")  # a new item each day, and the same warning
        clock.freeze(DAY1 + day * DAY)
        pipeline.run_once(get_settings(), force=["wire"])
        clock.freeze(DAY1 + day * DAY + HOUR)
        pipeline.run_once(get_settings(), force=["wire"])  # 304 Not Modified

    is_open, reason = findings()[("wire", "parse")]
    assert is_open and reason.startswith("read, but ")
    with db.transaction(db.session_factory(get_settings())) as session:
        kinds = session.scalars(select(models.FeedFinding.kind)).all()
    assert kinds == ["parse"]
    assert [r["Subject"] for r in reports(smtp)] == ["[newswatch] Feed watch: wire feed warnings"]


@pytest.mark.parametrize("target", ["/wire/feed?utm_source=mover", "/wire//feed"], ids=str)
def test_a_redirect_onto_another_feeds_url_spelled_differently_is_moved(
    web: NewsWeb, smtp: Mailbox, target: str
) -> None:
    first_run(web)
    web.moved["mover"] = target

    run_at(DAY1)

    is_open, reason = findings()[("mover", "moved")]
    assert is_open and "feed 'wire'" in reason
    with db.transaction(db.session_factory(get_settings())) as session:
        urls = dict(session.execute(select(models.Feed.name, models.Feed.url)).tuples().all())
    assert urls == {"wire": web.url("wire"), "mover": web.url("mover")}


def test_a_redirect_onto_the_url_of_a_feed_taken_out_of_feeds_yaml_is_followed(
    web: NewsWeb, smtp: Mailbox
) -> None:
    first_run(web)
    feeds_yaml = Path(os.environ["NEWSWATCH_CONFIG_DIR"]) / "feeds.yaml"
    feeds_yaml.write_text(f"feeds:\n  - {{name: mover, url: '{web.url('mover')}'}}\n")
    web.moved["mover"] = "/wire/feed"
    web.publish("wire", "a")

    run_at(DAY1)

    assert findings() == {}
    with db.transaction(db.session_factory(get_settings())) as session:
        mover = session.scalars(select(models.Feed).where(models.Feed.name == "mover")).one()
        assert mover.url == web.url("wire")  # the only feed that reads it now
        assert session.scalar(select(func.count()).select_from(models.ArticleSource)) == 1

    # Put back in feeds.yaml, each feed returns to its own address (and mover is moved again).
    feeds_yaml.write_text(
        f"feeds:\n  - {{name: wire, url: '{web.url('wire')}'}}\n"
        f"  - {{name: mover, url: '{web.url('mover')}'}}\n"
    )
    run_at(DAY1 + DAY)
    pipeline.run_once(get_settings(), force=["mover"])
    with db.transaction(db.session_factory(get_settings())) as session:
        urls = dict(session.execute(select(models.Feed.name, models.Feed.url)).tuples().all())
    assert urls == {"wire": web.url("wire"), "mover": web.url("mover")}
    assert findings()[("mover", "moved")][0]


def test_a_chat_only_operator_hears_next_day_of_what_opened_after_the_report(
    web: NewsWeb, smtp: Mailbox, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/ops", method="POST").respond_with_data("ok")
    monkeypatch.delenv("NEWSWATCH_OPERATOR_EMAIL")
    monkeypatch.setenv("NEWSWATCH_OPERATOR_APPRISE_ENV", "OPS_CHAT")
    monkeypatch.setenv("OPS_CHAT", f"json://127.0.0.1:{httpserver.port}/ops")
    first_run(web)
    seed_history("wire", every(DAY1 - 28 * DAY, DAY1 - 3 * DAY, 2 * HOUR))
    run_at(DAY1)  # the day's report: wire gone quiet
    web.moved["mover"] = "/wire/feed"
    clock.freeze(DAY1 + 2 * HOUR)
    pipeline.run_once(get_settings(), force=["mover"])  # after the report: waits a day
    run_at(DAY1 + 3 * HOUR)
    run_at(DAY1 + DAY)

    posts = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/ops"]
    assert [post["title"] for post in posts] == [
        "[newswatch] Feed watch: wire gone quiet",
        "[newswatch] Feed watch: mover moved onto another feed",
    ]
    assert reports(smtp) == []


COOKIE_STORY = (
    "<html lang='en'><body><article><h1>Regulator fines publishers over cookie banners</h1>"
    "<p>The data protection regulator on Tuesday fined three news publishers for cookie banners "
    "that made it harder to refuse tracking than to accept it. Banners with a prominent 'Accept "
    "all' button that hid the refusal behind cookie settings broke the law, it said.</p>"
    "<p>Consent to the use of tracking cookies must be as easy to withdraw as to give. The "
    "publishers said they would redesign their cookie policy pages within a month.</p>"
    "</article></body></html>"
)


def test_articles_about_cookie_banners_are_read_not_taken_for_walls(
    web: NewsWeb, smtp: Mailbox
) -> None:
    first_run(web)
    seed_history("wire", every(DAY1 - 28 * DAY, DAY1 - DAY, 2 * HOUR))
    slugs = [f"regulator-fines-publishers-over-cookie-banners-{n}" for n in range(3)]
    web.publish("wire", *slugs)
    web.pages |= {slug: COOKIE_STORY.replace("Tuesday", f"day {n}") for n, slug in enumerate(slugs)}
    web.walls.add(slugs[0])  # the page of a story with another headline: a wall
    web.pages.pop(slugs[0])

    run_at(DAY1)

    with db.transaction(db.session_factory(get_settings())) as session:
        read = session.execute(
            select(models.Article.url, models.Article.text_source, models.Article.fetch_error)
            .where(models.Article.url.like("%regulator-fines%"))
            .order_by(models.Article.url)
        ).all()
    assert [source for _, source, _ in read] == ["title", "page", "page"]
    assert [error and error.split(",")[0] for _, _, error in read] == [
        "the page is a wall",
        None,
        None,
    ]
    assert ("wire", "blocked") not in findings()


def test_taking_a_feed_out_closes_its_findings_without_telling_of_a_mend(
    web: NewsWeb, smtp: Mailbox
) -> None:
    first_run(web)
    seed_history("wire", every(DAY1 - 28 * DAY, DAY1 - 3 * DAY, 2 * HOUR))
    run_at(DAY1)  # wire gone quiet, told
    result = CliRunner().invoke(app, ["feeds", "disable", "wire"])
    assert result.exit_code == 0, result.output

    run_at(DAY1 + DAY)

    assert findings()[("wire", "quiet")][0] is False
    assert [r["Subject"] for r in reports(smtp)] == ["[newswatch] Feed watch: wire gone quiet"]


def test_a_report_of_many_findings_lists_the_first_and_counts_the_rest(
    web: NewsWeb, smtp: Mailbox
) -> None:
    first_run(web)
    feeds_yaml = Path(os.environ["NEWSWATCH_CONFIG_DIR"]) / "feeds.yaml"
    with feeds_yaml.open("a") as feeds:
        for n in range(40):
            feeds.write(f"  - {{name: outage {n:02}, url: 'https://outage.example/{n}/feed'}}\n")
    with db.transaction(db.session_factory(get_settings())) as session:
        for n in range(40):  # an outage: every feed of a host failing at once
            session.add(
                models.Feed(
                    name=f"outage {n:02}",
                    url=f"https://outage.example/{n}/feed",
                    config_url=f"https://outage.example/{n}/feed",
                    last_status="error",
                    consecutive_failures=3,
                    last_error="cannot resolve outage.example",
                    next_poll_at=DAY1 + 30 * DAY,  # not polled: it is their history that counts
                )
            )

    run_at(DAY1)

    (report,) = reports(smtp)
    assert report["Subject"] == (
        "[newswatch] Feed watch: 40 new problems (outage 00, outage 01, outage 02 +37)"
    )
    body = plain(report)
    listed = REPORT_LINES
    assert body.count("· Failing (noticed") == listed
    assert f"* and {40 - listed} more new problems" in body
    assert "40 open now (40 new, 0 from before)" in body
    html = report.get_body(preferencelist=("html",))
    assert html is not None and f"And {40 - listed} more new problems" in str(html.get_content())
