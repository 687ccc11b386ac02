"""The dashboard's pages on a real store filled by one pipeline run over the sample news day."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html import unescape as html_unescape
from urllib.parse import urljoin

import pytest
from expected import TAKAICHI
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import dashboard_after_a_run
from sqlalchemy import select

from newswatch import clock, models
from newswatch.dashboard import render
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings
from newswatch.store import db
from newswatch.store.reads import DailyHits
from newswatch.store.search import MARK_END, MARK_START

TOYOTA = "Toyota warns U.S. tariffs will cut profit by $9 billion"
RARE_EARTH = "China tightens export controls on rare earth magnets"
SEOUL = "Seoul raises defence spending for fourth year"
CHERRY = "Cherry blossoms forecast to open early in Tokyo"
PINEAPPLE = "Taiwanese pineapple growers expect bumper harvest"


@pytest.fixture
def client(settings: Settings, news_day: SampleDay) -> Iterator[TestClient]:
    """The dashboard over the stored sample day; Airflow's login is tested in the browser test."""
    with dashboard_after_a_run() as test_client:
        yield test_client


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}"[^>]*>(.*?)</section>', html, re.S)
    assert match, f"no section {name!r}"
    return match.group(1)


def titles(html: str) -> set[str]:
    candidates = {TAKAICHI, TOYOTA, RARE_EARTH, SEOUL, CHERRY, PINEAPPLE}
    return {title for title in candidates if title.replace("$", "&#36;") in html or title in html}


