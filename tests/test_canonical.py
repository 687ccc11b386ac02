"""A page's own canonical link names the article: tracking links in two feeds store one article."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newswatch import clock, models, pipeline
from newswatch.settings import Settings, get_settings
from newswatch.store import db

BODY = "<p>" + "Tariffs on steel rose again this week, officials said. " * 20 + "</p>"


def feed(base: str, name: str, link: str) -> str:
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title><item>"
        f"<title>Steel tariffs rise</title><link>{base}{link}</link></item></channel></rss>"
    )


def test_feed_links_that_name_one_canonical_page_store_one_article_with_both_sources(
    settings: Settings,
    threaded_httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    page = (
        "<html><head><link rel='canonical' href='/news/steel'></head><body><article>"
        f"{BODY}</article></body></html>"
    )
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    threaded_httpserver.expect_request("/a.xml").respond_with_data(
        feed(base, "A", "/r/1?ref=a"), content_type="application/rss+xml"
    )
    threaded_httpserver.expect_request("/b.xml").respond_with_data(
        feed(base, "B", "/amp/steel"), content_type="application/rss+xml"
    )
    for path in ("/r/1", "/amp/steel"):
        threaded_httpserver.expect_request(path).respond_with_data(page, content_type="text/html")
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - {{name: A, url: '{base}/a.xml'}}\n  - {{name: B, url: '{base}/b.xml'}}\n"
    )
    (tmp_path / "topics.yaml").write_text(
        "recipients: [desk@example.com]\ntopics:\n  - name: tariffs\n    keywords: [tariff]\n"
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    first = pipeline.run_once(get_settings()).to_xcom()
    clock.freeze(clock.now() + timedelta(hours=25))
    pipeline.run_once(get_settings())  # the same links again: neither page is fetched again
    with db.transaction(db.session_factory(settings)) as session:
        (article,) = session.scalars(select(models.Article))
        sources = session.execute(
            select(models.Feed.name, models.ArticleSource.url)
            .join(models.ArticleSource, models.ArticleSource.feed_id == models.Feed.id)
            .order_by(models.Feed.name)
        ).all()
    assert article.url == f"{base}/news/steel"
    assert [name for name, _ in sources] == ["A", "B"]
    assert {url for _, url in sources} <= {f"{base}/r/1", f"{base}/amp/steel", None}
    assert first["counts"]["alerts_new"] == 1
    page_gets = [r.path for r, _ in threaded_httpserver.log if r.path in ("/r/1", "/amp/steel")]
    assert sorted(page_gets) == ["/amp/steel", "/r/1"]  # once each, in the first run only
