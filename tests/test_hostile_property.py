"""Generated hostile input (hypothesis): whatever a feed, page or header holds, a run completes,
the healthy feed beside it comes through exactly once, and a rerun stores nothing twice.

The pure edges (feed parsing, URLs, timing headers) take hundreds of cases; the whole pipeline
over real loopback HTTP and a real database takes fewer, each a full run twice.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from newswatch import clock, models, pipeline, schedule
from newswatch.feeds import FeedParseError, parse_feed
from newswatch.records import FeedItem
from newswatch.sanitize import TITLE_CHARS, URL_CHARS
from newswatch.settings import Settings, get_settings
from newswatch.store import db
from newswatch.urls import parse_url

# What must never reach the store or an email: NUL and other C0 controls but tab and newline,
# C1 controls, lone surrogates, U+FFFE/U+FFFF.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
NASTY = (
    "\x00\x01\x08\x0b\x0c\r\n\t\x1b\x7f\x85\x9f\u2028\u2029\u202a\u202e\u2066\u2069\u200f"
    "\ufeff\ufffe\uffff\ud800\udbff\udc00\udfff<>&\"'=?]]>"
)
TOPICS = "recipients: [desk@example.com]\ntopics:\n  - name: tariffs\n    keywords: [tariff]\n"

chars = st.one_of(st.characters(), st.sampled_from(NASTY))
short_text = st.text(chars, max_size=40)
text = st.one_of(
    short_text,
    st.builds(
        lambda piece, times: piece * times,
        st.text(chars, min_size=1, max_size=4),
        st.integers(0, 3000),
    ),
    st.sampled_from(["", " ", "tariff", "=?utf-8?q?a=0D=0AReply-To:_x@evil?=", "Read more."]),
)
number = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["", "1e400", "NaN", "-0", "\u0661\u0662\u0660", " 60 ", "9" * 400, "0x10"]),
    short_text,
)
date = st.one_of(
    st.sampled_from(
        [
            "Fri, 01 Jan 2100 00:00:00 GMT",
            "Mon, 01 Jan 0001 00:00:00 GMT",
            "Thu, 31 Dec 99999 23:59:59 GMT",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "2026-13-45T99:99:99Z",
        ]
    ),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    short_text,
)
url = st.one_of(
    st.sampled_from(
        [
            "http://0177.0.0.1/x",
            "http://[::1/x",
            "http://[::1]/x",
            "http://example.com:99999/",
            "http://%00/",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "//127.0.0.1/x",
            "http://xn--/",
            "http://a" + "b" * 3000 + ".com/",
            "http://127.0.0.1:1/closed",
            "http://10.0.0.1/private",
            "",
        ]
    ),
    st.integers(0, 3).map(lambda i: f"page{i}"),  # a page on the hostile server, relative
    short_text,
)
guid = st.one_of(st.none(), st.sampled_from(["same", "same", "other"]), short_text)
header_value = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
)


@dataclass
class HostileItem:
    title: str
    link: str
    guid: str | None
    summary: str
    content: str
    date: str
    author: str


@dataclass
class HostileFeed:
    kind: str  # rss, atom or json
    title: str
    ttl: str
    raw: bool  # controls and surrogates as raw bytes instead of character references
    items: list[HostileItem]
    status: int
    headers: dict[str, str]
    page_title: str
    page_text: str
    page_lang: str


items = st.builds(
    HostileItem,
    title=text,
    link=url,
    guid=guid,
    summary=text,
    content=text,
    date=date,
    author=text,
)
hostile_feeds = st.builds(
    HostileFeed,
    kind=st.sampled_from(["rss", "atom", "json"]),
    title=text,
    ttl=number,
    raw=st.booleans(),
    items=st.lists(items, max_size=6),
    status=st.sampled_from([200, 200, 200, 200, 410, 429, 503]),
    headers=st.fixed_dictionaries(
        {},
        optional={
            "Retry-After": st.one_of(number.filter(lambda v: v.isprintable()), header_value),
            "Cache-Control": st.one_of(
                number.filter(lambda v: v.isprintable()).map(lambda v: f"max-age={v}"),
                header_value,
            ),
            "ETag": header_value,
            "Last-Modified": header_value,
        },
    ),
    page_title=text,
    page_text=text,
    page_lang=st.one_of(st.sampled_from(["en", "en-" + "x" * 300, "zz-ZZ-zzzz", ""]), short_text),
)


def xml_text(value: str, raw: bool) -> str:
    """value as XML character data: markup escaped; what XML cannot hold as a character
    reference (or raw, to be refused or recovered by the parser)."""
    out = []
    for ch in value:
        if ch in "<>&":
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;"}[ch])
        elif UNSAFE.match(ch) or ch in "\r":
            out.append(ch if raw else f"&#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def render(feed: HostileFeed) -> bytes:
    if feed.kind == "json":
        return json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": feed.title,
                "items": [
                    {
                        "id": item.guid,
                        "url": item.link,
                        "title": item.title,
                        "summary": item.summary,
                        "content_html": item.content,
                        "date_published": item.date,
                        "authors": [{"name": item.author}],
                    }
                    for item in feed.items
                ],
            }
        ).encode()

    def x(value: str) -> str:
        return xml_text(value, feed.raw)

    if feed.kind == "rss":
        entries = "".join(
            f"<item><title>{x(i.title)}</title><link>{x(i.link)}</link>"
            + (f"<guid isPermaLink='false'>{x(i.guid)}</guid>" if i.guid is not None else "")
            + f"<description>{x(i.summary)}</description><pubDate>{x(i.date)}</pubDate>"
            f"<author>{x(i.author)}</author></item>"
            for i in feed.items
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{x(feed.title)}</title><ttl>{x(feed.ttl)}</ttl>{entries}</channel></rss>"
        )
    else:
        entries = "".join(
            f'<entry><title>{x(i.title)}</title><link href="{x(i.link)}"/>'
            + (f"<id>{x(i.guid)}</id>" if i.guid is not None else "")
            + f"<summary>{x(i.summary)}</summary><content type='html'>{x(i.content)}</content>"
            f"<updated>{x(i.date)}</updated><author><name>{x(i.author)}</name></author></entry>"
            for i in feed.items
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{x(feed.title)}</title>{entries}</feed>"
        )
    return body.encode("utf-8", "surrogatepass")


def assert_clean(item: FeedItem) -> None:
    for f in fields(item):
        value = getattr(item, f.name)
        if isinstance(value, str):
            assert not UNSAFE.search(value), (f.name, value[:80])
    assert len(item.title) <= TITLE_CHARS and "\n" not in item.title
    assert len(item.url) <= URL_CHARS
    if item.link is not None:
        assert item.link == item.url and parse_url(item.link).url == item.link
        httpx.URL(item.link)
    for when in (item.published_at, item.claimed_published_at):
        assert when is None or when.tzinfo is not None


# The pure edges: many cases, fast.


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_feeds)
def test_any_feed_parses_to_clean_bounded_items_or_one_clear_error(feed: HostileFeed) -> None:
    content_type = "application/feed+json" if feed.kind == "json" else "application/xml"
    try:
        parsed = parse_feed(
            7, render(feed), "http://127.0.0.1/h/feed", {"content-type": content_type}
        )
    except FeedParseError as exc:
        assert str(exc).startswith("not a readable feed")
        return
    for item in parsed.items:
        assert_clean(item)
    assert parsed.title is None or not UNSAFE.search(parsed.title)
    assert parsed.ttl_minutes is None or 0 < parsed.ttl_minutes <= 366 * 24 * 60


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(url, text), st.sampled_from([None, "http://127.0.0.1/feed", "https://a.example/x/"])
)
def test_any_url_is_parsed_once_or_refused_with_a_reason(raw: str, base: str | None) -> None:
    parsed = parse_url(raw, base)
    if parsed.url is None:
        assert parsed.refused and not UNSAFE.search(parsed.refused)
        return
    assert parsed.url.startswith(("http://", "https://")) and len(parsed.url) <= URL_CHARS
    assert not UNSAFE.search(parsed.url)
    httpx.URL(parsed.url)  # what the downloader will parse


@settings(max_examples=1000, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["retry-after", "cache-control"]), st.one_of(number, header_value)
    ),
    st.one_of(st.none(), st.integers(-(10**30), 10**30)),
    st.sampled_from([200, 304, 429, 503]),
    st.integers(0, 10**6),
)
def test_timing_hints_of_any_size_give_a_next_poll_within_bounds(
    headers: dict[str, str], ttl: int | None, status: int, failures: int
) -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    bounds = schedule.Bounds(timedelta(minutes=15), timedelta(hours=24))
    ttl_minutes = parse_ttl(ttl)
    ok = schedule.after_success(
        now=now,
        bounds=bounds,
        published=[],
        previous=None,
        headers=headers,
        ttl_minutes=ttl_minutes,
    )
    assert bounds.shortest <= ok.at - now <= bounds.longest
    failed = schedule.after_failure(
        now=now, failures=failures, max_failures=30, status=status, headers=headers
    )
    assert timedelta(0) <= failed.at - now <= schedule.DORMANT_RETRY


def parse_ttl(ttl: int | None) -> int | None:
    body = f'<rss version="2.0"><channel><ttl>{ttl}</ttl></channel></rss>'.encode()
    try:
        return parse_feed(
            1, body, "http://127.0.0.1/", {"content-type": "application/xml"}
        ).ttl_minutes
    except FeedParseError:
        return None


# The whole pipeline: a hostile feed beside a healthy one, over loopback HTTP, twice.

WORDS = [
    f"{a}{b}"
    for a in ("ka", "to", "mi", "re", "su", "no", "ha", "yo")
    for b in ("ri", "ta", "mo", "ne", "ku", "shi", "ro", "ga", "zu", "pe")
]


def healthy_text(n: int) -> str:
    """A page text of its own per case, so no case's healthy story is a near-copy of another's."""
    rng = random.Random(n)
    words = [rng.choice(WORDS) + rng.choice(WORDS) for _ in range(120)]
    return "Tariffs on steel: " + " ".join(words) + "."


@pytest.fixture
def loopback(
    settings: Settings,
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[HTTPServer, Path]]:
    monkeypatch.setenv("NEWSWATCH_READ_TIMEOUT", "2")
    monkeypatch.setenv("NEWSWATCH_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("NEWSWATCH_TOTAL_TIMEOUT", "5")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    (tmp_path / "topics.yaml").write_text(TOPICS)
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    yield threaded_httpserver, tmp_path


CASES = itertools.count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(feed=hostile_feeds)
def test_a_hostile_feed_never_costs_the_healthy_one_or_a_rerun(
    loopback: tuple[HTTPServer, Path], feed: HostileFeed
) -> None:
    server, folder = loopback
    n = next(CASES)
    base = server.url_for("").rstrip("/")
    server.expect_request(f"/ok{n}/feed").respond_with_data(
        f'<rss version="2.0"><channel><title>OK</title><item><title>Tariff news {n}</title>'
        f"<link>{base}/ok{n}/story</link><guid>ok-{n}</guid></item></channel></rss>",
        content_type="application/rss+xml",
    )
    server.expect_request(f"/ok{n}/story").respond_with_data(
        f"<html><body><article><p>{healthy_text(n)}</p></article></body></html>",
        content_type="text/html",
    )
    server.expect_request(f"/h{n}/feed").respond_with_data(
        render(feed),
        status=feed.status,
        headers=feed.headers,
        content_type="application/feed+json" if feed.kind == "json" else "application/xml",
    )
    page = (
        f'<html lang="{xml_text(feed.page_lang, False)}"><head><title>{xml_text(feed.page_title, feed.raw)}'
        f"</title></head><body><article><p>{xml_text(feed.page_text, feed.raw)}</p></article></body></html>"
    )
    for i in range(4):
        server.expect_request(f"/h{n}/page{i}").respond_with_data(
            page.encode("utf-8", "surrogatepass"), content_type="text/html"
        )
    (folder / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: 'OK {n}', url: '{base}/ok{n}/feed'}}\n"
        f"  - {{name: 'Hostile {n}', url: '{base}/h{n}/feed'}}\n"
    )
    current = get_settings()
    factory = db.session_factory(current)

    pipeline.run_once(current)  # completes: no exception escapes
    with db.transaction(factory) as session:
        story = session.scalars(
            select(models.Article.story_id).where(models.Article.url == f"{base}/ok{n}/story")
        ).one()
        assert session.scalar(select(func.count()).where(models.Alert.story_id == story)) == 1
        hostile = session.scalars(
            select(models.Feed).where(models.Feed.name == f"Hostile {n}")
        ).one()
        assert hostile.last_polled_at is not None
        if hostile.consecutive_failures:
            assert hostile.last_error  # recorded with a reason
        for article in session.scalars(
            select(models.Article).where(models.Article.feed_id == hostile.id)
        ):
            for value in (article.title, article.text, article.summary, article.author or ""):
                assert not UNSAFE.search(value)
        run = session.scalars(select(models.Run).order_by(models.Run.id.desc())).first()
        assert run is not None and run.finished_at is not None
        before = [session.scalar(select(func.count()).select_from(t)) for t in COUNTED]
    outbox = len(list(current.outbox_dir.glob("*.eml")))

    clock.freeze(clock.now() + timedelta(days=2))  # both feeds due again, backoff or not
    pipeline.run_once(current)
    with db.transaction(factory) as session:
        after = [session.scalar(select(func.count()).select_from(t)) for t in COUNTED]
    assert after == before
    assert len(list(current.outbox_dir.glob("*.eml"))) == outbox


COUNTED = (models.Article, models.Match, models.Alert, models.Story)
