"""Daily digests end to end: config subscribers, outbox rows, real SMTP on loopback, the DAG."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import REPO, Mailbox
from expected import TAKAICHI
from sqlalchemy import select

from newswatch import clock, database, models, pipeline
from newswatch.config import ConfigError, load_config
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings

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


def test_digest_groups_the_day_by_topic_and_is_sent_once(
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
    assert "== Rare earths (2) ==" in plain and "== Taiwan (1) ==" in plain
    assert TAKAICHI in plain and "2 source(s): AloJapan.com, Asia Wire" in plain
    assert "Tariffs" not in plain.split("Hits per day")[0]
    assert any(p.get_content_type() == "image/png" for p in digest.walk())  # type: ignore[attr-defined]
    assert digest["List-Unsubscribe"]  # type: ignore[index]


def test_empty_digest_is_recorded_not_sent_unless_asked(
    settings: Settings, subscribed: Path, smtp: Mailbox
) -> None:
    pipeline.plan_digests(get_settings())  # nothing stored yet: every digest is empty
    pipeline.send_digests(get_settings())
    with database.transaction(database.session_factory(settings)) as session:
        states = {d.subscriber: d.state for d in session.scalars(select(models.DigestMail))}
    assert states == {"morning-desk": "empty", "quiet-desk": "empty", "nagging-desk": "sent"}
    (nag,) = emails_to(smtp, "nag@example.com")
    assert "No hits in this period." in nag.get_body(("plain",)).get_content()  # type: ignore[attr-defined]


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
    assert dag.timetable.expression == "0 7 * * *"
    assert str(dag.timetable.timezone) in ("Asia/Tokyo", "Timezone('Asia/Tokyo')")
    assert dag.test().state == "success"
    assert len(emails_to(smtp, "desk@example.com")) == 1
