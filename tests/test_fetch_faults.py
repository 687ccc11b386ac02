"""The fault matrix: one misbehaving feed per test, beside a healthy one that must come through intact.

Every server is real and on loopback; the guard, caps and deadlines under test are the production ones
(with shorter timeouts so the suite stays fast).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from newswatch import clock, models, pipeline
from newswatch.outcomes import RunSummaryXCom
from newswatch.settings import Settings, get_settings
from newswatch.store import db

GOOD_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>Healthy story about tariffs</title><link>{base}/good/story</link><guid>good-1</guid>
<description>Tariffs summary.</description></item></channel></rss>"""
GOOD_PAGE = (
    "<html><body><article><p>"
    + "Tariffs on steel rose again this week. " * 20
    + "</p></article></body></html>"
)
FAULTY_PAGE = (
    "<html><body><article><p>"
    + "Rice farmers in Niigata expect a strong harvest this autumn. " * 20
    + "</p></article></body></html>"
)
FAULTY_OK = """<?xml version="1.0"?><rss version="2.0"><channel><title>Faulty</title>
<item><title>{title}</title><link>{base}/faulty/story</link><guid>faulty-1</guid>
<description>Short.</description></item></channel></rss>"""
TOPICS = "recipients: [desk@example.com]\ntopics:\n  - name: tariffs\n    keywords: [tariff]\n"

Handler = Callable[[Request], Response]


@pytest.fixture
def fast(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in {
        "NEWSWATCH_READ_TIMEOUT": "1",
        "NEWSWATCH_CONNECT_TIMEOUT": "1",
        "NEWSWATCH_TOTAL_TIMEOUT": "3",
        "NEWSWATCH_MAX_FEED_BYTES": str(1024 * 1024),
    }.items():
        monkeypatch.setenv(name, value)
    return get_settings()


def run_beside_good_feed(
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    faulty: Handler,
    faulty_path: str = "/faulty/feed",
) -> tuple[models.Feed, RunSummaryXCom]:
    """Run the pipeline on a good feed and a faulty one; check the good one; return the faulty row."""
    base = threaded_httpserver.url_for("").rstrip("/")
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("not here", status=404)
    threaded_httpserver.expect_request("/good/feed").respond_with_data(
        GOOD_FEED.format(base=base), content_type="application/rss+xml"
    )
    threaded_httpserver.expect_request("/good/story").respond_with_data(
        GOOD_PAGE, content_type="text/html"
    )
    threaded_httpserver.expect_request(faulty_path).respond_with_handler(faulty)
    threaded_httpserver.expect_request("/faulty/story").respond_with_data(
        FAULTY_PAGE, content_type="text/html"
    )
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: Good, url: '{base}/good/feed'}}\n  - {{name: Faulty, url: '{base}{faulty_path}'}}\n"
    )
    (tmp_path / "topics.yaml").write_text(TOPICS)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    summary = pipeline.run_once(get_settings()).to_xcom()
    with db.transaction(db.session_factory(get_settings())) as session:
        good = session.scalars(
            select(models.Article).where(models.Article.title == "Healthy story about tariffs")
        ).one()
        assert good.text_source == "page" and "Tariffs on steel" in good.text
        faulty_feed = session.scalars(select(models.Feed).where(models.Feed.name == "Faulty")).one()
        session.expunge(faulty_feed)
    return faulty_feed, summary


def faulty_articles(settings: Settings) -> list[models.Article]:
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.scalars(select(models.Article).where(models.Article.url.like("%/faulty/%")))
        return list(rows)


