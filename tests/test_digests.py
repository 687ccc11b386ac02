"""Daily digests end to end: config subscribers, outbox rows, real SMTP on loopback, the DAG."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, Mailbox, free_port
from expected import TAKAICHI
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newswatch import clock, models, pipeline, store
from newswatch.config.load import ConfigError, load_config
from newswatch.delivery.messages.digest import chart_days
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db

SUBSCRIBERS = """
subscribers:
  - name: morning-desk
    emails: [desk@example.com]
    topics: [taiwan, rare-earths]
    mode: digest
  - name: quiet-desk
    emails: [quiet@example.com]
    topics: [defense-spending]
    mode: digest
  - name: nagging-desk
    emails: [nag@example.com]
    topics: [taiwan]
    mode: digest
    send_empty: true
  - name: fast-desk
    emails: [fast@example.com]
    topics: [tariffs]
"""


@pytest.fixture
def subscribed(news_day: SampleDay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = Path(get_settings().config_dir)
    (config / "topics.yaml").write_text((config / "topics.yaml").read_text() + SUBSCRIBERS)
    return config


def emails_to(box: Mailbox, address: str) -> list[object]:
    return [
        message_from_bytes(env.content, policy=policy.default)  # type: ignore[arg-type]
        for env in box.received
        if address in env.rcpt_tos
    ]


def test_immediate_subscriber_gets_the_topic_alerts_too(
    settings: Settings, subscribed: Path, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    assert len(emails_to(smtp, "fast@example.com")) == 2  # the two tariffs stories
    assert emails_to(smtp, "desk@example.com") == []  # digest readers get no immediate alerts


def test_digest_lists_the_days_stories_once_each_and_is_sent_once(
    settings: Settings, subscribed: Path, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    clock.freeze(clock.now() + timedelta(hours=1))
    planned = pipeline.plan_digests(get_settings())
    sent = pipeline.send_digests(get_settings())
    again = pipeline.plan_digests(get_settings(), clock.now())
    assert planned.counts["digests_queued"] == 3 and again.counts["digests_queued"] == 0
    assert pipeline.send_digests(get_settings()).counts["digests_sent"] == 0
    assert sent.counts["digests_sent"] == 3  # every followed topic had a hit today
    (digest,) = emails_to(smtp, "desk@example.com")
    plain = digest.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "2 stories hit your topics." in plain
    assert "Stories per topic: Rare earths 2 · Taiwan 1" in plain  # the summit story: in both
    assert plain.count(TAKAICHI) == 1  # one entry per story, whatever it hit
    assert "Topics: Taiwan, Rare earths" in plain  # only the topics this reader follows
    assert "2 outlets: " in plain and "AloJapan" in plain and "Asia Wire" in plain
    assert "Tariffs" not in plain.split("Hits per topic")[0]
    assert all(p.get_content_maintype() != "image" for p in digest.walk())  # type: ignore[attr-defined]
    assert digest["List-Unsubscribe"]  # type: ignore[index]


def test_empty_digest_is_recorded_not_sent_unless_asked(
    settings: Settings, subscribed: Path, smtp: Mailbox
) -> None:
    pipeline.plan_digests(get_settings())  # nothing stored yet: every digest is empty
    pipeline.send_digests(get_settings())
    with db.transaction(db.session_factory(settings)) as session:
        states = {d.subscriber: d.state for d in session.scalars(select(models.DigestMail))}
    assert states == {"morning-desk": "empty", "quiet-desk": "empty", "nagging-desk": "sent"}
    (nag,) = emails_to(smtp, "nag@example.com")
    assert "No stories hit your topics in this period." in nag.get_body(("plain",)).get_content()  # type: ignore[attr-defined]


def test_subscriber_of_an_unknown_topic_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text((REPO / "config" / "feeds.yaml").read_text())
    (tmp_path / "topics.yaml").write_text(
        (REPO / "config" / "topics.yaml").read_text()
        + "subscribers:\n  - {name: x, emails: [x@example.com], topics: [tarifs], mode: digest}\n"
    )
    with pytest.raises(
        ConfigError, match=r"subscribers\[0\] \('x'\): field 'topics': no such topic 'tarifs'"
    ):
        load_config(tmp_path)


def test_news_digest_dag_runs_daily_at_seven_tokyo_and_sends(
    settings: Settings, subscribed: Path, smtp: Mailbox, airflow_db: str
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    pipeline.run_once(get_settings())
    dag = DagBag(dag_folder=str(REPO / "dags" / "news_digest.py")).dags["news_digest"]
    assert dag.timetable.expression == "0 7 * * *"  # type: ignore[union-attr]
    assert str(dag.timetable.timezone) in ("Asia/Tokyo", "Timezone('Asia/Tokyo')")  # type: ignore[union-attr]
    assert dag.test().state == "success"
    assert len(emails_to(smtp, "desk@example.com")) == 1


def test_hit_at_2330_utc_counts_on_the_next_local_day_in_tokyo(settings: Settings) -> None:
    hit = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 08:30 on the 25th in Tokyo
    with db.transaction(db.session_factory(settings)) as session:
        feed = models.Feed(name="Wire", url="http://127.0.0.1/feed")
        topic = models.Topic(name="tariffs", title="Tariffs", rule={}, recipients=[])
        story = models.Story(first_seen_at=hit, title="Steel tariffs")
        session.add_all([feed, topic, story])
        session.flush()
        article = models.Article(
            url="http://127.0.0.1/a",
            feed_id=feed.id,
            title="Steel tariffs",
            fetched_at=hit,
            text="Steel tariffs rise.",
            text_source="page",
            content_hash="a",
            story_id=story.id,
        )
        session.add(article)
        session.flush()
        session.add(
            models.Match(
                article_id=article.id,
                topic_id=topic.id,
                terms={"tariffs": 1},
                snippet="Steel tariffs rise.",
                highlights=[],
                matched_at=hit,
            )
        )
        session.flush()
        end = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 07:00 on the 26th in Tokyo
        tokyo_day = chart_days(end, ZoneInfo("Asia/Tokyo"), 14)[-1]
        tokyo = store.reads.daily_hits(session, tokyo_day, 14, "Asia/Tokyo").by_title()
        utc_day = chart_days(end, ZoneInfo("UTC"), 14)[-1]
        utc = store.reads.daily_hits(session, utc_day, 14, "UTC").by_title()
    assert tokyo == {"Tariffs": {date(2026, 11, 25): 1}}
    assert utc == {"Tariffs": {date(2026, 11, 24): 1}}


HOOKED_DIGEST = """
subscribers:
  - name: minerals-digest
    emails: [minerals@example.com]
    apprise_env: [NEWSWATCH_TEST_DIGEST_HOOK]
    topics: [rare-earths]
    mode: digest
