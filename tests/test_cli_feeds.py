"""`newswatch feeds …` against the sample news day and loopback servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import EMPTY_RSS
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from newswatch import pipeline
from newswatch.cli.main import app
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings


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


def copy_config(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir()
    for name in ("feeds.yaml", "topics.yaml"):
        (folder / name).write_text((settings.config_dir / name).read_text())
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    return folder


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
