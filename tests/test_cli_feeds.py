"""`newswatch feeds …` against the sample news day and loopback servers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from helpers import EMPTY_RSS, copy_config
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from typer.testing import CliRunner

from newswatch import models, pipeline, schedule
from newswatch.cli.main import app
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db


def test_health_shows_each_feed_with_its_fault_and_reason(
    settings: Settings, news_day: SampleDay
) -> None:
    pipeline.run_once(get_settings())
    result = CliRunner().invoke(app, ["feeds", "health"])
    assert result.exit_code == 0, result.output
    broken = next(line for line in result.output.splitlines() if line.startswith("Broken Times"))
    assert "error 500" in broken and "HTTP 500" in broken and " 1 " in broken
    alojapan = next(line for line in result.output.splitlines() if line.startswith("AloJapan"))
    assert "ok 200" in alojapan


def test_health_as_json(settings: Settings, news_day: SampleDay) -> None:
    pipeline.run_once(get_settings())
    result = CliRunner().invoke(app, ["feeds", "health", "--json"])
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["Broken Times"]["consecutive_failures"] == 1
    assert rows["Asia Wire"]["last_status"] == "ok 200"


def test_add_follows_a_web_page_to_its_feed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    httpserver.expect_request("/").respond_with_data(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head></html>',
        content_type="text/html",
    )
    httpserver.expect_request("/rss").respond_with_data(
        EMPTY_RSS, content_type="application/rss+xml"
    )
    result = CliRunner().invoke(app, ["feeds", "add", httpserver.url_for("/")])
    assert result.exit_code == 0, result.output
    entries = yaml.safe_load((folder / "feeds.yaml").read_text())["feeds"]
    assert entries[-1] == {"name": "Kyodo Test", "url": httpserver.url_for("/rss")}
    assert (folder / "feeds.yaml").read_text().startswith("# Feeds newswatch polls.")


def test_disable_marks_the_entry_and_keeps_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    result = CliRunner().invoke(app, ["feeds", "disable", "https://alojapan.com/feed/"])
    assert result.exit_code == 0, result.output
    entries = yaml.safe_load((folder / "feeds.yaml").read_text())["feeds"]
    assert entries[0] == {"name": "AloJapan", "url": "https://alojapan.com/feed/", "enabled": False}


def test_disable_unknown_feed_changes_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    before = (folder / "feeds.yaml").read_text()
    result = CliRunner().invoke(app, ["feeds", "disable", "nope"])
    assert result.exit_code != 0 and "no feed named or at 'nope'" in result.output
    assert (folder / "feeds.yaml").read_text() == before


def test_discover_updates_a_named_feed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    httpserver.expect_request("/home").respond_with_data(
        '<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>',
        content_type="text/html",
    )
    result = CliRunner().invoke(
        app, ["feeds", "discover", httpserver.url_for("/home"), "--update", "AloJapan"]
    )
    assert result.exit_code == 0, result.output
    assert httpserver.url_for("/atom.xml") in result.output
    entries = yaml.safe_load((folder / "feeds.yaml").read_text())["feeds"]
    assert entries[0]["url"] == httpserver.url_for("/atom.xml")


def listing(*args: str) -> dict[str, str]:
    """`feeds list` as name -> its line."""
    result = CliRunner().invoke(app, ["feeds", "list", *args])
    assert result.exit_code == 0, result.output
    return {line[4:28].rstrip(): line for line in result.output.splitlines()}


def test_list_before_any_run_shows_the_configured_feeds_not_yet_polled(
    settings: Settings, news_day: SampleDay
) -> None:
    lines = listing()
    assert list(lines) == ["AloJapan", "Asia Wire", "Broken Times"]
    assert lines["AloJapan"].startswith("on  AloJapan ")
    assert "not yet polled" in lines["AloJapan"]
    assert lines["AloJapan"].endswith(f"{news_day.base_url}/alojapan/feed/")


def test_disable_and_enable_show_in_the_listing_and_the_store_at_once(
    settings: Settings, news_day: SampleDay
) -> None:
    pipeline.run_once(get_settings())
    runner = CliRunner()
    off = runner.invoke(app, ["feeds", "disable", "AloJapan"])
    assert off.exit_code == 0 and off.output == "disabled AloJapan\n"
    assert listing()["AloJapan"].startswith("off AloJapan ")
    assert enabled_in_store(settings) == {
        "AloJapan": False,
        "Asia Wire": True,
        "Broken Times": True,
    }

    on = runner.invoke(app, ["feeds", "enable", "AloJapan"])
    assert on.exit_code == 0, on.output
    assert on.output == ("enabled AloJapan (`newswatch run --feed AloJapan` polls it now)\n")
    assert listing()["AloJapan"].startswith("on  AloJapan ") and "ok 200" in listing()["AloJapan"]
    assert enabled_in_store(settings)["AloJapan"] is True
    entries = yaml.safe_load((get_settings().config_dir / "feeds.yaml").read_text())["feeds"]
    assert entries[0] == {"name": "AloJapan", "url": f"{news_day.base_url}/alojapan/feed/"}


def enabled_in_store(settings: Settings) -> dict[str, bool]:
    with db.transaction(db.session_factory(settings)) as session:
        return {
            name: on for name, on in session.execute(select(models.Feed.name, models.Feed.enabled))
        }


def test_enable_unknown_feed_changes_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    before = (folder / "feeds.yaml").read_text()
    result = CliRunner().invoke(app, ["feeds", "enable", "nope"])
    assert result.exit_code == 2 and "no feed named or at 'nope'" in result.output
    assert (folder / "feeds.yaml").read_text() == before


def test_a_hand_edited_feeds_yaml_shows_in_the_listing_before_the_next_run(
    settings: Settings, news_day: SampleDay
) -> None:
    pipeline.run_once(get_settings())
    path = get_settings().config_dir / "feeds.yaml"
    entries = yaml.safe_load(path.read_text())["feeds"]
    entries = [{**entries[1], "enabled": False}, entries[2]]  # AloJapan removed, Asia Wire off
    entries.append({"name": "Newcomer", "url": "https://newcomer.example/rss"})
    path.write_text(yaml.safe_dump({"feeds": entries}))
    lines = listing()
    assert lines["AloJapan"].startswith("off ") and lines["Asia Wire"].startswith("off ")
    assert lines["Broken Times"].startswith("on ") and "error 500" in lines["Broken Times"]
    assert lines["Newcomer"].startswith("on ") and "not yet polled" in lines["Newcomer"]


def test_list_and_health_take_a_config_folder(
    settings: Settings, news_day: SampleDay, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "topics.yaml").write_text((get_settings().config_dir / "topics.yaml").read_text())
    (other / "feeds.yaml").write_text(
        yaml.safe_dump({"feeds": [{"name": "Elsewhere", "url": "https://elsewhere.example/rss"}]})
    )
    assert list(listing("--config", str(other))) == ["Elsewhere"]
    result = CliRunner().invoke(app, ["feeds", "health", "--config", str(other), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["name"] == "Elsewhere" and row["last_status"] is None and row["enabled"] is True


def test_health_columns_line_up_and_long_names_are_cut(
    settings: Settings, news_day: SampleDay
) -> None:
    path = get_settings().config_dir / "feeds.yaml"
    entries = yaml.safe_load(path.read_text())["feeds"]
    entries[0]["name"] = "AloJapan: news from Japan in English"
    entries.append(
        {"name": "日本経済新聞 電子版 ニュース速報", "url": "https://nikkei.example/rss"}
    )
    path.write_text(yaml.safe_dump({"feeds": entries}, allow_unicode=True))
    pipeline.run_once(get_settings())
    result = CliRunner().invoke(app, ["feeds", "health"])
    assert result.exit_code == 0, result.output
    header, *lines = result.output.splitlines()
    assert header.split() == [
        "feed", "status", "last", "item", "UTC", "fails", "next", "poll", "UTC", "items/d",
        "items", "per", "day,", "28", "d", "problem",
    ]  # fmt: skip
    starts = [
        header.index(title) for title in ("status", "last item", "next poll", "items per day")
    ]
    ends = [header.index(title) + len(title) for title in ("fails", "items/d")]
    for line in lines:
        cells = cell_offsets(line) + " "
        assert all(cells[at - 1] == " " != cells[at] for at in starts), line  # left-aligned
        assert all(cells[end - 1] != " " == cells[end] for end in ends), line  # right-aligned
    alojapan, _, _, nikkei = lines  # by name
    assert alojapan.startswith("AloJapan: news from Jap… ok 200 ")
    # 22 cells of name, the ellipsis, one cell of padding (the next wide character needs two)
    assert nikkei.startswith("日本経済新聞 電子版 ニ…  error ")
    assert "cannot resolve nikkei.example" in nikkei


def cell_offsets(line: str) -> str:
    """The line as terminal cells: a wide (CJK) character takes two."""
    from rich.cells import cell_len

    return "".join(ch * cell_len(ch) for ch in line)


def test_health_shows_items_per_day_for_a_feed_with_items(
    settings: Settings, news_day: SampleDay
) -> None:
    pipeline.run_once(get_settings())
    rows = {
        row["name"]: row
        for row in json.loads(CliRunner().invoke(app, ["feeds", "health", "--json"]).stdout)
    }
    # AloJapan lists 3 items (2 gaps) over 1.77 days; Asia Wire 5 over 2.05 days (a year
    # before "now").
    assert rows["AloJapan"]["items_per_day"] == 1.13
    assert rows["Asia Wire"]["items_per_day"] == 1.96
    assert rows["Broken Times"]["items_per_day"] is None
    text = CliRunner().invoke(app, ["feeds", "health"]).output
    lines = {line[:24].rstrip(): line for line in text.splitlines()}
    assert "     1.1" in lines["AloJapan"] and "     2.0" in lines["Asia Wire"]
    assert lines["Broken Times"].endswith("      — " + "—".ljust(28) + " HTTP 500")
    assert " " + "▁" * 27 + "█" in lines["AloJapan"]  # its 3 items all reached us today


@pytest.mark.parametrize(
    ("hours", "rate"),
    [
        ([], None),
        ([0], None),
        ([0, 24, 48, 72], 1.0),  # one a day: 3 gaps over 3 days
        ([0, 6, 12, 18, 24, 30, 36, 42], 4.0),  # one every 6 hours
        ([0, 1, 2, 3, 4, 5], 6.0),  # a busy feed listing only its last hours: that day's count
        ([0, 0, 0, 24 * 30], 0.1),
    ],
)
def test_publishing_rate_is_items_over_the_days_they_span(
    hours: list[int], rate: float | None
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    published = [start + timedelta(hours=h) for h in hours]
    assert schedule.publishing_rate(published) == rate


def test_disable_with_the_database_down_changes_feeds_yaml_and_says_the_store_waits(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/newswatch")
    result = CliRunner().invoke(app, ["feeds", "disable", "AloJapan"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "disabled AloJapan\n"
    assert result.stderr.startswith(
        "feeds.yaml changed; the store learns it at the next run (database unavailable: "
    )
    assert len(result.stderr.splitlines()) == 1
    assert yaml.safe_load((folder / "feeds.yaml").read_text())["feeds"][0]["enabled"] is False