"""


@pytest.fixture
def digest_hook(
    news_day: SampleDay, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> HTTPServer:
    """A digest subscriber with an email and an Apprise webhook on loopback; the hook says ok."""
    config = Path(get_settings().config_dir)
    (config / "topics.yaml").write_text((config / "topics.yaml").read_text() + HOOKED_DIGEST)
    monkeypatch.setenv("NEWSWATCH_TEST_DIGEST_HOOK", f"json://127.0.0.1:{httpserver.port}/hook")
    return httpserver


def hook_posts(server: HTTPServer) -> list[dict[str, str]]:
    return [json.loads(request.get_data()) for request, _ in server.log if request.path == "/hook"]


def digest_rows(settings: Settings) -> dict[str, tuple[str, int, str | None]]:
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.scalars(select(models.DigestMail).order_by(models.DigestMail.id))
        return {d.channel: (d.state, d.attempts, d.delivered_to) for d in rows}


def plan_and_send_next_hour() -> None:
    clock.freeze(clock.now() + timedelta(hours=1))
    pipeline.plan_digests(get_settings())
    pipeline.send_digests(get_settings())


def test_digest_goes_to_the_subscribers_apprise_channel_once(
    settings: Settings, digest_hook: HTTPServer, smtp: Mailbox
) -> None:
    digest_hook.expect_request("/hook", method="POST").respond_with_data("ok")
    pipeline.run_once(get_settings())
    assert hook_posts(digest_hook) == []  # a digest reader gets no immediate alerts there
    plan_and_send_next_hour()
    (post,) = hook_posts(digest_hook)
    assert post["title"].startswith("[newswatch] Daily digest ")
    assert post["title"].endswith(": 2 stories")
    assert "2 stories hit your topics." in post["message"] and TAKAICHI in post["message"]
    assert "Stories per topic: Rare earths 2" in post["message"]
    assert "Rare earths 2" in post["message"].split("Hits per topic")[1]
    assert len(emails_to(smtp, "minerals@example.com")) == 1
    assert digest_rows(settings) == {
        "email": ("sent", 1, smtp.url),
        "apprise:minerals-digest": ("sent", 1, "apprise:minerals-digest"),
    }
    pipeline.plan_digests(get_settings(), clock.now())
    pipeline.send_digests(get_settings())
    assert len(hook_posts(digest_hook)) == 1  # never twice


def test_refused_apprise_digest_is_retried_with_backoff_then_failed(
    settings: Settings, digest_hook: HTTPServer, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "2")
    digest_hook.expect_request("/hook", method="POST").respond_with_data("down", status=500)
    pipeline.run_once(get_settings())
    plan_and_send_next_hour()
    assert digest_rows(settings)["apprise:minerals-digest"][:2] == ("pending", 1)
    assert pipeline.send_digests(get_settings()).counts["digests_retrying"] == 0  # not yet due
    clock.freeze(clock.now() + timedelta(minutes=3))
    report = pipeline.send_digests(get_settings())
    assert report.counts["digests_failed"] == 1
    assert any("failed after 2 attempts" in error for error in report.errors)
    assert digest_rows(settings)["apprise:minerals-digest"][:2] == ("failed", 2)
    assert digest_rows(settings)["email"][0] == "sent"
    assert len(hook_posts(digest_hook)) == 2


def test_apprise_digest_still_goes_when_the_mail_server_is_down(
    settings: Settings, digest_hook: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest_hook.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    pipeline.run_once(get_settings())
    plan_and_send_next_hour()
    assert len(hook_posts(digest_hook)) == 1
    assert digest_rows(settings)["email"][:2] == ("pending", 0)
