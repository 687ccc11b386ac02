"""One email, several recipients, each with its own outcome: checked on the envelopes a real SMTP
server (aiosmtpd on loopback) received over several runs.

- an internationalised address on a server without SMTPUTF8 is refused alone; the rest get it;
- a 5xx to one recipient, while the server takes the others, is final for that one and shown
  by `alerts --failed`; a 4xx is retried, and the retry reaches only that recipient;
- nobody gets the same alert or digest twice, whatever the reruns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import Mailbox, free_port, serve_mailbox
from helpers import seed_alerts
from sqlalchemy import select
from typer.testing import CliRunner

from newswatch import clock, models, store
from newswatch.cli.main import app
from newswatch.config.models import SubscriberConfig
from newswatch.delivery import send, transports
from newswatch.settings import Settings, get_settings
from newswatch.store import db

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
IDN = "\u0430nalyst@example.com"  # Cyrillic а
OK1, OK2 = "ok1@example.com", "ok2@example.com"
REJECT, TEMPFAIL = "reject@example.com", "tempfail@example.com"


@dataclass
class PickyMailbox(Mailbox):
    """A Mailbox that answers some recipients with a reply of our choosing (a 4xx, a 5xx)."""

    answers: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.answers:
            return self.answers[address]
        return await super().handle_RCPT(server, session, envelope, address, options)


@pytest.fixture
def picky(monkeypatch: pytest.MonkeyPatch) -> Iterator[PickyMailbox]:
    """An SMTP server offering SMTPUTF8, whose `answers` refuse chosen recipients."""
    yield from serve_mailbox(PickyMailbox(host="127.0.0.1", port=free_port()), monkeypatch)


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> Iterator[PickyMailbox]:
    """An SMTP server without SMTPUTF8."""
    box = PickyMailbox(host="127.0.0.1", port=free_port())
    yield from serve_mailbox(box, monkeypatch, smtputf8=False)


def topic_to(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *recipients: str
) -> Settings:
    """The 'taiwan' topic, alerting these recipients, and one pending alert for it."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "feeds.yaml").write_text(
        "feeds:\n  - {name: Wire, url: 'https://wire.example/rss'}\n"
    )
    (config / "topics.yaml").write_text(
        "recipients: [desk@example.com]\ntopics:\n"
        f"  - {{name: taiwan, query: Taiwan, recipients: {list(recipients)}}}\n"
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    fresh = get_settings()
    seed_alerts(fresh, "Strait patrols")
    return fresh


def deliver() -> send.Delivery:
    fresh = get_settings()
    return send.deliver_pending(db.session_factory(fresh), transports.make_transport(fresh), fresh)


def the_alert(settings: Settings) -> models.Alert:
    with db.read(settings) as session:
        return session.scalars(select(models.Alert)).one()


def header(envelope: Envelope, name: str) -> str:
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes)
    return str(message_from_bytes(raw, policy=policy.default)[name])


def failed_listing() -> str:
    result = CliRunner().invoke(app, ["alerts", "--failed"])
    assert result.exit_code == 0, result.output
    return result.output


def test_an_internationalised_recipient_is_refused_alone_and_the_others_get_the_alert(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain: PickyMailbox
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK2, IDN)
    first = deliver()
    assert (first.sent, first.failed, first.retrying) == (1, 0, 0)
    (envelope,) = plain.received
    assert envelope.rcpt_tos == [OK2] and "SMTPUTF8" not in envelope.mail_options
    assert header(envelope, "To") == OK2  # a server without SMTPUTF8 cannot carry it in To either
    alert = the_alert(settings)
    assert (alert.state, alert.attempts) == ("sent", 1)
    assert IDN in (alert.last_error or "") and "SMTPUTF8" in (alert.last_error or "")
    assert alert.outcomes[OK2] == {"state": "sent"} and alert.outcomes[IDN]["state"] == "refused"
    assert deliver().sent == 0 and len(plain.received) == 1  # a rerun sends nothing twice
    listing = failed_listing()
    assert "Strait patrols" in listing and IDN in listing and "SMTPUTF8" in listing, listing


def test_resend_after_a_partial_refusal_reaches_only_who_did_not_get_it(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    picky: PickyMailbox,
    plain: PickyMailbox,
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK2, IDN)
    assert deliver().sent == 1 and [e.rcpt_tos for e in plain.received] == [[OK2]]
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", picky.url)  # now a server that offers SMTPUTF8
    resent = CliRunner().invoke(app, ["alerts", "resend", "1"])
    assert resent.exit_code == 0 and "alert 1: sent" in resent.output, resent.output
    (envelope,) = picky.received
    assert envelope.rcpt_tos == [IDN] and "SMTPUTF8" in envelope.mail_options
    assert header(envelope, "Message-ID") == header(plain.received[0], "Message-ID")
    alert = the_alert(settings)
    assert alert.last_error is None and alert.outcomes == {
        OK2: {"state": "sent"},
        IDN: {"state": "sent"},
    }
    assert "no failed alerts" in failed_listing()