def test_server_error_is_a_soft_failure_with_backoff(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, summary = run_beside_good_feed(
        threaded_httpserver, tmp_path, monkeypatch, lambda r: Response("boom", status=500)
    )
    assert (feed.last_error, feed.consecutive_failures, feed.enabled) == ("HTTP 500", 1, True)
    assert feed.next_poll_at is not None and feed.last_polled_at is not None
    assert timedelta(minutes=59) < feed.next_poll_at - feed.last_polled_at <= timedelta(hours=1)
    assert "feed 'Faulty': HTTP 500" in summary["errors"]


def test_no_response_hits_the_read_timeout(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def silent(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            time.sleep(2.5)
            yield b""

        return Response(body(), content_type="application/rss+xml")

    feed, _ = run_beside_good_feed(threaded_httpserver, tmp_path, monkeypatch, silent)
    assert feed.last_error is not None and "timed out" in feed.last_error


def test_slow_drip_is_cut_at_the_total_deadline(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def drip(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b"<?xml version='1.0'?><rss version='2.0'><channel>"
            for _ in range(
                8
            ):  # one byte every 0.5 s: never a read timeout, always too slow overall
                time.sleep(0.5)
                yield b" "

        return Response(body(), content_type="application/rss+xml")

    started = time.monotonic()
    feed, _ = run_beside_good_feed(threaded_httpserver, tmp_path, monkeypatch, drip)
    assert feed.last_error == "deadline of 3s exceeded"
    assert time.monotonic() - started < 8


def test_malformed_but_recoverable_xml_keeps_items_and_records_the_problem(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    broken = FAULTY_OK.format(base=base, title="Tariff story & more").replace(
        "</channel></rss>", "<item><title>unclosed"
    )
    feed, summary = run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(broken, content_type="application/rss+xml"),
    )
    assert [a.title for a in faulty_articles(fast)] == ["Tariff story & more"]
    assert feed.last_error is not None and feed.last_error.startswith(
        "recovered from a malformed feed"
    )
    assert any("recovered from a malformed feed" in e for e in summary["errors"])


def test_html_page_instead_of_a_feed_is_reported(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    html = "<html><head><title>Home</title></head><body><p>Welcome</p></body></html>"
    feed, _ = run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(html, content_type="text/html"),
    )
    assert feed.last_error is not None and feed.last_error.startswith("not a readable feed")


def test_huge_body_is_cut_at_the_byte_cap(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = []

    def huge(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            chunk = b"x" * 65536
            for _ in range(200 * 16):  # 200 MB if anyone read it all
                sent.append(len(chunk))
                yield chunk

        return Response(body(), content_type="application/rss+xml")

    feed, _ = run_beside_good_feed(threaded_httpserver, tmp_path, monkeypatch, huge)
    assert feed.last_error == f"body larger than {1024 * 1024} bytes"
    assert sum(sent) < 50 * 1024 * 1024


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """1 GiB of zeros, gzip-compressed to about 1 MB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(1024)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_cut_after_decompression(
    fast: Settings,
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gzip_bomb: bytes,
) -> None:
    assert len(gzip_bomb) < 2 * 1024 * 1024

    def bomb(request: Request) -> Response:
        headers = {"Content-Encoding": "gzip"}
        return Response(gzip_bomb, content_type="application/rss+xml", headers=headers)

    feed, _ = run_beside_good_feed(threaded_httpserver, tmp_path, monkeypatch, bomb)
    assert feed.last_error == f"body larger than {1024 * 1024} bytes"


def test_redirect_loop_stops_after_five_hops(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = lambda r: Response(status=302, headers={"Location": "/faulty/feed?again=1"})  # noqa: E731
    feed, _ = run_beside_good_feed(threaded_httpserver, tmp_path, monkeypatch, loop)
    assert feed.last_error == "more than 5 redirects"


def test_permanent_redirect_updates_the_stored_url(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    threaded_httpserver.expect_request("/faulty/new-feed").respond_with_data(
        FAULTY_OK.format(base=base, title="Moved tariff story"), content_type="application/rss+xml"
    )
    moved = lambda r: Response(status=301, headers={"Location": f"{base}/faulty/new-feed"})  # noqa: E731
    feed, summary = run_beside_good_feed(threaded_httpserver, tmp_path, monkeypatch, moved)
    assert feed.url == f"{base}/faulty/new-feed" and feed.last_error is None
    assert any("moved permanently" in e for e in summary["errors"])
    assert [a.title for a in faulty_articles(fast)] == ["Moved tariff story"]


def test_temporary_redirect_keeps_the_stored_url(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    threaded_httpserver.expect_request("/faulty/elsewhere").respond_with_data(
        FAULTY_OK.format(base=base, title="Story"), content_type="application/rss+xml"
    )
    feed, _ = run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(status=307, headers={"Location": f"{base}/faulty/elsewhere"}),
    )
    assert feed.url == f"{base}/faulty/feed"


def test_gone_feed_is_reported_and_retried_only_monthly(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, summary = run_beside_good_feed(
        threaded_httpserver, tmp_path, monkeypatch, lambda r: Response("gone", status=410)
    )
    assert feed.last_error is not None and "410 Gone" in feed.last_error
    assert feed.next_poll_at is not None and feed.last_polled_at is not None
    assert feed.next_poll_at - feed.last_polled_at >= timedelta(days=30)
    assert any("410" in e for e in summary["errors"])


def test_rate_limited_feed_waits_for_retry_after(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = lambda r: Response("slow down", status=429, headers={"Retry-After": "7200"})  # noqa: E731
    feed, _ = run_beside_good_feed(threaded_httpserver, tmp_path, monkeypatch, limited)
    assert feed.next_poll_at is not None and feed.last_polled_at is not None
    wait = feed.next_poll_at - feed.last_polled_at
    assert timedelta(hours=2) <= wait <= timedelta(hours=2.2)


def test_cp1252_body_declared_utf8_is_read_correctly(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    body = FAULTY_OK.format(base=base, title="Café “tariff” talks").encode("cp1252")
    feed, _ = run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(body, content_type="application/rss+xml; charset=utf-8"),
    )
    assert [a.title for a in faulty_articles(fast)] == ["Café “tariff” talks"]
    assert feed.last_error is None


def test_billion_laughs_does_not_expand(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY lol0 "lol">{entities}]>'
        + FAULTY_OK.format(base=base, title="&lol9; tariff").split("?>", 1)[1]
    )
    started = time.monotonic()
    run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(body, content_type="application/rss+xml"),
    )
    assert time.monotonic() - started < 10
    assert all(len(a.title) < 1000 for a in faulty_articles(fast))


def test_external_entity_is_neither_read_nor_fetched(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY file SYSTEM "file://{secret}">'
        f'<!ENTITY web SYSTEM "{base}/exfiltrate">]>'
        + FAULTY_OK.format(base=base, title="a &file; &web; tariff").split("?>", 1)[1]
    )
    run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(body, content_type="application/rss+xml"),
    )
    texts = " ".join(a.title + a.text for a in faulty_articles(fast))
    assert "TOP-SECRET" not in texts
    assert not any(request.path == "/exfiltrate" for request, _ in threaded_httpserver.log)


def test_redirect_to_a_private_address_is_refused(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the name "localhost" is allowed; the redirect target is 127.0.0.1 by address: refused.
    monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "localhost")
    port = threaded_httpserver.port
    threaded_httpserver.expect_request("/faulty/secret").respond_with_data(
        "internal", content_type="text/plain"
    )
    threaded_httpserver.expect_request("/redirecting").respond_with_handler(
        lambda r: Response(
            status=302, headers={"Location": f"http://127.0.0.1:{port}/faulty/secret"}
        )
    )
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: Faulty, url: 'http://localhost:{port}/redirecting'}}\n"
    )
    (tmp_path / "topics.yaml").write_text(TOPICS)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    pipeline.run_once(get_settings())
    with db.transaction(db.session_factory(get_settings())) as session:
        feed = session.scalars(select(models.Feed)).one()
    assert feed.last_error is not None and "127.0.0.1, a non-public address" in feed.last_error
    assert not any(request.path == "/faulty/secret" for request, _ in threaded_httpserver.log)


def test_quadratic_author_string_is_bounded(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    body = FAULTY_OK.format(base=base, title="Tariff news").replace(
        "<guid>", "<author>" + "a" * 200_000 + "</author><guid>"
    )
    started = time.monotonic()
    run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(body, content_type="application/rss+xml"),
    )
    assert time.monotonic() - started < 10
    (article,) = faulty_articles(fast)
    assert article.author is not None and len(article.author) <= 512


def test_feed_past_the_parse_deadline_fails_alone(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_MAX_FEED_BYTES", str(16 * 1024 * 1024))
    monkeypatch.setenv("NEWSWATCH_PARSE_TIMEOUT", "0.5")
    monkeypatch.setenv("NEWSWATCH_EXTRACT_WORKERS", "2")  # the deadline needs worker processes
    base = threaded_httpserver.url_for("").rstrip("/")
    item = "<item><title>Tariff {0}</title><link>{1}/faulty/{0}</link><description>{2}</description></item>"
    words = "<p>Tariffs, <b>trade</b> &amp; talks.</p> " * 150
    body = FAULTY_OK.format(base=base, title="x").replace(
        "</channel>", "".join(item.format(i, base, words) for i in range(1900)) + "</channel>"
    )
    feed, summary = run_beside_good_feed(
        threaded_httpserver,
        tmp_path,
        monkeypatch,
        lambda r: Response(body, content_type="application/rss+xml"),
    )
    assert feed.last_error == "parsing stopped: it took longer than 0.5 s"
    assert feed.consecutive_failures == 1 and faulty_articles(fast) == []
    assert "feed 'Faulty': parsing stopped: it took longer than 0.5 s" in summary["errors"]


def test_failing_feed_goes_dormant_after_the_configured_failures(
    fast: Settings, threaded_httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_MAX_CONSECUTIVE_FAILURES", "2")
    feed, _ = run_beside_good_feed(
        threaded_httpserver, tmp_path, monkeypatch, lambda r: Response("boom", status=500)
    )
    clock.freeze(clock.now() + timedelta(hours=2))
    pipeline.run_once(get_settings())
    with db.transaction(db.session_factory(get_settings())) as session:
        feed = session.scalars(select(models.Feed).where(models.Feed.name == "Faulty")).one()
    assert feed.consecutive_failures == 2 and feed.enabled
    assert feed.next_poll_at is not None and feed.last_polled_at is not None
    assert feed.next_poll_at - feed.last_polled_at >= timedelta(days=30)
