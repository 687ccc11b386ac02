"""`--json` on the commands that list or check something, and the progress bar of `newswatch run`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from newswatch import clock, database, models
from newswatch.cli import app, batch_progress
from newswatch.settings import Settings

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
    with database.transaction(database.session_factory(settings)) as session:
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


def test_db_url_json(settings: Settings) -> None:
    assert as_json("db", "url") == {"url": settings.database_url}


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
