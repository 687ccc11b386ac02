"""The operator hears about a failed DAG run: Airflow's on_failure_callback emails them once."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.dag_processing.dagbag import DagBag
from conftest import Mailbox, free_port
from sqlalchemy import select

from newswatch import models, pipeline
from newswatch.delivery.notice import notify_failure
from newswatch.settings import Settings, get_settings
from newswatch.store import db

DAGS = Path(__file__).resolve().parents[1] / "dags"
OPERATOR = "ops@example.com"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def received(box: Mailbox) -> list[EmailMessage]:
    return [
        message_from_bytes(env.content, policy=policy.default)  # type: ignore[arg-type]
        for env in box.received
    ]


def test_failed_dag_run_emails_the_operator_once(
    settings: Settings,
    smtp: Mailbox,
    airflow_db: str,
    dagbag: DagBag,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - name: X\n    url: nope\n")
    (tmp_path / "topics.yaml").write_text("topics: []\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSWATCH_OPERATOR_EMAIL", OPERATOR)
    # deliver reads the config too (its Apprise channels) and would only fail after retries
    # with backoff; the run fails either way, so skip it and keep the test fast.
    run = dagbag.dags["news_monitor"].test(mark_success_pattern="deliver")
    assert run.state == "failed"
    (msg,) = received(smtp)
    assert smtp.received[0].rcpt_tos == [OPERATOR]
    assert msg["From"] == get_settings().mail_from
    assert "news_monitor" in str(msg["Subject"]) and run.run_id in str(msg["Subject"])
    body = msg.get_content()
    assert f"Run:          {run.run_id}" in body
    assert "Failed task:  " in body and "Reason:       task_failure" in body
    assert "Log:          http" in body


def test_without_an_operator_address_the_failure_is_only_logged(
    settings: Settings, smtp: Mailbox, dagbag: DagBag, caplog: pytest.LogCaptureFixture
) -> None:
    # The minimal context Airflow passes when no failed task is known.
    context = {"dag": dagbag.dags["news_digest"], "run_id": "manual__1", "reason": "timed out"}
    with caplog.at_level(logging.ERROR, logger="newswatch.delivery.notice"):
        notify_failure(context)
    assert smtp.received == []
    assert "news_digest" in caplog.text and "NEWSWATCH_OPERATOR_EMAIL unset" in caplog.text


def test_failure_email_names_the_task_and_its_log_and_repeats_as_the_same_message(
    settings: Settings, dagbag: DagBag, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_OPERATOR_EMAIL", OPERATOR)  # no SMTP set: the file outbox
    log_url = "http://airflow.example/dags/news_monitor/runs/scheduled__1/tasks/process_feeds"
    ti = SimpleNamespace(task_id="process_feeds", map_index=2, log_url=log_url)
    context = {
        "dag": dagbag.dags["news_monitor"],
        "run_id": "scheduled__1",
        "ti": ti,
        "reason": "task_failure",
    }
    notify_failure(context)
    notify_failure(context)
    (eml,) = settings.outbox_dir.glob("*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == OPERATOR
    assert str(msg["Subject"]) == "[newswatch] DAG news_monitor failed: scheduled__1"
    body = msg.get_content()
    assert "Failed task:  process_feeds[2]" in body and f"Log:          {log_url}" in body


FAILED_RUN = {
    "dag": SimpleNamespace(dag_id="news_monitor"),
    "run_id": "scheduled__2",
    "reason": "task_failure",
}


def notices(settings: Settings) -> list[tuple[str, int]]:
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.scalars(select(models.Notice).order_by(models.Notice.id))
        return [(notice.state, notice.attempts) for notice in rows]


def test_a_notice_told_while_the_mail_server_is_down_goes_with_the_next_delivery(
    settings: Settings, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_OPERATOR_EMAIL", OPERATOR)
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody there
    notify_failure(FAILED_RUN)
    assert smtp.received == []
    assert notices(settings) == [("pending", 0)]  # the server never answered: not a refusal
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", smtp.url)
    report = pipeline.deliver(get_settings())
    assert report.counts["notices_sent"] == 1
    notify_failure(FAILED_RUN)  # Airflow telling the same failure again sends nothing more
    pipeline.deliver(get_settings())
    (msg,) = received(smtp)
    assert smtp.received[0].rcpt_tos == [OPERATOR]
    assert str(msg["Subject"]) == "[newswatch] DAG news_monitor failed: scheduled__2"
    assert notices(settings) == [("sent", 1)]


def test_the_operator_still_hears_when_the_news_database_is_down(
    settings: Settings, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_OPERATOR_EMAIL", OPERATOR)
    monkeypatch.setenv(
        "NEWSWATCH_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/newswatch"
    )
    notify_failure(FAILED_RUN)
    (msg,) = received(smtp)
    assert smtp.received[0].rcpt_tos == [OPERATOR]
    assert "Run:          scheduled__2" in msg.get_content()
