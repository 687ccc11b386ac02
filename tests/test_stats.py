"""`newswatch stats` over runs of the real pipeline on the sample news day."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Mailbox, free_port
from typer.testing import CliRunner

from newswatch import clock, models, pipeline
from newswatch.cli.main import app
from newswatch.outcomes import StageReport
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db

DAY_ONE = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DAY_TWO = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def two_days_of_runs(
    settings: Settings, news_day: SampleDay, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Day one: the sample day with the mail server down. Day two: nothing new, mail goes out."""
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    clock.freeze(DAY_ONE)
    pipeline.run_once(get_settings())
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", smtp.url)
    clock.freeze(DAY_TWO)
    pipeline.run_once(get_settings())
    clock.freeze(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


def stats_json(*args: str) -> dict[str, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["stats", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_stats_counts_each_run_of_the_sample_day(two_days_of_runs: None) -> None:
    first, second = stats_json()["runs"]
    assert first == first | {
        "run_id": 1,
        "finished": True,
        "feeds_polled": 3,
        "feeds_not_modified": 0,
        "feeds_failed": 1,
        "pages_failed": 1,
        "articles_new": 7,  # six stories, one of them also as Asia Wire's copy
        "fallback_used": 2,
        "matches_new": 13,
        "alerts_sent": 0,
        "alerts_pending": 4,  # one per story and reader: the summit story's five topics are one
        "alerts_failed": 0,
    }
    assert second == second | {
        "run_id": 2,
        "feeds_polled": 3,
        "feeds_not_modified": 2,
        "feeds_failed": 1,
        "articles_new": 0,
        "matches_new": 0,
        "alerts_sent": 4,
        "alerts_pending": 0,
    }


def test_stats_sums_runs_per_day(two_days_of_runs: None) -> None:
    days = stats_json()["days"]
    assert [(d["day"], d["runs"], d["articles_new"], d["alerts_sent"]) for d in days] == [
        ("2026-03-01", 1, 7, 0),
        ("2026-03-02", 1, 0, 4),
    ]


def test_stats_days_option_drops_older_runs(two_days_of_runs: None) -> None:
    recent = stats_json("--days", "1")
    assert [run["run_id"] for run in recent["runs"]] == [2]
    assert [day["day"] for day in recent["days"]] == ["2026-03-02"]


def test_pending_alerts_of_a_day_are_those_left_by_its_last_run(
    settings: Settings, news_day: SampleDay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    clock.freeze(DAY_ONE)
    pipeline.run_once(get_settings())
    clock.freeze(DAY_ONE.replace(hour=11))
    pipeline.run_once(get_settings())
    (day,) = stats_json()["days"]
    assert day["runs"] == 2 and day["alerts_pending"] == 4


def test_stats_table_shows_a_line_per_run_and_per_day(two_days_of_runs: None) -> None:
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "run", "started", "(UTC)", "trigger", "feeds", "304", "feed_err", "page_err",
        "new", "fallback", "matches", "sent", "pending", "failed", "errors",
    ]  # fmt: skip
    assert lines[1].split() == [
        "1",
        "2026-03-01",
        "10:00",
        "cli",
        *"3 0 1 1 7 2 13 0 4 0 3".split(),
    ]
    assert lines[2].split()[:4] == ["2", "2026-03-02", "10:00", "cli"]
    assert lines[4].split()[:3] == ["day", "runs", "feeds"]
    assert lines[5].split()[:3] == ["2026-03-01", "1", "3"]
    assert lines[6].split()[:3] == ["2026-03-02", "1", "3"]


def test_stats_without_runs_says_so(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 0
    assert result.output.strip() == "no runs in this period"


def test_stats_json_includes_seconds_per_stage(two_days_of_runs: None) -> None:
    first, second = stats_json()["runs"]
    stages = ["fetch", "extract", "tag", "store", "deliver"]
    for run in (first, second):
        seconds = [run[f"seconds_{stage}"] for stage in stages]
        assert all(isinstance(s, float) and s >= 0 and round(s, 3) == s for s in seconds)
        assert run["seconds_fetch"] > 0 and run["seconds_store"] > 0  # type: ignore[operator]
    assert first["seconds_extract"] > 0  # type: ignore[operator]  # seven new articles
    (day_one, day_two) = stats_json()["days"]
    assert day_two["seconds_fetch"] == second["seconds_fetch"]


def test_run_record_sums_stage_seconds_over_batches(
    settings: Settings, news_day: SampleDay
) -> None:
    run_id = pipeline.open_run(get_settings())
    reports: list[dict[str, Any]] = [
        {"batch": [1], "counts": {}, "durations": {"seconds_fetch": 0.5, "seconds_tag": 0.125}},
        {"batch": [2], "counts": {}, "durations": {"seconds_fetch": 0.25}},
        {"counts": {}, "durations": {"seconds_deliver": 0.0625}},
    ]
    stages = [StageReport.from_xcom(report) for report in reports]
    summary = pipeline.finish_run(get_settings(), run_id, stages, [[1], [2]]).to_xcom()
    expected = {"seconds_fetch": 0.75, "seconds_tag": 0.125, "seconds_deliver": 0.062}
    assert summary["durations"] == expected
    with db.transaction(db.session_factory(settings)) as session:
        assert session.get_one(models.Run, run_id).durations == expected


def test_stats_durations_flag_adds_a_column_per_stage(two_days_of_runs: None) -> None:
    result = CliRunner().invoke(app, ["stats", "--durations"])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split()
    assert header[-6:] == [
        "s_fetch",
        "s_extract",
        "s_tag",
        "s_store",
        "s_deliver",
        "errors",
    ]
    first = result.output.splitlines()[1].split()
    assert float(first[-5]) > 0 and first[-1] == "3"
