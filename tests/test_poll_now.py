"""`newswatch run --now [--feed NAME …]`: feeds polled whatever their schedule, on the sample
news day (real PostgreSQL and HTTP on loopback)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import Mailbox
from sqlalchemy import func, select
from typer.testing import CliRunner

from newswatch import models, pipeline
from newswatch.cli.main import app
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db

REPO = Path(__file__).resolve().parents[1]
ALOJAPAN = "/alojapan/feed/"
ASIAWIRE = "/asiawire/atom.xml"
BROKEN = "/broken/feed.xml"


def next_polls(settings: Settings) -> dict[str, datetime | None]:
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.execute(select(models.Feed.name, models.Feed.next_poll_at))
        return {name: at for name, at in rows}


def run_count(settings: Settings) -> int:
    with db.transaction(db.session_factory(settings)) as session:
        return session.scalar(select(func.count()).select_from(models.Run)) or 0


def feeds_polled(day: SampleDay) -> dict[str, int]:
    return {path: day.requests[path] for path in (ALOJAPAN, ASIAWIRE, BROKEN)}


def config_dir() -> Path:
    return get_settings().config_dir


def set_feeds(entries: list[dict[str, object]]) -> None:
    """Rewrite the test's own feeds.yaml (the sample day's, or one in tmp_path)."""
    assert config_dir() != REPO / "config"
    (config_dir() / "feeds.yaml").write_text(yaml.safe_dump({"feeds": entries}, sort_keys=False))


def test_run_now_polls_a_named_feed_that_is_not_due_and_schedules_it_again(
    settings: Settings, news_day: SampleDay, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    before = next_polls(settings)
    pipeline.run_once(get_settings())  # nothing is due yet: nobody is asked
    assert feeds_polled(news_day) == {ALOJAPAN: 1, ASIAWIRE: 1, BROKEN: 1}

    result = CliRunner().invoke(app, ["run", "--now", "--feed", "AloJapan"])

    assert result.exit_code == 0, result.output
    assert "feeds_due              1" in result.output
    assert feeds_polled(news_day) == {ALOJAPAN: 2, ASIAWIRE: 1, BROKEN: 1}
    assert news_day.not_modified[ALOJAPAN] == 1  # a conditional GET, as on schedule
    after = next_polls(settings)
    assert after["AloJapan"] is not None and before["AloJapan"] is not None
    assert after["AloJapan"] > before["AloJapan"]  # rescheduled from this poll
    assert after["Asia Wire"] == before["Asia Wire"]


def test_run_now_without_feed_polls_every_enabled_feed_even_one_backing_off(
    settings: Settings, news_day: SampleDay, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    entries = yaml.safe_load((config_dir() / "feeds.yaml").read_text())["feeds"]
    entries[1]["enabled"] = False  # Asia Wire
    set_feeds(entries)

    result = CliRunner().invoke(app, ["run", "--now"])

    assert result.exit_code == 0, result.output
    assert feeds_polled(news_day) == {ALOJAPAN: 2, ASIAWIRE: 1, BROKEN: 2}
    with db.transaction(db.session_factory(settings)) as session:
        broken = session.scalars(select(models.Feed).where(models.Feed.name == "Broken Times"))
        assert broken.one().consecutive_failures == 2


def test_run_now_json_counts_the_feeds_it_polled(
    settings: Settings, news_day: SampleDay, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    result = CliRunner().invoke(
        app, ["run", "--now", "--feed", "Asia Wire", "--feed", "Broken Times", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"feeds_due": 2' in result.stdout
    assert feeds_polled(news_day) == {ALOJAPAN: 1, ASIAWIRE: 2, BROKEN: 2}


def test_a_feed_enabled_again_waits_for_its_schedule_unless_polled_now(
    settings: Settings, news_day: SampleDay, smtp: Mailbox
) -> None:
    runner = CliRunner()
    pipeline.run_once(get_settings())
    assert runner.invoke(app, ["feeds", "disable", "AloJapan"]).exit_code == 0
    assert runner.invoke(app, ["feeds", "enable", "AloJapan"]).exit_code == 0
    pipeline.run_once(get_settings())
    assert news_day.requests[ALOJAPAN] == 1
    assert runner.invoke(app, ["run", "--feed", "AloJapan"]).exit_code == 0  # --feed means now
    assert news_day.requests[ALOJAPAN] == 2


def test_an_unknown_feed_is_one_line_listing_the_known_ones_and_opens_no_run(
    settings: Settings, news_day: SampleDay
) -> None:
    result = CliRunner().invoke(app, ["run", "--now", "--feed", "Alojapan"], prog_name="newswatch")
    assert result.exit_code == 2
    assert result.output == (
        "newswatch run: Invalid value for --feed: no feed named 'Alojapan' in feeds.yaml; "
        "known: AloJapan, Asia Wire, Broken Times (see --help)\n"
    )
    assert run_count(settings) == 0 and sum(news_day.requests.values()) == 0


def test_the_known_names_after_an_unknown_feed_are_bounded(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "topics.yaml").write_text((settings.config_dir / "topics.yaml").read_text())
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    set_feeds([{"name": f"Feed {i:02}", "url": f"https://news{i}.example/rss"} for i in range(40)])
    result = CliRunner().invoke(app, ["run", "--feed", "nope"])
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1
    assert "known: Feed 00, Feed 01," in result.output
    assert "Feed 09 … (30 more: newswatch feeds list)" in result.output
    assert "Feed 10" not in result.output


def test_a_disabled_feed_is_refused_saying_how_to_enable_it(
    settings: Settings, news_day: SampleDay
) -> None:
    entries = yaml.safe_load((config_dir() / "feeds.yaml").read_text())["feeds"]
    entries[2]["enabled"] = False  # Broken Times
    set_feeds(entries)
    result = CliRunner().invoke(
        app, ["run", "--now", "--feed", "Broken Times"], prog_name="newswatch"
    )
    assert result.exit_code == 2
    assert result.output == (
        "newswatch run: Invalid value for --feed: feed 'Broken Times' is disabled in "
        "feeds.yaml; to poll again: newswatch feeds enable 'Broken Times' (see --help)\n"
    )
    assert run_count(settings) == 0


def test_feed_batches_take_forced_feeds_by_id_or_name_and_refuse_others(
    settings: Settings, news_day: SampleDay
) -> None:
    pipeline.open_run(get_settings())  # syncs feeds.yaml to the store
    ids = {name: feed_id for feed_id, name in _feeds(settings)}
    assert pipeline.feed_batches(get_settings(), {"AloJapan", ids["Asia Wire"]}) == [
        [ids["AloJapan"], ids["Asia Wire"]]
    ]
    assert pipeline.feed_batches(get_settings(), True) == [sorted(ids.values())]
    with pytest.raises(ValueError, match="no feed 'Nope' in the store"):
        pipeline.feed_batches(get_settings(), {"Nope"})
    with db.transaction(db.session_factory(settings)) as session:
        feed = session.get_one(models.Feed, ids["AloJapan"])
        feed.enabled = False
    with pytest.raises(ValueError, match="feed 'AloJapan' is disabled"):
        pipeline.feed_batches(get_settings(), {ids["AloJapan"]})
    assert pipeline.feed_batches(get_settings(), True) == [
        sorted(v for k, v in ids.items() if k != "AloJapan")
    ]


def _feeds(settings: Settings) -> list[tuple[int, str]]:
    with db.transaction(db.session_factory(settings)) as session:
        return list(session.execute(select(models.Feed.id, models.Feed.name)).tuples())