def test_every_page_answers(client: TestClient) -> None:
    for path in [
        "/",
        "/chart",
        "/feeds",
        "/search",
        "/search?q=taiwan",
        "/rules",
        "/rules?q=taiwan&topic=taiwan",
        "/rules/preview?q=taiwan",
        "/static/dashboard.css",
        "/static/rules.js",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
    policy = client.get("/").headers["content-security-policy"]
    # Scripts only from our own files: no inline script, no eval, nothing from elsewhere.
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert re.findall(r"<script[^>]*>", client.get("/rules").text) == [
        '<script src="static/theme.js">',
        '<script src="static/rules.js" defer>',
    ]
    # Every page: only the theme script, and no inline script anywhere.
    assert re.findall(r"<script[^>]*>", client.get("/").text) == ['<script src="static/theme.js">']


def test_inside_airflows_frame_every_page_drops_its_own_header(client: TestClient) -> None:
    framed = {"Sec-Fetch-Dest": "iframe"}
    for path in ["/", "/chart", "/feeds", "/search?q=taiwan", "/rules", "/?since=garbage"]:
        html = client.get(path, headers=framed).text
        assert '<body class="embedded">' in html and 'class="brand"' not in html, path
        assert 'class="brand"' in client.get(path).text, path


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="story">(.*?)</li>', section(html, "stories"), re.S)


def test_front_page_lists_each_story_once_with_its_topics_outlets_and_alerts(
    client: TestClient,
) -> None:
    html = client.get("/").text
    stories = cards(html)
    # Stories that hit a topic, each once however many outlets carried it.
    assert len(stories) == 4
    assert titles(section(html, "stories")) == {TAKAICHI, TOYOTA, RARE_EARTH, SEOUL}
    summit = next(card for card in stories if TAKAICHI in card)
    assert "AloJapan, Asia Wire" in summit
    # Topic chips show titles and filter by name; the snippet marks the terms.
    assert '<a class="chip" href="?topic=us-japan-relations"' in summit
    assert ">US–Japan relations</a>" in summit
    assert "<mark>" in summit
    assert "Alerted to analyst@example.com" in summit
    assert 'href="story?id=' in summit
    everything = client.get("/", params={"unmatched": "1"}).text
    assert titles(section(everything, "stories")) == {
        TAKAICHI,
        TOYOTA,
        RARE_EARTH,
        SEOUL,
        CHERRY,
        PINEAPPLE,
    }
    assert "Not alerted" in everything


def test_a_story_page_shows_every_copy_match_and_delivery(client: TestClient) -> None:
    front = client.get("/").text
    summit = next(card for card in cards(front) if TAKAICHI in card)
    (story_id,) = re.findall(r'href="story\?id=(\d+)"', summit)
    html = client.get("/story", params={"id": story_id}).text
    assert f"<h1>{TAKAICHI}</h1>" in html
    copies = re.findall(r'<tr class="copy">', section(html, "copies"))
    assert len(copies) == 2  # AloJapan's page and Asia Wire's copy
    assert "Asia Wire" in section(html, "copies")
    matches = section(html, "matches")
    assert "Tariffs" in matches and " at " in matches  # a term and where it is in the text
    log = section(html, "deliveries")
    assert "analyst@example.com" in log and "sent" in log
    assert client.get("/story", params={"id": "999999"}).status_code == 404
    assert client.get("/story", params={"id": "x"}).status_code == 400
    assert client.get("/story").status_code == 400


def test_topic_filter_narrows_the_stories(client: TestClient) -> None:
    html = client.get("/", params={"topic": "tariffs"}).text
    assert titles(section(html, "stories")) == {TAKAICHI, TOYOTA}
    assert '<option value="tariffs" selected>Tariffs</option>' in html


def test_feed_filter_counts_every_feed_an_article_appeared_in(client: TestClient) -> None:
    html = client.get("/", params={"feed": "Asia Wire", "unmatched": "1"}).text
    assert titles(section(html, "stories")) == {TAKAICHI, RARE_EARTH, SEOUL, PINEAPPLE}
    html = client.get("/", params={"feed": "AloJapan", "unmatched": "1"}).text
    assert titles(section(html, "stories")) == {TAKAICHI, TOYOTA, CHERRY}


def test_date_range_filter_uses_the_article_date_in_the_desks_zone(client: TestClient) -> None:
    # Days in NEWSWATCH_DIGEST_TIMEZONE (Asia/Tokyo), as the cards show them: Seoul's story,
    # published 2025-12-16 17:00 UTC, is a 17 December story in Tokyo.
    html = client.get("/", params={"since": "2025-12-16", "until": "2025-12-16"}).text
    assert titles(section(html, "stories")) == {TOYOTA, RARE_EARTH}
    html = client.get("/", params={"since": "2025-12-17", "until": "2025-12-17"}).text
    assert SEOUL in section(html, "stories")
    html = client.get("/", params={"since": "2025-12-17", "topic": "taiwan", "feed": ""}).text
    assert titles(section(html, "stories")) == {TAKAICHI}


def test_stories_by_most_outlets_put_the_syndicated_story_first(client: TestClient) -> None:
    html = client.get("/", params={"order": "outlets"}).text
    assert TAKAICHI in cards(html)[0]
    assert client.get("/", params={"order": "loudest"}).status_code == 400
    assert client.get("/", params={"unmatched": "yes"}).status_code == 400


def test_a_bad_date_is_a_clear_400(client: TestClient) -> None:
    response = client.get("/", params={"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.text


def test_chart_counts_hits_per_topic_today(client: TestClient) -> None:
    html = client.get("/chart").text
    assert "<svg" in html and html.count('<g class="series"') == 5
    assert html.count('<rect class="bar"') == 5  # one bar per topic, all today
    totals = dict(re.findall(r'<tr data-topic="([^"]+)">.*?<td class="total">(\d+)</td>', html))
    assert totals == {
        "defense-spending": "2",
        "rare-earths": "2",
        "tariffs": "2",
        "taiwan": "1",
        "us-japan-relations": "1",
    }


def test_feed_health_shows_the_failing_feed_first(client: TestClient) -> None:
    html = client.get("/feeds").text
    rows = re.findall(r'<tr class="feed[^"]*">(.*?)</tr>', html, re.S)
    assert len(rows) == 3
    assert "Broken Times" in rows[0] and "HTTP 500" in rows[0]
    assert "failed (HTTP 500), 1 failed in a row" in rows[0]
    assert '<tr class="feed failing">' in html


def test_feed_health_lists_the_watchdogs_findings_first_with_a_sparkline(
    client: TestClient, settings: Settings
) -> None:
    with db.transaction(db.session_factory(settings)) as session:
        feed = session.scalars(select(models.Feed).where(models.Feed.name == "Asia Wire")).one()
        at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        session.add(
            models.FeedFinding(
                feed_id=feed.id,
                kind="blocked",
                reason="3 of its 4 pages in the last day were a wall <script>",
                first_seen_at=at,
                last_seen_at=at,
            )
        )
    html = client.get("/feeds").text
    rows = re.findall(r'<tr class="feed[^"]*">(.*?)</tr>', html, re.S)
    assert "Asia Wire" in rows[0]  # findings first, then failures
    assert "<strong>Pages blocked</strong>: 3 of its" in rows[0] and "(noticed" in rows[0]
    assert "a wall &lt;script&gt;" in rows[0]
    assert "1 of 3 feeds need attention" in html
    spark = re.search(r'<svg[^>]*class="spark">.*?</svg>', rows[1], re.S)
    assert spark is not None and spark.group().count("<rect") == 28


def test_search_lists_each_story_once_best_first_and_highlights(client: TestClient) -> None:
    html = client.get("/search", params={"q": "rare earth"}).text
    hits = re.findall(r'<li class="hit">(.*?)</li>', html, re.S)
    assert len(hits) == 2  # the summit story once, though AloJapan's and Asia Wire's matched
    assert RARE_EARTH in hits[0] and TAKAICHI in hits[1]
    assert "<mark>rare</mark> <mark>earth</mark>" in hits[0]
    assert "2 copies matched" in hits[1]
    assert "rank" not in html


def test_search_narrows_by_topic_and_date(client: TestClient) -> None:
    html = client.get("/search", params={"q": "rare earth", "topic": "tariffs"}).text
    assert titles(html) == {TAKAICHI}
    html = client.get("/search", params={"q": "rare earth", "until": "2025-12-16"}).text
    assert titles(html) == {RARE_EARTH}


def test_search_understands_websearch_syntax(client: TestClient) -> None:
    html = client.get("/search", params={"q": 'tariffs -"Takaichi"'}).text
    assert titles(html) == {TOYOTA}
    assert "0 stories" in client.get("/search", params={"q": "zyzzyva"}).text


def test_feed_provided_html_is_escaped(client: TestClient, settings: Settings) -> None:
    with db.transaction(db.session_factory(settings)) as session:
        feed_id = session.query(models.Feed.id).filter_by(name="Asia Wire").scalar()
        hostile = '<script>alert("title")</script> Hostile rare earth story'
        story = models.Story(first_seen_at=datetime.now(UTC), title=hostile)
        session.add(story)
        session.flush()
        article = models.Article(
            story_id=story.id,
            url="javascript:alert(1)",
            feed_id=feed_id,
            title='<script>alert("title")</script> Hostile rare earth story',
            published_at=datetime(2025, 12, 16, tzinfo=UTC),
            fetched_at=datetime.now(UTC),
            text=f'<img src=x onerror=alert(1)> rare earth {MARK_START}fake{MARK_END} "quoted"',
            text_source="feed_content",
            content_hash="0" * 64,
        )
        session.add(article)
        session.flush()
        story.lead_article_id = article.id
    for path, params in [
        ("/", {"unmatched": "1"}),
        ("/story", {"id": str(story.id)}),
        ("/search", {"q": "hostile rare earth"}),
    ]:
        html = client.get(path, params=params).text
        assert "<script>" not in html and "<img" not in html
        assert "&lt;script&gt;" in html
        assert 'href="javascript:' not in html
    html = client.get("/search", params={"q": "<b>rare</b>"}).text
    assert "&lt;b&gt;rare&lt;/b&gt;" in html and "<b>rare" not in html
    hostile = client.get("/search", params={"q": "hostile"}).text
    assert "&lt;img src=x onerror=alert(1)&gt;" in hostile and "<mark>fake" not in hostile


def test_highlight_escapes_then_marks() -> None:
    marked = render.highlight(f"<i>a</i> {MARK_START}Taiwan{MARK_END} & co")
    assert str(marked) == "&lt;i&gt;a&lt;/i&gt; <mark>Taiwan</mark> &amp; co"


def test_chart_svg_draws_a_bar_per_topic_and_day_with_hits_and_escapes_names() -> None:
    hits = DailyHits(
        days=[date(2025, 12, 15), date(2025, 12, 16)],
        topics={"a<b": [0, 3], "tariffs": [1, 0]},
    )
    svg = str(render.chart_svg(hits))
    assert svg.count('<g class="series"') == 2 and svg.count('<rect class="bar"') == 2
    assert "a&lt;b 2025-12-16: 3" in svg and "a<b" not in svg


def test_only_web_links_are_rendered() -> None:
    assert render.safe_url("https://example.com/a") == "https://example.com/a"
    assert render.safe_url("javascript:alert(1)") == "#"
    assert render.safe_url("data:text/html,x") == "#"


def links(html: str) -> list[str]:
    return [html_unescape(link) for link in re.findall(r'(?:href|src|action)="([^"]*)"', html)]


def test_story_list_pages_with_links_that_keep_the_filters(client: TestClient) -> None:
    first = client.get("/", params={"topic": "tariffs", "size": 1}).text
    assert len(cards(first)) == 1
    (next_link,) = re.findall(r'<a rel="next" href="([^"]*)"', first)
    assert html_unescape(next_link) == "?topic=tariffs&size=1&page=2"
    assert 'rel="prev"' not in first
    second = client.get("/" + html_unescape(next_link)).text
    assert titles(section(first, "stories")) | titles(section(second, "stories")) == {
        TAKAICHI,
        TOYOTA,
    }
    assert 'rel="next"' not in second  # two tariffs stories: two pages
    (prev_link,) = re.findall(r'<a rel="prev" href="([^"]*)"', second)
    assert html_unescape(prev_link) == "?topic=tariffs&size=1"


def test_search_pages_continue_the_ranking(client: TestClient) -> None:
    first = client.get("/search", params={"q": "rare earth", "size": 1}).text
    second = client.get("/search", params={"q": "rare earth", "size": 1, "page": 2}).text
    assert len(re.findall(r'<li class="hit">', first)) == 1
    assert (
        len(re.findall(r'<li class="hit">', second)) == 1
        and '<ol class="hits" start="2">' in second
    )
    assert 'href="?q=rare+earth&amp;size=1&amp;page=2"' in first and 'rel="next"' not in second
    assert RARE_EARTH in first and RARE_EARTH not in second


def test_pager_clamps_the_request_and_drops_empty_filters() -> None:
    pager = render.Pager.of(0, 10_000, {"topic": "", "feed": "Asia Wire", "since": None})
    assert (pager.number, pager.size, pager.offset) == (1, render.MAX_PAGE_SIZE, 0)
    assert pager.link(3) == f"?feed=Asia+Wire&size={render.MAX_PAGE_SIZE}&page=3"
    assert render.Pager.of(1, render.PAGE_SIZE, {}).link(1) == "?"
    assert render.Pager.of(2, 5, {}).after([1] * 6).has_next


def test_every_link_works_when_airflow_serves_the_dashboard_under_a_sub_path(
    client: TestClient,
) -> None:
    site = FastAPI()  # Airflow at http://host/airflow/ mounting the plugin at /newswatch
    site.mount("/airflow/newswatch", client.app)
    with TestClient(site, base_url="http://host") as browser:
        for page in [
            "/",
            "/chart",
            "/feeds",
            "/search?q=rare+earth&size=1&page=2",
            "/?size=1",
            "/rules?q=tariff&topic=tariffs",
        ]:
            url = "http://host/airflow/newswatch" + page
            response = browser.get(url)
            assert response.status_code == 200, url
            for link in links(response.text):
                if link.startswith(("http://127.0.0.1", "https://")):
                    continue  # an article's own address
                assert not link.startswith("/"), (page, link)
                target = urljoin(url, link)
                assert target.startswith("http://host/airflow/newswatch/"), (page, link)
                assert browser.get(target).status_code == 200, (page, link)


def test_chart_days_are_local_days_of_the_digest_time_zone(
    settings: Settings, news_day: SampleDay
) -> None:
    clock.freeze(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))  # already 2 March in Tokyo
    try:
        with dashboard_after_a_run() as test_client:
            html = test_client.get("/chart").text
    finally:
        clock.freeze(None)
    assert (
        "per day (Asia/Tokyo, by the day they were found), the last 14 days up to 2026-03-02"
        in html
    )
    assert html.count('<rect class="bar"') == 5  # every hit on the one local day
