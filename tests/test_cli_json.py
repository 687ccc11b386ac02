"""`--json` on every command that lists, checks or changes something, and the progress bar of
`newswatch run`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import Mailbox
from helpers import EMPTY_RSS, copy_config, seed_alerts
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from newswatch import clock, models
from newswatch.cli.main import app, batch_progress
from newswatch.settings import Settings
from newswatch.store import db

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def as_json(*args: str, code: int = 0) -> object:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_topics_check_json_lists_every_topic_and_its_rule() -> None:
    got = as_json("topics", "check", "--config", str(REPO / "config"))
    assert got["valid"] is True  # type: ignore[index]
    topics = {t["name"]: t for t in got["topics"]}  # type: ignore[index]
    assert topics["taiwan"]["enabled"] is True
    assert topics["taiwan"]["rule"].startswith("Taiwan OR Taipei")


def test_topics_check_json_reports_a_bad_file_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    (tmp_path / "topics.yaml").write_text("topics:\n  - {name: one, query: 'tariff OR'}\n")
    got = as_json("topics", "check", "--config", str(tmp_path), code=2)
    assert got["valid"] is False  # type: ignore[index]
    assert any("topics[0] ('one'): field 'query'" in line for line in got["errors"])  # type: ignore[index]


def test_topics_test_json_gives_terms_offsets_and_highlights() -> None:
    text = "New tariffs on rare-earth magnets"
    got = as_json("topics", "test", '"rare earth" OR tariff*', "--text", text)
    match = got["match"]  # type: ignore[index]
    assert match["terms"] == {"tariff*": 1, "rare earth": 1}
    assert match["offsets"] == {"tariff*": [[4, 11]], "rare earth": [[15, 25]]}
    assert [match["snippet"][a:b] for a, b in match["highlights"]] == ["tariffs", "rare-earth"]


def test_topics_test_json_without_a_match_is_null_and_exits_1() -> None:
    assert as_json("topics", "test", "Taiwan", "--text", "Sunny", code=1) == {"match": None}


def test_topics_backtest_json_lists_each_hit(settings: Settings) -> None:
    clock.freeze(NOW)
    with db.transaction(db.session_factory(settings)) as session:
        feed = models.Feed(name="Test feed", url="http://127.0.0.1/feed")
        session.add(feed)
        session.flush()
        session.add(
            models.Article(
                url="http://127.0.0.1/a1",
                feed_id=feed.id,
                title="Trade",
                published_at=NOW - timedelta(days=5),
                fetched_at=NOW,
                text="New tariffs on steel.",
                text_source="page",
                content_hash="1",
            )
        )
    got = as_json("topics", "backtest", "tariffs", "--since", "2w")
    assert got["topic"] == "tariffs" and got["candidates"] == 1  # type: ignore[index]
    (hit,) = got["hits"]  # type: ignore[index]
    assert hit["title"] == "Trade" and hit["terms"] == {"tariff": 1}
    assert hit["at"] == "2026-11-20T12:00:00+00:00"


def test_db_url_json_is_the_libpq_form_and_the_sqlalchemy_one_on_request(
    settings: Settings,
) -> None:
    assert settings.database_url is not None
    assert as_json("db", "url", "--sqlalchemy") == {"url": settings.database_url}
    libpq = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    assert as_json("db", "url") == {"url": libpq}


def test_db_url_is_one_libpq_accepts(settings: Settings) -> None:
    """psycopg hands the string to libpq itself (as psql does), unparsed."""
    result = CliRunner().invoke(app, ["db", "url"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith("postgresql://") and "\n" not in url
    assert psycopg.conninfo.conninfo_to_dict(url)["dbname"]  # libpq's own parser
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_db_url_of_the_embedded_server_is_its_socket_folder(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSWATCH_DATABASE_URL")
    result = CliRunner().invoke(app, ["db", "url"])
    try:
        assert result.exit_code == 0, result.output
        url = result.stdout.strip()
        assert url == f"host={settings.var_dir / 'pgdata'} dbname=newswatch user=postgres"
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_database()").fetchone() == ("newswatch",)
    finally:
        assert CliRunner().invoke(app, ["db", "stop"]).exit_code == 0


def test_run_shows_no_progress_bar_off_a_terminal_or_in_json() -> None:
    assert batch_progress(io.StringIO(), as_json=False) is None

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert batch_progress(Terminal(), as_json=True) is None


def test_run_at_a_terminal_tracks_every_batch() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    track = batch_progress(screen, as_json=False)
    assert track is not None
    assert list(track([[1, 2], [3]])) == [[1, 2], [3]]
    assert "feed batches" in screen.getvalue()


def test_alerts_resend_json_gives_the_alert_and_where_it_went(
    settings: Settings, smtp: Mailbox
) -> None:
    seed_alerts(settings, "Strait patrols")
    got = as_json("alerts", "resend", "1")
    assert got["id"] == 1 and got["state"] == "sent" and got["channel"] == "email"  # type: ignore[index]
    assert got["delivered_to"] == smtp.url and got["errors"] == []  # type: ignore[index]
    assert len(smtp.received) == 1


def test_alerts_resend_json_of_an_unknown_alert_exits_1(settings: Settings) -> None:
    assert as_json("alerts", "resend", "99", code=1) == {"id": 99, "error": "no alert 99"}


def test_feeds_add_json_gives_the_name_and_the_feed_url_stored(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    copy_config(settings, tmp_path, monkeypatch)
    httpserver.expect_request("/rss").respond_with_data(
        EMPTY_RSS, content_type="application/rss+xml"
    )
    got = as_json("feeds", "add", httpserver.url_for("/rss"))
    assert got == {"name": "Kyodo Test", "url": httpserver.url_for("/rss")}


def test_feeds_disable_json_lists_the_feeds_switched_off(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config(settings, tmp_path, monkeypatch)
    got = as_json("feeds", "disable", "AloJapan")
    feed = {"name": "AloJapan", "url": "https://alojapan.com/feed/"}
    assert got == {"disabled": [feed | {"changed": True}]}
    assert as_json("feeds", "disable", "AloJapan") == {"disabled": [feed | {"changed": False}]}
    again = CliRunner().invoke(app, ["feeds", "disable", "AloJapan"])
    assert again.exit_code == 0 and again.output == "AloJapan was disabled already\n"


def test_feeds_enable_json_lists_the_feeds_switched_on(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config(settings, tmp_path, monkeypatch)
    as_json("feeds", "disable", "AloJapan")
    got = as_json("feeds", "enable", "https://alojapan.com/feed/")
    feed = {"name": "AloJapan", "url": "https://alojapan.com/feed/"}
    assert got == {"enabled": [feed | {"changed": True}]}
    again = CliRunner().invoke(app, ["feeds", "enable", "AloJapan"])
    assert again.output.startswith("already enabled: AloJapan (`newswatch run --feed AloJapan`")


def test_feeds_discover_json_lists_the_linked_feeds_and_the_update(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    httpserver.expect_request("/home").respond_with_data(
        '<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>',
        content_type="text/html",
    )
    page = httpserver.url_for("/home")
    got = as_json("feeds", "discover", page, "--update", "AloJapan")
    assert got == {"url": page, "feeds": [httpserver.url_for("/atom.xml")], "updated": "AloJapan"}
    assert httpserver.url_for("/atom.xml") in (folder / "feeds.yaml").read_text()


def test_feeds_discover_json_of_a_page_without_feeds_exits_1(
    settings: Settings, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/bare").respond_with_data("<html></html>", content_type="text/html")
    page = httpserver.url_for("/bare")
    assert as_json("feeds", "discover", page, code=1) == {"url": page, "feeds": [], "updated": None}


def test_db_upgrade_and_stop_json(settings: Settings) -> None:
    assert as_json("db", "upgrade") == {"upgraded": True}
    assert as_json("db", "stop") == {"stopped": False}  # the test database is not embedded
