"""`newswatch search`: the dashboard's full-text search, narrowed by topic and date, on the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from expected import TAKAICHI
from typer.testing import CliRunner

from newswatch import clock, pipeline
from newswatch.cli.main import app
from newswatch.cli.search import bracketed, unmark
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store.search import MARK_END, MARK_START

RARE_EARTH = "China tightens export controls on rare earth magnets"


@pytest.fixture
def stored_day(settings: Settings, news_day: SampleDay) -> None:
    pipeline.run_once(get_settings())


def search(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["search", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_search_lists_ranked_articles_with_bracketed_hits(stored_day: None) -> None:
    result = CliRunner().invoke(app, ["search", "rare earth"])
    assert result.exit_code == 0, result.output
    assert RARE_EARTH in result.output
    assert "[rare] [earth]" in result.output.lower()


def test_search_json_gives_rows_with_highlight_offsets(stored_day: None) -> None:
    rows = search("rare earth")
    assert RARE_EARTH in [row["title"] for row in rows]
    ranks = [row["rank"] for row in rows]
    assert ranks == sorted(ranks, reverse=True)
    first = rows[0]
    assert set(first) == {"id", "title", "url", "feed", "at", "rank", "headline", "highlights"}
    words = {first["headline"][a:b].lower() for a, b in first["highlights"]}
    assert words <= {"rare", "earth", "earths"} and words


def test_search_topic_keeps_only_articles_that_matched_it(stored_day: None) -> None:
    titles = {row["title"] for row in search("rare earth", "--topic", "tariffs")}
    assert TAKAICHI in titles and RARE_EARTH not in titles


def test_search_since_drops_older_articles(stored_day: None) -> None:
    clock.freeze(datetime(2025, 12, 17, 0, 30, tzinfo=UTC))  # the rare-earth story is a day older
    titles = {row["title"] for row in search("rare earth", "--since", "1h")}
    assert TAKAICHI in titles and RARE_EARTH not in titles
    assert len(search("rare earth", "--since", "2d")) == 3


def test_search_limit_and_no_match(stored_day: None) -> None:
    assert len(search("rare earth", "--limit", "1")) == 1
    result = CliRunner().invoke(app, ["search", "zyzzyva"])
    assert result.exit_code == 0 and result.output.strip() == "no article matches"


def test_search_with_a_bad_duration_says_what_it_expects(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["search", "tariffs", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "expected a duration such as 30d" in result.output


def test_marks_become_offsets_and_brackets() -> None:
    text, spans = unmark(f"a {MARK_START}rare{MARK_END} {MARK_START}earth{MARK_END} magnet")
    assert (text, spans) == ("a rare earth magnet", [[2, 6], [7, 12]])
    assert bracketed(text, spans) == "a [rare] [earth] magnet"
