"""Each reader gets their own message, so whatever a mail server answers for one address
concerns that reader's alert or digest alone: checked on the envelopes a real SMTP server
(aiosmtpd on loopback) received over several runs.

- an internationalised address on a server without SMTPUTF8 fails at once; the others get it;
- a 5xx or a 4xx to one reader is retried for that reader alone (a 5xx to a message's only
  recipient may be the server's own refusal) and ends failed after NEWSWATCH_ALERT_MAX_ATTEMPTS;
  a 421 closes the session and charges no attempt to anyone;
- `alerts resend` of a refused reader's alert reaches that reader and nobody else;
- each address of a digest subscriber gets a digest of its own, retried alone;
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
from newswatch.config.models import SubscriberConfig, reader_key
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
    """The 'taiwan' topic, alerting these readers, and one story for it: a pending alert each."""
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


def all_alerts(settings: Settings) -> list[models.Alert]:
    with db.read(settings) as session:
        return list(session.scalars(select(models.Alert).order_by(models.Alert.id)))


def alert_for(settings: Settings, address: str) -> models.Alert:
    """The one alert of the stored story for the reader at `address`."""
    (alert,) = [a for a in all_alerts(settings) if a.reader == reader_key(address)]
    return alert


def header(envelope: Envelope, name: str) -> str:
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes)
    return str(message_from_bytes(raw, policy=policy.default)[name])


def failed_listing() -> str:
    result = CliRunner().invoke(app, ["alerts", "--failed"])
    assert result.exit_code == 0, result.output
    return result.output


def test_an_internationalised_reader_fails_at_once_and_the_others_get_the_story(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain: PickyMailbox
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK2, IDN)
    assert len(all_alerts(settings)) == 2  # one message per reader
    first = deliver()
    assert (first.sent, first.failed, first.retrying) == (1, 1, 0)
    (envelope,) = plain.received
    assert envelope.rcpt_tos == [OK2] and "SMTPUTF8" not in envelope.mail_options
    assert header(envelope, "To") == OK2  # their own message: nobody else in To
    got = alert_for(settings, OK2)
    assert (got.state, got.attempts, got.last_error) == ("sent", 1, None)
    assert got.outcomes == {OK2: {"state": "sent"}}
    # This server can never take the address: no retry, and it concerns no one else.
    refused = alert_for(settings, IDN)
    assert (refused.state, refused.attempts) == ("failed", 1)
    assert IDN in (refused.last_error or "") and "SMTPUTF8" in (refused.last_error or "")
    assert refused.outcomes[IDN]["state"] == "refused"
    again = deliver()
    assert (again.sent, again.failed) == (0, 0) and len(plain.received) == 1  # nothing twice
    listing = failed_listing()
    assert "Strait patrols" in listing and IDN in listing and "SMTPUTF8" in listing, listing
    assert OK2 not in listing, listing


def test_resending_a_refused_readers_alert_reaches_only_that_reader(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    picky: PickyMailbox,
    plain: PickyMailbox,
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK2, IDN)
    assert deliver().sent == 1 and [e.rcpt_tos for e in plain.received] == [[OK2]]
    refused_id = alert_for(settings, IDN).id
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", picky.url)  # now a server that offers SMTPUTF8
    resent = CliRunner().invoke(app, ["alerts", "resend", str(refused_id)])
    assert resent.exit_code == 0, resent.output
    assert f"alert {refused_id}: sent" in resent.output, resent.output
    (envelope,) = picky.received
    assert envelope.rcpt_tos == [IDN] and "SMTPUTF8" in envelope.mail_options
    assert header(envelope, "To") == IDN
    # Each reader's message is their own, with its own Message-ID.
    assert header(envelope, "Message-ID") != header(plain.received[0], "Message-ID")
    resent_alert = alert_for(settings, IDN)
    assert (resent_alert.state, resent_alert.last_error) == ("sent", None)
    assert resent_alert.outcomes == {IDN: {"state": "sent"}}
    other = alert_for(settings, OK2)
    assert (other.state, other.attempts) == ("sent", 1) and len(plain.received) == 1
    assert "no failed alerts" in failed_listing()


def test_a_451_to_one_reader_is_retried_for_them_alone_while_the_others_are_sent(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK1, OK2, TEMPFAIL)
    picky.answers = {TEMPFAIL: "451 4.2.0 mailbox busy, try later"}
    clock.freeze(T0)
    first = deliver()
    assert (first.sent, first.retrying, first.failed) == (2, 1, 0)
    assert sorted(e.rcpt_tos for e in picky.received) == [[OK1], [OK2]]
    assert sorted(header(e, "To") for e in picky.received) == [OK1, OK2]
    waiting = alert_for(settings, TEMPFAIL)
    assert (waiting.state, waiting.attempts, waiting.outcomes) == ("pending", 1, {})
    assert f"{TEMPFAIL}: 451" in (waiting.last_error or "")
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > T0

    assert deliver().retrying == 0 and len(picky.received) == 2  # backing off: not due yet
    del picky.answers[TEMPFAIL]
    clock.freeze(T0 + timedelta(hours=1))
    second = deliver()
    assert (second.sent, second.retrying, second.errors) == (1, 0, [])
    retry = picky.received[-1]
    assert retry.rcpt_tos == [TEMPFAIL] and header(retry, "To") == TEMPFAIL
    done = alert_for(settings, TEMPFAIL)
    assert (done.state, done.attempts, done.last_error) == ("sent", 2, None)
    assert [(a.state, a.attempts) for a in all_alerts(settings)].count(("sent", 1)) == 2

    clock.freeze(T0 + timedelta(days=1))
    assert deliver().sent == 0 and len(picky.received) == 3  # nobody gets it twice
    assert "no failed alerts" in failed_listing()


def test_a_5xx_to_one_reader_is_retried_for_them_alone_then_fails(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "2")
    topic_to(settings, tmp_path, monkeypatch, OK1, REJECT)
    picky.answers = {REJECT: "550 5.1.1 mailbox unavailable"}
    clock.freeze(T0)
    first = deliver()
    assert (first.sent, first.retrying, first.failed) == (1, 1, 0)
    assert [e.rcpt_tos for e in picky.received] == [[OK1]]
    # The message's only recipient was refused: that may be the server's own policy, so the
    # reader's alert is retried like any refused message.
    waiting = alert_for(settings, REJECT)
    assert (waiting.state, waiting.attempts, waiting.outcomes) == ("pending", 1, {})
    assert f"{REJECT}: 550" in (waiting.last_error or "")

    clock.freeze(T0 + timedelta(hours=1))
    last = deliver()
    assert (last.sent, last.failed) == (0, 1) and "failed after 2 attempts" in last.errors[0]
    assert [e.rcpt_tos for e in picky.received] == [[OK1]]  # the others were not sent again
    given_up = alert_for(settings, REJECT)
    assert (given_up.state, given_up.attempts) == ("failed", 2)
    assert f"{REJECT}: 550 5.1.1" in (given_up.last_error or "")
    assert alert_for(settings, OK1).attempts == 1
    listing = failed_listing()
    assert REJECT in listing and "550 5.1.1" in listing and OK1 not in listing, listing


def test_a_451_that_never_clears_ends_failed_without_resending_to_the_others(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "3")
    topic_to(settings, tmp_path, monkeypatch, OK1, TEMPFAIL)
    picky.answers = {TEMPFAIL: "451 4.2.0 mailbox busy, try later"}
    for hours in range(4):
        clock.freeze(T0 + timedelta(hours=hours))
        deliver()
    assert [e.rcpt_tos for e in picky.received] == [[OK1]]
    given_up = alert_for(settings, TEMPFAIL)
    assert (given_up.state, given_up.attempts) == ("failed", 3)
    assert f"{TEMPFAIL}: 451" in (given_up.last_error or "")
    sent = alert_for(settings, OK1)
    assert (sent.state, sent.attempts, sent.last_error) == ("sent", 1, None)
    listing = failed_listing()
    assert TEMPFAIL in listing and OK1 not in listing, listing


def test_a_421_to_one_reader_charges_nobody_and_their_alert_goes_next_run(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    topic_to(settings, tmp_path, monkeypatch, OK1, TEMPFAIL)
    picky.answers = {TEMPFAIL: "421 4.3.2 shutting down"}
    down = deliver()
    assert (down.retrying, down.failed) == (0, 0) and "421" in down.errors[0]
    assert down.sent == len(picky.received) <= 1
    waiting = alert_for(settings, TEMPFAIL)
    assert (waiting.state, waiting.attempts, waiting.outcomes) == ("pending", 0, {})
    # The server closed the session: whatever this run had not sent yet waits, uncharged.
    # (Whether OK1's alert went before the 421 depends only on which row was claimed first.)
    assert all((a.state, a.attempts) in {("sent", 1), ("pending", 0)} for a in all_alerts(settings))
    picky.answers.clear()
    assert down.sent + deliver().sent == 2
    assert sorted(e.rcpt_tos for e in picky.received) == [[OK1], [TEMPFAIL]]
    assert [(a.state, a.attempts) for a in all_alerts(settings)] == [("sent", 1), ("sent", 1)]


def test_each_address_of_a_digest_gets_its_own_message_and_a_4xx_retries_only_its_own(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, picky: PickyMailbox
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "2")
    seed_alerts(settings, "Strait patrols")
    subscriber = SubscriberConfig(
        name="morning-desk", emails=[OK1, REJECT, TEMPFAIL], mode="digest"
    )
    with db.transaction(db.session_factory(settings)) as session:
        queued = store.outbox.plan_digest(
            session, subscriber, T0 - timedelta(hours=1), T0 + timedelta(hours=1), T0
        )
    assert queued == 3
    picky.answers = {
        REJECT: "550 5.1.1 mailbox unavailable",
        TEMPFAIL: "452 4.2.2 mailbox full",
    }

    def digests() -> send.Delivery:
        fresh = get_settings()
        return send.deliver_digests(
            db.session_factory(fresh), transports.make_transport(fresh), fresh
        )

    def rows() -> dict[str, models.DigestMail]:
        with db.read(settings) as session:
            return {str(r.recipients[0]): r for r in session.scalars(select(models.DigestMail))}

    clock.freeze(T0 + timedelta(hours=2))
    first = digests()
    assert (first.sent, first.retrying, first.failed) == (1, 2, 0)
    assert [e.rcpt_tos for e in picky.received] == [[OK1]]
    assert header(picky.received[0], "To") == OK1
    assert rows()[TEMPFAIL].state == rows()[REJECT].state == "pending"
    del picky.answers[TEMPFAIL]
    clock.freeze(T0 + timedelta(hours=3))
    second = digests()
    assert (second.sent, second.failed) == (1, 1)  # TEMPFAIL now; REJECT gives up
    clock.freeze(T0 + timedelta(hours=4))
    assert digests().sent == 0
    assert [e.rcpt_tos for e in picky.received] == [[OK1], [TEMPFAIL]]
    ok_copy, retry = picky.received
    assert header(retry, "To") == TEMPFAIL
    assert header(retry, "Message-ID") != header(ok_copy, "Message-ID")
    by_address = rows()
    assert (by_address[OK1].state, by_address[OK1].attempts) == ("sent", 1)
    assert (by_address[TEMPFAIL].state, by_address[TEMPFAIL].attempts) == ("sent", 2)
    assert by_address[TEMPFAIL].last_error is None
    assert (by_address[REJECT].state, by_address[REJECT].attempts) == ("failed", 2)
    assert f"{REJECT}: 550" in (by_address[REJECT].last_error or "")
