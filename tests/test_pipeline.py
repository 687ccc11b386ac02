"""One full pass (`newswatch run`'s code path) on the sample news day: real PostgreSQL, HTTP, SMTP."""

from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import Mailbox
from expected import SAMPLE_DAY_ALERTS, SAMPLE_DAY_MESSAGES, TAKAICHI
from helpers import stored_alerts
from sqlalchemy import func, select
from typer.testing import CliRunner

from newswatch import clock, ingest, models, pipeline
from newswatch.cli.main import app
from newswatch.outcomes import StageReport
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db


def subjects(box: object) -> list[str]:
    return sorted(
        str(message_from_bytes(env.content, policy=policy.default)["Subject"])
        for env in box.received  # type: ignore[attr-defined]
    )


def test_sample_day_alerts_exactly_the_expected_hits(
    settings: Settings, news_day: SampleDay, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_EXTRACT_WORKERS", "2")  # extraction on both cores, as deployed
    summary = pipeline.run_once(get_settings()).to_xcom()
    assert stored_alerts(settings) == SAMPLE_DAY_ALERTS
    assert len(smtp.received) == SAMPLE_DAY_MESSAGES
    assert f"[newswatch] Taiwan · Tariffs · Rare earths +2: {TAKAICHI}" in subjects(smtp)
    assert all(env.rcpt_tos == ["analyst@example.com"] for env in smtp.received)
    counts = summary["counts"]
    assert counts["alerts_sent"] == SAMPLE_DAY_MESSAGES and counts["feeds_error"] == 1
    assert counts["fallback_used"] == 2  # the 404 page and the linkless item


def test_second_run_stores_and_sends_nothing_new(
    settings: Settings, news_day: SampleDay, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    first = len(smtp.received)
    clock.freeze(clock.now() + timedelta(hours=25))  # the next daily run: every feed is due again
    summary = pipeline.run_once(get_settings()).to_xcom()
    assert len(smtp.received) == first
    counts = summary["counts"]
    assert counts.get("articles_new", 0) == 0 and counts.get("alerts_sent", 0) == 0
    assert counts["feeds_not_modified"] == 2
    assert stored_alerts(settings) == SAMPLE_DAY_ALERTS


def test_failing_feed_is_recorded_and_does_not_stop_the_others(
    settings: Settings, news_day: SampleDay, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    with db.transaction(db.session_factory(settings)) as session:
        broken = session.scalars(
            select(models.Feed).where(models.Feed.name == "Broken Times")
        ).one()
        run = session.scalars(select(models.Run)).one()
    assert broken.last_error == "HTTP 500" and broken.consecutive_failures == 1
    assert "feed 'Broken Times': HTTP 500" in run.errors
    assert run.finished_at is not None


def test_syndicated_copy_adds_a_source_not_an_article(
    settings: Settings, news_day: SampleDay, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    with db.transaction(db.session_factory(settings)) as session:
        article = session.scalars(
            select(models.Article).where(models.Article.title == TAKAICHI)
        ).one()
        sources = session.scalar(
            select(func.count()).where(models.ArticleSource.article_id == article.id)
        )
        copies = session.scalar(
            select(func.count()).where(models.Article.content_hash == article.content_hash)
        )
    assert sources == 2 and copies == 1


def test_without_smtp_emails_go_to_the_outbox_once(settings: Settings, news_day: SampleDay) -> None:
    pipeline.run_once(get_settings())
    clock.freeze(clock.now() + timedelta(hours=25))
    pipeline.run_once(get_settings())
    emails = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(emails) == SAMPLE_DAY_MESSAGES
    assert message_from_bytes(emails[0].read_bytes())["To"] == "analyst@example.com"


def test_cli_run_and_alerts_list(settings: Settings, news_day: SampleDay, smtp: Mailbox) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert "alerts_sent" in result.output
    assert "emails went to " in result.output, result.output
    again = runner.invoke(app, ["run"])  # nothing due, nothing sent: nothing said of emails
    assert again.exit_code == 0 and "emails went to" not in again.output, again.output
    listing = runner.invoke(app, ["alerts", "--state", "sent"])
    assert listing.exit_code == 0
    assert "rare-earths" in listing.output and "Takaichi" in listing.output


def test_cli_run_with_bad_config_stops_with_one_clear_message(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - name: X\n    url: nope\n")
    (tmp_path / "topics.yaml").write_text("topics: []\n")
    result = CliRunner().invoke(app, ["run", "--config", str(tmp_path)])
    assert result.exit_code == 2
    assert "feeds[0] ('X'): field 'url'" in result.output


def test_run_with_a_missing_batch_is_recorded_then_fails(
    settings: Settings, news_day: SampleDay
) -> None:
    run_id = pipeline.open_run(get_settings())
    with pytest.raises(RuntimeError, match="1 feed batch"):
        pipeline.finish_run(
            get_settings(),
            run_id,
            [StageReport.from_xcom({"counts": {"alerts_sent": 0}, "errors": []})],
            [[1, 2, 3]],
        )
    with db.transaction(db.session_factory(settings)) as session:
        run = session.get_one(models.Run, run_id)
    assert run.finished_at is not None and "1 feed batch(es) did not finish" in run.errors


def test_retried_batch_stores_nothing_twice(settings: Settings, news_day: SampleDay) -> None:
    current = get_settings()
    pipeline.open_run(current)
    (batch,) = pipeline.feed_batches(current)
    first = ingest.process_feeds(current, batch)
    # A retry after a crash before the validators were saved: poll unconditionally again.
    with db.transaction(db.session_factory(current)) as session:
        for feed in session.scalars(select(models.Feed)):
            feed.etag = None
    retry = ingest.process_feeds(current, batch)
    assert first.counts["articles_new"] == 7 and retry.counts.get("articles_new", 0) == 0
    assert stored_alerts(settings) == SAMPLE_DAY_ALERTS


def test_feeds_not_due_are_not_polled_again_within_the_day(
    settings: Settings, news_day: SampleDay
) -> None:
    pipeline.run_once(get_settings())
    requests = sum(news_day.requests.values())
    summary = pipeline.run_once(get_settings()).to_xcom()
    assert sum(news_day.requests.values()) == requests
    assert summary["counts"] == {
        "feeds_due": 0,
        "alerts_sent": 0,
        "alerts_retrying": 0,
        "alerts_failed": 0,
        "alerts_pending": 0,
    }


def test_a_feed_is_polled_early_by_at_most_half_its_own_interval(
    settings: Settings, news_day: SampleDay
) -> None:
    """The slack lets a daily tick take a feed due in the next 30 minutes; a feed that polls
    every 15 minutes is not taken by every run a few minutes apart."""
    from newswatch import store

    pipeline.run_once(get_settings())
    now = clock.now()
    plan = {  # name: (interval, next poll from now)
        "AloJapan": (timedelta(minutes=15), timedelta(minutes=10)),  # fast, not yet half-way
        "Asia Wire": (timedelta(days=1), timedelta(minutes=20)),  # daily: the slack takes it
        "Broken Times": (timedelta(minutes=15), timedelta(minutes=5)),  # fast, close enough
    }
    with db.transaction(db.session_factory(settings)) as session:
        for feed in session.scalars(select(models.Feed)):
            interval, ahead = plan[feed.name]
            feed.poll_interval_seconds = int(interval.total_seconds())
            feed.next_poll_at = now + ahead
    with db.transaction(db.session_factory(settings)) as session:
        due = store.feeds.due_feeds(session, now, timedelta(minutes=30))
        names = {session.get_one(models.Feed, feed_id).name for feed_id, _ in due}
    assert names == {"Asia Wire", "Broken Times"}


@pytest.mark.parametrize("store_batch", [200, 1])  # one write, or one per article
def test_syndicated_rewrite_joins_the_story_and_alerts_nothing_new(
    settings: Settings,
    news_day: SampleDay,
    smtp: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    store_batch: int,
) -> None:
    monkeypatch.setenv("NEWSWATCH_STORE_BATCH", str(store_batch))
    summary = pipeline.run_once(get_settings()).to_xcom()
    with db.transaction(db.session_factory(settings)) as session:
        lead = session.scalars(select(models.Article).where(models.Article.title == TAKAICHI)).one()
        copy = session.scalars(
            select(models.Article).where(models.Article.title.like("Japan eyes late-March%"))
        ).one()
        copy_matches = session.scalar(
            select(func.count()).where(models.Match.article_id == copy.id)
        )
        story = session.get_one(models.Story, lead.story_id)
    assert copy.story_id == lead.story_id and story.lead_article_id == lead.id
    assert copy_matches == 5  # its hits are stored and explained ...
    assert stored_alerts(settings) == SAMPLE_DAY_ALERTS  # ... but alert nobody twice
    assert len(smtp.received) == SAMPLE_DAY_MESSAGES
    counts = summary["counts"]
    assert counts["story_copies"] == 1 and counts["stories_new"] == 6


def test_exact_copy_under_another_url_adds_a_source_not_a_row(
    settings: Settings, news_day: SampleDay
) -> None:
    from newswatch import store
    from newswatch.records import Article

    pipeline.run_once(get_settings())
    with db.transaction(db.session_factory(settings)) as session:
        lead = session.scalars(select(models.Article).where(models.Article.title == TAKAICHI)).one()
        copy = Article(
            url="https://mirror.example/takaichi",
            feed_id=lead.feed_id,
            title=lead.title,
            author=None,
            published_at=None,
            language="en",
            text=lead.text,
            text_source="page",
            content_hash=lead.content_hash,
            summary="",
            guid="mirror-1",
        )
        counts = store.articles.save_articles(session, [(copy, [])], clock.now())
        rows = session.scalar(
            select(func.count()).where(models.Article.content_hash == lead.content_hash)
        )
    assert counts["duplicates"] == 1 and counts["articles_new"] == 0 and rows == 1
