"""`newswatch topics check | test | backtest`, the last on real PostgreSQL full-text search."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from newswatch import clock, models, pipeline, sample_day
from newswatch.backtest import tsquery
from newswatch.cli.main import app
from newswatch.query import parse_query
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
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


def test_test_command_shows_terms_the_words_they_matched_offsets_and_marked_snippet() -> None:
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
    assert 'tariff* ×1 ("tariffs")  at 4-11' in result.output
    assert 'rare earth ×1 ("rare-earth")  at 15-25' in result.output
    assert "New [tariffs] on [rare-earth] magnets" in result.output


@pytest.mark.parametrize(
    ("stemming", "matched"),
    [
        (None, 'election ×2 ("Elections", "election")  at 0-9, 37-45'),
        ("plural", 'election ×2 ("Elections", "election")  at 0-9, 37-45'),
        ("none", "election ×1  at 37-45"),  # the possessive: an apostrophe ends the word
        ("full", 'election ×3 ("Elections", "elected", "election")'),
    ],
)
def test_test_command_shows_which_form_of_a_word_matched_under_each_stemming(
    stemming: str | None, matched: str
) -> None:
    text = "Elections loom. She was elected; the election's date is set."
    options = ["--stemming", stemming] if stemming else []
    result = CliRunner().invoke(app, ["topics", "test", "election", "--text", text, *options])
    assert result.exit_code == 0, result.output
    assert matched in result.output


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


TAIPEI_SAID = "Taipei said on Monday it would respond."
TAIWAN_RULE = 'topic taiwan (Taiwan): query Taiwan OR Taipei OR "Taiwan Strait" OR "Lai Ching-te"'


def test_test_command_tests_the_rule_of_the_topic_it_names() -> None:
    result = CliRunner().invoke(app, ["topics", "test", "taiwan", "--text", TAIPEI_SAID])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == TAIWAN_RULE
    assert "Taipei ×1  at 0-6" in result.output
    assert "[Taipei] said on Monday" in result.output
    assert "add --query" in result.output  # how to test the word itself


def test_test_command_reads_a_topic_name_as_a_query_with_the_query_flag() -> None:
    result = CliRunner().invoke(app, ["topics", "test", "taiwan", "--query", "--text", TAIPEI_SAID])
    assert result.exit_code == 1
    assert result.output == "no match\n"
    result = CliRunner().invoke(
        app, ["topics", "test", "--query", "taiwan", "--text", "In Taiwan."]
    )
    assert result.exit_code == 0 and "[Taiwan]" in result.output and "topic" not in result.output


def test_test_command_reads_anything_but_an_exact_topic_name_as_a_query() -> None:
    for query in ("Taiwan", "taiwa", "taiwan OR Seoul"):
        result = CliRunner().invoke(app, ["topics", "test", query, "--text", TAIPEI_SAID])
        assert result.exit_code == 1 and result.output == "no match\n", query


def write_topics(folder: Path, topics: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "feeds.yaml").write_text("feeds: []\n")
    (folder / "topics.yaml").write_text(f"recipients: [a@b.co]\ntopics:\n{topics}")
    return folder


def test_test_command_applies_keywords_exclusions_and_min_hits_of_a_disabled_topic(
    tmp_path: Path,
) -> None:
    config = write_topics(
        tmp_path,
        "  - {name: quakes, keywords: [earthquake, tremor], exclude: [drill], min_hits: 2,\n"
        "     enabled: false}\n",
    )

    def run(text: str) -> tuple[int, str]:
        args = ["topics", "test", "quakes", "--config", str(config), "--text", text]
        result = CliRunner().invoke(app, args)
        return result.exit_code, result.output

    code, output = run("An earthquake, then a tremor.")
    assert code == 0, output
    assert output.splitlines()[0] == (
        "topic quakes: keywords earthquake, tremor; exclude drill; at least 2 hits; disabled"
    )
    assert "An [earthquake], then a [tremor]." in output
    for fewer_hits_or_excluded in ("An earthquake.", "An earthquake, a tremor, a drill."):
        code, output = run(fewer_hits_or_excluded)
        assert code == 1 and output.splitlines()[-1] == "no match", output


def test_test_command_json_names_the_topic_and_its_rule() -> None:
    result = CliRunner().invoke(app, ["topics", "test", "taiwan", "--json", "--text", TAIPEI_SAID])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert got["topic"]["name"] == "taiwan" and got["topic"]["query"].startswith("Taiwan OR")
    assert got["match"]["terms"] == {"Taipei": 1}


def test_test_command_reads_a_name_as_a_query_when_topics_yaml_is_broken(tmp_path: Path) -> None:
    config = write_topics(tmp_path, "  - {name: taiwan, query: 'Taiwan AND ('}\n")
    result = CliRunner().invoke(
        app, ["topics", "test", "taiwan", "--config", str(config), "--text", "In taiwan."]
    )
    assert result.exit_code == 0, result.output
    assert "note: topics not read (" in result.output
    assert "'taiwan' is tested as a query" in result.output
    assert "In [taiwan]." in result.output


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
    assert result.exit_code == 2  # bad input, as a URL that is not http(s) is
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
    lines = result.output.splitlines()
    assert lines[0] == "draft query: Taiwan AND NOT baseball"
    assert lines[1].startswith("1 of the 3 stored articles dated 2026-11-22 – 2026-11-24 match")
    assert "Strait tension" in result.output and "[TÀIWAN]" in result.output
    assert "Pineapples" not in result.output and "Old news" not in result.output


def test_backtest_runs_a_configured_topic(settings: Settings) -> None:
    clock.freeze(NOW)
    add_articles(settings, [("Trade", "New tariffs on steel.", 5), ("Older", "Tariffs.", 20)])
    result = CliRunner().invoke(app, ["topics", "backtest", "tariffs", "--since", "2w"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("topic tariffs (Tariffs): query tariff OR ")
    assert "1 of the 1 articles in the last 2w dated 2026-11-20 match" in result.output
    assert "tariff ×1" in result.output and "Older" not in result.output


@pytest.fixture
def stored_day(settings: Settings, news_day: SampleDay) -> None:
    """The sample day stored as `make demo` stores it: fetched now, dated a year or more ago."""
    pipeline.run_once(get_settings())


def test_backtest_without_since_covers_the_sample_day_stored_by_the_demo(
    stored_day: None,
) -> None:
    result = CliRunner().invoke(app, ["topics", "backtest", "taiwan"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == TAIWAN_RULE
    assert lines[1].startswith("2 of the 7 stored articles dated 2025-12-15 – 2025-12-18 match")
    assert result.output.count("Takaichi") >= 2 and "[Taiwan]" in result.output


def test_backtest_output_shows_the_rule_not_the_full_text_prefilter(stored_day: None) -> None:
    result = CliRunner().invoke(app, ["topics", "backtest", "taiwan"])
    assert result.exit_code == 0, result.output
    assert ":*" not in result.output and "prefilter" not in result.output
    got = json.loads(CliRunner().invoke(app, ["topics", "backtest", "taiwan", "--json"]).output)
    assert got["rule"]["query"] == 'Taiwan OR Taipei OR "Taiwan Strait" OR "Lai Ching-te"'
    assert got["tsquery"] == "(taiwan:* | taipei:* | lai:*)"  # each prefix once
    assert got["since"] is None and got["window"]["articles"] == 7
    assert got["window"]["oldest"].startswith("2025-12-15") and len(got["hits"]) == 2


def test_backtest_reads_a_topic_name_as_a_draft_query_with_the_query_flag(
    stored_day: None,
) -> None:
    result = CliRunner().invoke(app, ["topics", "backtest", "taiwan", "--query", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert got["topic"] is None and got["query"] == "taiwan" and len(got["hits"]) == 2


def test_backtest_with_since_still_counts_back_from_now(stored_day: None) -> None:
    result = CliRunner().invoke(app, ["topics", "backtest", "taiwan", "--since", "30d"])
    assert result.exit_code == 0, result.output
    assert "no stored articles in the last 30d; without --since" in result.output


def test_backtest_window_ends_at_the_newest_article_not_after_now(settings: Settings) -> None:
    clock.freeze(NOW)
    add_articles(settings, [("Trade", "Tariffs.", 0), ("Older trade", "Tariffs.", 35)])
    clock.freeze(NOW - timedelta(days=10))  # an article dated after now must not move the window
    result = CliRunner().invoke(app, ["topics", "backtest", "tariffs", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert got["window"]["from"] == "2026-10-16T12:00:00+00:00"  # 30 days before now
    assert [hit["title"] for hit in got["hits"]] == ["Trade", "Older trade"]


def test_backtest_of_an_empty_store_says_there_is_nothing(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["topics", "backtest", "taiwan"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "no stored articles yet: nothing to backtest"


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
    assert tsquery(parse_query("economies OR taxes")) == "(econom:* | tax:*)"
    assert tsquery(parse_query("elections"), "full") == "elec:*"  # "elected" is a candidate
    assert tsquery(parse_query("Taiwan OR 台湾")) is None  # CJK cannot be narrowed by prefix
    assert tsquery(parse_query("Taiwan AND NOT baseball")) == "(taiwan:*)"


def test_narrowing_query_names_each_prefix_once() -> None:
    query = parse_query('Taiwan OR Taipei OR "Taiwan Strait" OR ("Lai Ching-te" AND Taiwan)')
    assert tsquery(query) == "(taiwan:* | taipei:* | (lai:* & taiwan:*))"
    assert tsquery(parse_query('"rare earth" AND rare AND tariff')) == "(rare:* & tariff:*)"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://news.example/x", "no url"])
def test_test_command_refuses_a_url_it_will_not_fetch_as_bad_input(url: str) -> None:
    result = CliRunner().invoke(app, ["topics", "test", "Taiwan", "--url", url])
    assert result.exit_code == 2
    assert result.output.startswith(f"cannot read {url}: refusing URL: ")