def test_refused_recipients_are_recorded_and_a_451_is_retried_alone(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK1, REJECT, TEMPFAIL)
    picky.answers = {
        REJECT: "550 5.1.1 mailbox unavailable",
        TEMPFAIL: "451 4.2.0 mailbox busy, try later",
    }
    clock.freeze(T0)
    first = deliver()
    assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
    (envelope,) = picky.received
    assert envelope.rcpt_tos == [OK1]
    alert = the_alert(settings)
    assert (alert.state, alert.attempts) == ("pending", 1)
    assert f"{TEMPFAIL}: 451" in (alert.last_error or "")
    assert f"{REJECT}: 550" in (alert.last_error or "")
    assert set(alert.outcomes) == {OK1, REJECT}  # TEMPFAIL is still owed the alert
    assert REJECT in failed_listing()  # refused for good: shown while the 451 is retried

    assert deliver().retrying == 0 and len(picky.received) == 1  # backing off: not due yet
    del picky.answers[TEMPFAIL]
    clock.freeze(T0 + timedelta(hours=1))
    second = deliver()
    assert (second.sent, second.retrying) == (1, 0)
    assert [e.rcpt_tos for e in picky.received] == [[OK1], [TEMPFAIL]]
    first_copy, retry = picky.received
    assert header(retry, "Message-ID") == header(first_copy, "Message-ID")
    assert header(retry, "To") == header(first_copy, "To") == f"{OK1}, {REJECT}, {TEMPFAIL}"
    alert = the_alert(settings)
    assert (alert.state, alert.attempts) == ("sent", 2)
    assert REJECT in (alert.last_error or "") and TEMPFAIL not in (alert.last_error or "")
    assert any(f"alert {alert.id} sent, not to everyone" in e for e in second.errors)

    clock.freeze(T0 + timedelta(days=1))
    assert deliver().sent == 0 and len(picky.received) == 2  # nobody gets it twice
    listing = failed_listing()
    assert "sent" in listing and REJECT in listing and "550 5.1.1" in listing, listing


def test_a_451_that_never_clears_is_given_up_without_resending_to_the_others(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "3")
    topic_to(settings, tmp_path, monkeypatch, OK1, TEMPFAIL)
    picky.answers = {TEMPFAIL: "451 4.2.0 mailbox busy, try later"}
    for hours in range(3):
        clock.freeze(T0 + timedelta(hours=hours))
        deliver()
    assert [e.rcpt_tos for e in picky.received] == [[OK1]]  # the retries offered only TEMPFAIL
    alert = the_alert(settings)
    assert (alert.state, alert.attempts) == ("sent", 3)
    assert f"{TEMPFAIL}: 451" in (alert.last_error or "")
    assert TEMPFAIL in failed_listing()


def test_every_recipient_refused_is_retried_like_a_refused_message(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain: PickyMailbox
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "2")
    topic_to(settings, tmp_path, monkeypatch, REJECT, IDN)
    plain.answers = {REJECT: "550 5.1.1 mailbox unavailable"}
    clock.freeze(T0)
    assert deliver().retrying == 1 and not plain.received
    alert = the_alert(settings)
    assert alert.state == "pending" and alert.outcomes[IDN]["state"] == "refused"
    clock.freeze(T0 + timedelta(hours=1))
    last = deliver()
    assert last.failed == 1 and "failed after 2 attempts" in last.errors[0]
    alert = the_alert(settings)
    assert alert.state == "failed" and "SMTPUTF8" in (alert.last_error or "")
    assert f"{REJECT}: 550" in (alert.last_error or "")


def test_a_421_to_a_recipient_keeps_the_alert_pending_for_the_next_run(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK1, TEMPFAIL)
    picky.answers = {TEMPFAIL: "421 4.3.2 shutting down"}
    down = deliver()
    assert down.sent == down.retrying == 0 and "421" in down.errors[0]
    alert = the_alert(settings)
    assert (alert.state, alert.attempts, alert.outcomes) == ("pending", 0, {})
    picky.answers.clear()
    assert deliver().sent == 1
    assert [e.rcpt_tos for e in picky.received] == [[OK1, TEMPFAIL]]


def test_a_digest_reaches_its_other_recipients_and_retries_a_451_alone(
    settings: Settings, picky: PickyMailbox
) -> None:
    seed_alerts(settings, "Strait patrols")
    subscriber = SubscriberConfig(
        name="morning-desk", emails=[OK1, REJECT, TEMPFAIL], mode="digest"
    )
    with db.transaction(db.session_factory(settings)) as session:
        store.outbox.plan_digest(
            session, subscriber, T0 - timedelta(hours=1), T0 + timedelta(hours=1), T0
        )
    picky.answers = {
        REJECT: "550 5.1.1 mailbox unavailable",
        TEMPFAIL: "452 4.2.2 mailbox full",
    }

    def digests() -> send.Delivery:
        fresh = get_settings()
        return send.deliver_digests(
            db.session_factory(fresh), transports.make_transport(fresh), fresh
        )

    clock.freeze(T0 + timedelta(hours=2))
    assert digests().retrying == 1
    del picky.answers[TEMPFAIL]
    clock.freeze(T0 + timedelta(hours=3))
    assert digests().sent == 1
    clock.freeze(T0 + timedelta(hours=4))
    assert digests().sent == 0
    assert [e.rcpt_tos for e in picky.received] == [[OK1], [TEMPFAIL]]
    with db.read(settings) as session:
        row = session.scalars(select(models.DigestMail)).one()
    assert (row.state, row.attempts) == ("sent", 2)
    assert f"{REJECT}: 550" in (row.last_error or "") and TEMPFAIL not in (row.last_error or "")
