"""Delivery against a real SMTP server on loopback: exactly once, nothing lost when it fails."""

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from conftest import Mailbox, free_port
from helpers import seed_alerts, states

from newswatch import clock
from newswatch.delivery import send, transports
from newswatch.settings import Settings, get_settings
from newswatch.store import db

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def deliver(settings: Settings) -> send.Delivery:
    fresh = get_settings()
    return send.deliver_pending(db.session_factory(fresh), transports.make_transport(fresh), fresh)


def test_pending_alerts_are_sent_once_with_deterministic_message_ids(
    settings: Settings, smtp: Mailbox
) -> None:
    seed_alerts(settings, "First", "Second")
    result = deliver(settings)
    again = deliver(settings)
    assert (result.sent, again.sent) == (2, 0)
    assert len(smtp.received) == 2
    ids = [message_from_bytes(env.content)["Message-ID"] for env in smtp.received]  # type: ignore[arg-type]
    assert len(set(ids)) == 2 and all(
        i.startswith("<alert.") and i.endswith("@localhost>") for i in ids
    )
    assert states(settings) == [("sent", 1), ("sent", 1)]


def test_smtp_down_keeps_alerts_pending_until_the_next_run(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    smtp: Mailbox,
) -> None:
    seed_alerts(settings, "First", "Second")
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody listens
    down = deliver(settings)
    assert down.sent == 0 and down.errors and "ConnectionRefusedError" in down.errors[0]
    assert states(settings) == [("pending", 0), ("pending", 0)]
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", smtp.url)
    assert deliver(settings).sent == 2
    assert len(smtp.received) == 2


def test_refused_message_backs_off_then_fails_and_others_still_go(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    smtp: Mailbox,
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "2")
    seed_alerts(settings, "Refused one")
    smtp.refuse.add("analyst@example.com")
    clock.freeze(T0)
    first = deliver(settings)
    assert (first.sent, first.retrying) == (0, 1)
    assert deliver(settings).retrying == 0  # backing off: not due yet
    clock.freeze(T0 + timedelta(hours=1))
    second = deliver(settings)
    assert second.failed == 1 and "failed after 2 attempts" in second.errors[0]
    assert states(settings) == [("failed", 2)]
    smtp.refuse.clear()
    seed_alerts(settings, "Refused one", "Fine")
    assert deliver(settings).sent == 1


def test_outbox_files_are_named_by_message_id_and_not_duplicated(settings: Settings) -> None:
    seed_alerts(settings, "First")
    deliver(settings)
    deliver(settings)
    files = list(settings.outbox_dir.glob("*.eml"))
    assert len(files) == 1 and files[0].name.startswith("alert.")
    assert states(settings) == [("sent", 1)]


def test_smtp_url_parsing() -> None:
    target = transports.SmtpTarget.from_url(
        "smtp://user%40x:p%3Ass@mail.example:2525?starttls=true"
    )
    assert (target.host, target.port, target.user, target.password, target.starttls) == (
        "mail.example",
        2525,
        "user@x",
        "p:ss",
        True,
    )
    assert transports.SmtpTarget.from_url("smtps://mail.example").port == 465


def test_airflow_smtp_default_connection_is_used_without_smtp_url(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    smtp: Mailbox,
) -> None:
    monkeypatch.delenv("NEWSWATCH_SMTP_URL")
    conn = {
        "conn_type": "smtp",
        "host": smtp.host,
        "port": smtp.port,
        "extra": {"disable_ssl": True, "disable_tls": True},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))
    seed_alerts(settings, "Via Airflow")
    result = deliver(settings)
    assert result.sent == 1 and result.where == smtp.url
    assert message_from_bytes(smtp.received[0].content)["From"] == settings.mail_from  # type: ignore[arg-type]
    assert not settings.outbox_dir.exists()


def test_alert_email_carries_list_unsubscribe(
    settings: Settings, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_UNSUBSCRIBE", "https://news.example/unsubscribe")
    seed_alerts(settings, "First")
    deliver(settings)
    msg = message_from_bytes(smtp.received[0].content)  # type: ignore[arg-type]
    assert msg["List-Unsubscribe"] == "<https://news.example/unsubscribe>"


def test_failed_alert_is_listed_and_resent_from_the_cli(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    smtp: Mailbox,
) -> None:
    from typer.testing import CliRunner

    from newswatch.cli.main import app

    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "1")
    seed_alerts(settings, "Refused once")
    smtp.refuse.add("analyst@example.com")
    assert deliver(settings).failed == 1
    runner = CliRunner()
    listing = runner.invoke(app, ["alerts", "--failed"])
    assert listing.exit_code == 0, listing.output
    assert "failed" in listing.output and "SMTPRecipientsRefused" in listing.output
    smtp.refuse.clear()
    resent = runner.invoke(app, ["alerts", "resend", "1"])
    assert resent.exit_code == 0, resent.output
    assert "alert 1: sent" in resent.output
    assert states(settings) == [("sent", 1)] and len(smtp.received) == 1
    assert runner.invoke(app, ["alerts", "resend", "99"]).exit_code == 1


def test_stored_alerts_go_out_even_when_the_config_file_breaks(
    settings: Settings,
    smtp: Mailbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newswatch import pipeline

    seed_alerts(settings, "Before the typo")
    (tmp_path / "feeds.yaml").write_text("feeds: [\n")
    (tmp_path / "topics.yaml").write_text("topics: []\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    report = pipeline.deliver(get_settings())
    assert report.counts["alerts_sent"] == 1 and len(smtp.received) == 1
    assert report.errors and report.errors[0].startswith("config:")
