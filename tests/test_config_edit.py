"""`feeds add` / `disable` edit feeds.yaml round trip: the user's comments and layout stay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import EMPTY_RSS
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from newswatch.cli.main import app
from newswatch.config.edit import edit_feeds
from newswatch.config.load import load_config
from newswatch.settings import Settings

TOPICS = "recipients: [desk@example.com]\ntopics:\n  - {name: taiwan, keywords: [Taiwan]}\n"

COMMENTED = """\
# Feeds newswatch polls.
# Schema: config/README.md

feeds:
  # wire services first
  - name: "Kyodo News"   # quoted on purpose
    url: https://english.kyodonews.net/rss/news.xml

  - name: AloJapan
    url: 'https://alojapan.com/feed/'
  # - name: Old Times     (gone since March)
  #   url: https://old.example/feed
  - {name: Flow Daily, url: https://flow.example/rss}
  - name: Last Post
    url: https://last.example/feed   # polled hourly
# end of feeds
"""
NEW_ENTRY = "  - name: New Wire\n    url: https://new.example/rss\n"


def folder_with(tmp_path: Path, feeds: str) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "feeds.yaml").write_text(feeds)
    (folder / "topics.yaml").write_text(TOPICS)
    return folder


def append(name: str, url: str = "https://new.example/rss") -> Any:
    def change(entries: list[dict[str, Any]]) -> None:
        entries.append({"name": name, "url": url})

    return change


def disable(name: str) -> Any:
    def change(entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if entry["name"] == name:
                entry["enabled"] = False

    return change


def test_an_appended_feed_goes_last_and_every_comment_stays(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, COMMENTED)
    edit_feeds(folder, append("New Wire"))
    assert (folder / "feeds.yaml").read_text() == COMMENTED.replace(
        "# end of feeds", NEW_ENTRY + "# end of feeds"
    )


@pytest.mark.parametrize(
    ("name", "after"),
    [
        ("AloJapan", "    url: 'https://alojapan.com/feed/'\n"),  # comment lines below it
        ("Kyodo News", "    url: https://english.kyodonews.net/rss/news.xml\n"),  # a blank line
        ("Last Post", "    url: https://last.example/feed   # polled hourly\n"),  # end of file
    ],
)
def test_disabling_a_feed_adds_one_line_to_its_entry(tmp_path: Path, name: str, after: str) -> None:
    folder = folder_with(tmp_path, COMMENTED)
    edit_feeds(folder, disable(name))
    assert (folder / "feeds.yaml").read_text() == COMMENTED.replace(
        after, after + "    enabled: false\n"
    )
    assert not next(f for f in load_config(folder).feeds if f.name == name).enabled


def test_a_one_line_entry_stays_on_one_line(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, COMMENTED)
    edit_feeds(folder, disable("Flow Daily"))
    assert (folder / "feeds.yaml").read_text() == COMMENTED.replace(
        "https://flow.example/rss}", "https://flow.example/rss, enabled: false}"
    )


def test_a_new_entry_follows_the_files_indentation(tmp_path: Path) -> None:
    unindented = "---\nfeeds:\n- name: A\n  url: https://a.example/rss\n"
    folder = folder_with(tmp_path, unindented)
    edit_feeds(folder, append("B", "https://b.example/rss"))
    assert (folder / "feeds.yaml").read_text() == unindented + (
        "- name: B\n  url: https://b.example/rss\n"
    )


def test_comments_above_the_document_start_stay(tmp_path: Path) -> None:
    headed = "# our feeds\n---\nfeeds:\n  - name: A\n    url: https://a.example/rss\n"
    folder = folder_with(tmp_path, headed)
    edit_feeds(folder, append("B", "https://b.example/rss"))
    assert (folder / "feeds.yaml").read_text() == headed + (
        "  - name: B\n    url: https://b.example/rss\n"
    )


def test_a_file_of_comments_only_gets_its_first_feed_below_them(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "# nothing yet")
    edit_feeds(folder, append("A", "https://a.example/rss"))
    assert (folder / "feeds.yaml").read_text() == (
        "# nothing yet\nfeeds:\n  - name: A\n    url: https://a.example/rss\n"
    )


@pytest.mark.parametrize(
    "name", ["No", "on", "12:30", "null", "0x1F", "Asia: Times #1", "- x", "2025-13-45"]
)
def test_a_name_yaml_would_read_as_something_else_is_quoted(tmp_path: Path, name: str) -> None:
    folder = folder_with(tmp_path, COMMENTED)
    edit_feeds(folder, append(name))
    assert load_config(folder).feeds[-1].name == name


@pytest.mark.parametrize(
    "url", ["https://new.example/feed/?region=asia", "https://new.example/a,b"]
)
def test_a_url_after_one_line_entries_reads_back_as_written(tmp_path: Path, url: str) -> None:
    # PyYAML refuses a `?` in a plain value of a one-line mapping, and a `,` ends it.
    folder = folder_with(tmp_path, "feeds:\n  - {name: A, url: https://a.example/rss}\n")
    edit_feeds(folder, append("B", url))
    assert load_config(folder).feeds[-1].url == url


def test_a_change_that_changes_nothing_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, COMMENTED.replace("\n", "\r\n"))
    edit_feeds(folder, lambda entries: None)
    assert (folder / "feeds.yaml").read_bytes() == COMMENTED.replace("\n", "\r\n").encode()


def test_feeds_add_keeps_the_users_comments(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    folder = folder_with(tmp_path, COMMENTED)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    httpserver.expect_request("/rss").respond_with_data(
        EMPTY_RSS, content_type="application/rss+xml"
    )
    url = httpserver.url_for("/rss")
    result = CliRunner().invoke(app, ["feeds", "add", url, "--name", "New Wire"])
    assert result.exit_code == 0, result.output
    assert (folder / "feeds.yaml").read_text() == COMMENTED.replace(
        "# end of feeds", NEW_ENTRY.replace("https://new.example/rss", url) + "# end of feeds"
    )
