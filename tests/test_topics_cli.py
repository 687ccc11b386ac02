"""`newswatch topics check | test | backtest`, the last on real PostgreSQL full-text search."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from newswatch import clock, models, sample_day
from newswatch.backtest import tsquery
from newswatch.cli.main import app
from newswatch.query import parse_query
from newswatch.settings import Settings
from newswatch.store import db

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_check_lists_every_valid_topic() -> None:
    result = CliRunner().invoke(app, ["topics", "check", "--config", str(REPO / "config")])
    assert result.exit_code == 0, result.output
    assert "ok  taiwan: Taiwan OR Taipei" in result.output
    assert "5 topics, all valid" in result.output


def test_check_reports_each_bad_query_with_topic_and_position(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    (tmp_path / "topics.yaml").write_text(
        "recipients: [a@b.co]\n"
        "topics:\n"
        "  - {name: one, query: 'tariff OR'}\n"
        "  - {name: two, query: 'Taiwan AND (Taipei'}\n"
    )
    result = CliRunner().invoke(app, ["topics", "check", "--config", str(tmp_path)])
    assert result.exit_code == 2
    assert "topics[0] ('one'): field 'query'" in result.output
    assert "position 9: the query ends early" in result.output
    assert "topics[1] ('two'): field 'query'" in result.output
    assert "position 18" in result.output and "expected ')'" in result.output


def test_test_command_shows_terms_offsets_and_marked_snippet() -> None:
    result = CliRunner().invoke(
        app,
        [
            "topics",
            "test",
            '"rare earth" OR tariff*',
            "--text",
            "New tariffs on rare-earth magnets",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "tariff* ×1  at 4-11" in result.output
    assert "rare earth ×1  at 15-25" in result.output
    assert "New [tariffs] on [rare-earth] magnets" in result.output


def test_test_command_reads_an_html_file_and_says_when_nothing_matches(tmp_path: Path) -> None:
    page = tmp_path / "taiwanese-pineapple.html"
    page.write_bytes(sample_day.page("taiwanese-pineapple.html").encode())
    assert CliRunner().invoke(app, ["topics", "test", "Taiwan", "--file", str(page)]).exit_code == 1
    result = CliRunner().invoke(app, ["topics", "test", "Taiwan*", "--file", str(page)])
    assert result.exit_code == 0 and "[Taiwanese]" in result.output


def test_test_command_points_at_the_error_in_a_bad_query() -> None:
    result = CliRunner().invoke(app, ["topics", "test", "tariff AND (war", "--text", "x"])
    assert result.exit_code == 2
    assert "position 15" in result.output


TAIWAN_PAGE = (
    "<html><body><article><p>Taipei answered the summit in Taiwan.</p></article></body></html>"
)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_test_command_says_a_loopback_page_is_refused_not_disallowed_by_robots(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.delenv("NEWSWATCH_ALLOW_HOSTS", raising=False)
    httpserver.expect_request("/page").respond_with_data(TAIWAN_PAGE, content_type="text/html")
    url = f"http://{host}:{httpserver.port}/page"
    result = CliRunner().invoke(app, ["topics", "test", "Taiwan", "--url", url])
    assert result.exit_code == 1
    assert f"cannot read {url}: refused: " in result.output
    assert "a non-public address (loopback); allow it with NEWSWATCH_ALLOW_HOSTS" in result.output
    assert "robots" not in result.output
    assert httpserver.log == []  # nothing was asked, not even robots.txt


def test_test_command_reads_a_loopback_page_once_it_is_allowed(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "localhost,127.0.0.1,::1")
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/page").respond_with_data(TAIWAN_PAGE, content_type="text/html")
    result = CliRunner().invoke(
        app, ["topics", "test", "Taiwan", "--url", httpserver.url_for("/page")]
    )
    assert result.exit_code == 0, result.output
    assert "[Taiwan]" in result.output


def add_articles(settings: Settings, articles: list[tuple[str, str, int]]) -> None:
    """(title, text, age in days) rows under one feed, straight into the store."""
    with db.transaction(db.session_factory(settings)) as session:
        feed = models.Feed(name="Kyodo", url="http://127.0.0.1/feed")
        session.add(feed)
        session.flush()
        for number, (title, body, age) in enumerate(articles):
            session.add(
                models.Article(
                    url=f"http://127.0.0.1/a{number}",
                    feed_id=feed.id,
                    title=title,
                    published_at=NOW - timedelta(days=age),
                    fetched_at=NOW,
                    text=body,
                    text_source="page",
                    content_hash=str(number),
                )
            )


def test_backtest_lists_what_a_draft_query_would_have_matched(settings: Settings) -> None:
    clock.freeze(NOW)
    add_articles(
        settings,
        [
            ("Strait tension", "Ships near TÀIWAN on Monday.", 2),  # accent: FTS must not lose it
            ("Pineapples", "Taiwanese pineapple growers.", 3),  # narrowed in, then rejected
            ("Old news", "Taiwan long ago.", 90),  # outside the window
            ("Weather", "Sunny in Tokyo.", 1),  # narrowed out
        ],
    )
    result = CliRunner().invoke(app, ["topics", "backtest", "Taiwan AND NOT baseball"])
    assert result.exit_code == 0, result.output
    assert "draft query: 1 of 2 candidate articles in the last 30d match" in result.output
    assert "Strait tension" in result.output and "[TÀIWAN]" in result.output
    assert "Pineapples" not in result.output.split("match (")[1]


def test_backtest_runs_a_configured_topic(settings: Settings) -> None:
    clock.freeze(NOW)
    add_articles(settings, [("Trade", "New tariffs on steel.", 5)])
    result = CliRunner().invoke(app, ["topics", "backtest", "tariffs", "--since", "2w"])
    assert result.exit_code == 0, result.output
    assert "topic 'tariffs': 1 of 1 candidate" in result.output
    assert "tariff ×1" in result.output


def test_search_column_folds_accents_and_is_indexed(settings: Settings) -> None:
    add_articles(settings, [("Économie", "Résumé of İstanbul talks", 0)])
    with db.transaction(db.session_factory(settings)) as session:
        found = session.scalar(
            select(func.count())
            .select_from(models.Article)
            .where(text("articles.search @@ to_tsquery('simple', 'istanbul:* & economie:*')"))
        )
        index = session.scalar(
            text("select indexdef from pg_indexes where indexname = 'articles_search'")
        )
    assert found == 1
    assert "gin" in str(index).lower()


def test_narrowing_query_is_implied_by_every_match() -> None:
    assert tsquery(parse_query('"rare earth" AND tariff*')) == "(rare:* & tariff:*)"
    assert tsquery(parse_query("economies OR taxes")) == "(economi:* | tax:*)"
    assert tsquery(parse_query("Taiwan OR 台湾")) is None  # CJK cannot be narrowed by prefix
    assert tsquery(parse_query("Taiwan AND NOT baseball")) == "(taiwan:*)"
