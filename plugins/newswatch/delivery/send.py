"""Deliver alerts, digests and notices exactly once: claim a row, send, mark it sent, in one
transaction.

Guarantee: an alert is marked sent only after the mail server accepted it. If the process dies
between acceptance and our commit, the next run sends it again with the same Message-ID, which
mail clients use to drop the repeat. With the server down, alerts stay pending for the next run;
a message the server refuses is retried with exponential backoff and marked failed after
`alert_max_attempts` tries. A message that can never go as it is (a header the email library
refuses) fails at once, alone. Each recipient of an email has its own outcome (`outcomes`): one
the server cannot take (an internationalised address without SMTPUTF8) or refuses with a 5xx
while taking the others is refused for good; one given a 4xx is retried, and a retry goes only
to those still owed the message.

Digests and the operator's notices keep the same guarantees through the same loop
(send_outbox): a Kind names the table and supplies what a row shows, its email, its Apprise
text and its webhook event; store.outbox claims and settles. A webhook that answers 2xx has the
message; one that refuses it for good (a 4xx but 408 and 429, a redirect) fails it at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from newswatch import clock, models
from newswatch.config.models import reader_key
from newswatch.delivery.channels import ChannelError, Channels, is_webhook
from newswatch.delivery.messages.alert import alert_text, message_id, render_alert
from newswatch.delivery.messages.common import mailboxes
from newswatch.delivery.messages.digest import (
    CHART_DAYS,
    digest_message_id,
    digest_text,
    digest_title,
    render_digest,
)
from newswatch.delivery.messages.notice import failure_email, failure_message_id
from newswatch.delivery.messages.watch import watch_email, watch_message_id, watch_text
from newswatch.delivery.messages.webhook import alert_event, digest_event
from newswatch.delivery.transports import (
    MESSAGE_ERRORS,
    Receipt,
    Transport,
    TransportDown,
    Undeliverable,
    refusals_text,
    rendered,
)
from newswatch.records import AlertView, Attempt, Digest, NoticeView
from newswatch.settings import Settings
from newswatch.store import alerts as alerting
from newswatch.store import outbox, readers, views
from newswatch.store.db import transaction
from newswatch.unsubscribe import ALERTS, digest_subscription

__all__ = [
    "Attempt",
    "Delivery",
    "attempt_of",
    "deliver_digests",
    "deliver_notices",
    "deliver_pending",
]

R = TypeVar("R", models.Alert, models.DigestMail, models.Notice)
V = TypeVar("V")


@dataclass
class Delivery:
    """What one delivery did: rows sent, pending again after a backoff, failed, settled without
    a message by state (held past the hourly cap, cancelled, empty); the lines why."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    where: str = ""
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Letterhead:
    """The two settings every message of a delivery is sent with."""

    mail_from: str
    max_attempts: int

    @classmethod
    def of(cls, settings: Settings) -> Letterhead:
        return cls(settings.mail_from, settings.alert_max_attempts)


def addressing(settings: Settings) -> views.Addressing:
    """How this delivery's messages address their readers (zone, links)."""
    return views.Addressing(
        settings.digest_timezone, settings.public_url, settings.list_unsubscribe, clock.now()
    )


class Kind(Protocol[R, V]):
    """What the send loop needs to know about one kind of outbox row: its table, what a row
    shows (V, read in the claiming transaction), its email, its Apprise title and text, its
    webhook event (delivery.messages.webhook)."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> type[R]: ...

    def view(self, session: Session, row: R) -> V | None:
        """What the row shows; None when it settled itself and nothing is to be sent."""
        ...

    def email(self, view: V, head: Letterhead) -> EmailMessage: ...

    def text(self, view: V, head: Letterhead) -> tuple[str, str]: ...

    def event(self, view: V, head: Letterhead) -> dict[str, Any]: ...

    def message_id(self, view: V, head: Letterhead) -> str: ...

    def channels(self, row: R) -> Channels: ...


@dataclass(frozen=True)
class Alerts:
    """A story for a reader; its Apprise channel gets the subject and plain text, its webhook
    the story as JSON. Past the reader's hourly cap the row is held for their digest instead;
    a reader who unsubscribed or left the config gets nothing ("cancelled")."""

    chat: Channels
    how: views.Addressing
    max_per_hour: int
    name: ClassVar[str] = "alert"
    model: ClassVar[type[models.Alert]] = models.Alert

    def view(self, session: Session, row: models.Alert) -> AlertView | None:
        if alerting.lock_reader(session, row.reader) is None:
            row.state, row.last_error = "cancelled", "the reader is no longer in the config"
            return None
        if readers.unsubscribed(session, row.reader, ALERTS):
            row.state, row.last_error = "cancelled", "the reader unsubscribed"
            return None
        if alerting.sent_last_hour(session, row.reader, clock.now()) >= self.max_per_hour:
            row.state = "held"
            return None
        return views.alert_view(session, row, self.how)

    def email(self, view: AlertView, head: Letterhead) -> EmailMessage:
        return rendered(render_alert, view, head.mail_from, clock.now())

    def text(self, view: AlertView, head: Letterhead) -> tuple[str, str]:
        return alert_text(view)

    def event(self, view: AlertView, head: Letterhead) -> dict[str, Any]:
        return alert_event(view, head.mail_from, clock.now())

    def message_id(self, view: AlertView, head: Letterhead) -> str:
        return message_id(view, head.mail_from)

    def channels(self, row: models.Alert) -> Channels:
        return self.chat


@dataclass(frozen=True)
class Digests:
    """A digest carries its readers' held alerts. An empty one is recorded as "empty" and sent
    only to subscribers who asked for empty digests; one whose reader unsubscribed is
    "cancelled"; its Apprise channel gets the title and plain text, without the chart, its
    webhook the stories as JSON."""

    how: views.Addressing
    chat: Channels
    name: ClassVar[str] = "digest"
    model: ClassVar[type[models.DigestMail]] = models.DigestMail

    def view(self, session: Session, row: models.DigestMail) -> Digest | None:
        reader = reader_key(str(row.recipients[0])) if row.channel == "email" else row.channel
        subscription = ALERTS if row.overflow else digest_subscription(row.subscriber)
        if readers.unsubscribed(session, reader, subscription):
            row.state, row.last_error = "cancelled", "the reader unsubscribed"
            return None
        if not row.overflow:
            alerting.carry_held(session, row)
        digest = views.digest_view(session, row, self.how, CHART_DAYS)
        row.stories = digest.story_count
        if digest.story_count == 0 and not row.send_empty:
            row.state = "empty"
            return None
        return digest

    def email(self, view: Digest, head: Letterhead) -> EmailMessage:
        return rendered(render_digest, view, head.mail_from, clock.now())

    def text(self, view: Digest, head: Letterhead) -> tuple[str, str]:
        return digest_title(view), digest_text(view)

    def event(self, view: Digest, head: Letterhead) -> dict[str, Any]:
        return digest_event(view, head.mail_from, clock.now())

    def message_id(self, view: Digest, head: Letterhead) -> str:
        return digest_message_id(view, head.mail_from)

    def channels(self, row: models.DigestMail) -> Channels:
        # A daily digest's row names the variables holding the channel's URLs
        # (store.outbox.plan_digest); an overflow row's channel is the config's, as for alerts.
        if row.overflow:
            return self.chat
        return self.chat.only(row.channel, [str(n) for n in row.recipients])


@dataclass(frozen=True)
class Notices:
    """A message to the operator: a failed DAG run by email; the daily feed-watch report by
    email or to the operator's Apprise channels (NEWSWATCH_OPERATOR_APPRISE_ENV)."""

    chat: Channels
    name: ClassVar[str] = "notice"
    model: ClassVar[type[models.Notice]] = models.Notice

    def view(self, session: Session, row: models.Notice) -> NoticeView:
        return NoticeView([str(r) for r in row.recipients], dict(row.details))

    def email(self, view: NoticeView, head: Letterhead) -> EmailMessage:
        if view.is_watch:
            return rendered(watch_email, view.details, head.mail_from, view.recipients, clock.now())
        return rendered(failure_email, view.details, head.mail_from, view.recipients, clock.now())

    def text(self, view: NoticeView, head: Letterhead) -> tuple[str, str]:
        if view.is_watch:
            return watch_text(view.details)
        msg = self.email(view, head)
        return str(msg["Subject"]), str(msg.get_content())

    def event(self, view: NoticeView, head: Letterhead) -> dict[str, Any]:
        raise ChannelError("the operator's notices go by email or Apprise, not to webhooks")

    def message_id(self, view: NoticeView, head: Letterhead) -> str:
        if view.is_watch:
            return watch_message_id(view.details, head.mail_from)
        return failure_message_id(view.details, head.mail_from)

    def channels(self, row: models.Notice) -> Channels:
        # An Apprise row names the variables holding the operator's URLs, as a digest's does.
        return self.chat.only(row.channel, [str(n) for n in row.recipients])


def deliver_pending(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    channels: Channels | None = None,
) -> Delivery:
    """Send every due pending alert, one transaction per alert, until none is left.

    With the mail server down, email alerts stay pending and the other channels still go.
    """
    kind = Alerts(
        channels or Channels(settings), addressing(settings), settings.max_alerts_per_hour
    )
    return send_outbox(factory, transport, kind, settings)


def deliver_digests(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    channels: Channels | None = None,
) -> Delivery:
    """Send every due pending digest, by email or to its Apprise or webhook channel, with the
    same outbox guarantees as alerts; an empty one is recorded as "empty" and sent only to
    subscribers who asked for empty digests. With the mail server down, the other channels
    still go."""
    kind = Digests(addressing(settings), channels or Channels(settings))
    return send_outbox(factory, transport, kind, settings)


def deliver_notices(
    factory: sessionmaker[Session], transport: Transport, settings: Settings
) -> Delivery:
    """Send every due pending notice to the operator, with the outbox guarantees of alerts."""
    return send_outbox(factory, transport, Notices(Channels(settings)), settings)


def send_outbox(
    factory: sessionmaker[Session], transport: Transport, kind: Kind[R, V], settings: Settings
) -> Delivery:
    """Claim, render, send and settle every due row of one kind, one transaction per row."""
    result = Delivery(where=transport.where)
    head = Letterhead.of(settings)
    if not sender_usable(head.mail_from, result):
        transport.close()
        return result
    email_ok = True
    try:
        while True:
            with transaction(factory) as session:
                row = outbox.claim(session, kind.model, clock.now(), email_ok)
                if row is None:
                    return result
                view = kind.view(session, row)
                if view is None:
                    result.skipped[row.state] += 1
                    continue
                sent_id: str | None = None
                where: str | None = None  # set only once the message went
                try:
                    if row.channel == "email":
                        msg = kind.email(view, head)
                        attempt = attempt_of(transport.send_each(msg, set(row.outcomes)))
                        where = transport.where
                    elif is_webhook(row.channel):
                        kind.channels(row).post(row.channel, kind.event(view, head))
                        attempt, where = Attempt(delivered=[row.channel]), row.channel
                    else:
                        title, body = kind.text(view, head)
                        kind.channels(row).send(row.channel, title, body)
                        attempt, where = Attempt(delivered=[row.channel]), row.channel
                except TransportDown as exc:
                    result.errors.append(str(exc))
                    email_ok = False  # the row stays pending; other channels go on
                    continue
                except Undeliverable as exc:
                    attempt = Attempt(hopeless=str(exc))
                except (*MESSAGE_ERRORS, ChannelError) as exc:
                    attempt = Attempt(retry=f"{type(exc).__name__}: {exc}")
                else:
                    sent_id = kind.message_id(view, head)
                now = clock.now()
                settled = outbox.settle(row, attempt, head.max_attempts, now, sent_id, where)
                _count(result, kind.name, row, attempt, settled)
    finally:
        transport.close()


def sender_usable(mail_from: str, result: Delivery) -> bool:
    """False, with the reason in result.errors, when NEWSWATCH_MAIL_FROM is not one usable
    address: a fault of the configuration, not of any message (every message, Apprise ones
    and webhook ones too, is rendered with it), so everything waits, pending, until it is fixed."""
    try:
        usable = len(mailboxes([mail_from])) == 1
    except ValueError:
        usable = False
    if not usable:
        result.errors.append(
            f"NEWSWATCH_MAIL_FROM {ascii(mail_from)[:200]} is not one usable email "
            "address; nothing is sent until it is fixed"
        )
    return usable


def attempt_of(receipt: Receipt) -> Attempt:
    """A 5xx is final for its recipient when the server took the message for another one in
    the same transaction; when it took it for nobody, the refusal may be the server's own
    (relay, policy, quota) and is retried like any refusal of the whole message."""
    for_good = {
        addr: refusal.reason
        for addr, refusal in receipt.refused.items()
        if refusal.code is None or (refusal.code >= 500 and receipt.delivered)
    }
    later = {addr: r for addr, r in receipt.refused.items() if addr not in for_good}
    retry = f"SMTPRecipientsRefused: {refusals_text(later)}" if later else None
    return Attempt(receipt.delivered, for_good, retry)


def _count(
    result: Delivery,
    kind: str,
    row: models.Alert | models.DigestMail | models.Notice,
    tried: Attempt,
    settled: str,
) -> None:
    """Count a settled try in `result`, with a line for whoever did not get the message, and
    for a message that waits for a retry: why, so a run says it rather than a later listing."""
    if settled == "retrying":
        result.retrying += 1
        result.errors.append(f"{kind} {row.id} waits for a retry ({row.channel}): {row.last_error}")
    elif settled == "sent":
        result.sent += 1
        if row.last_error:
            result.errors.append(f"{kind} {row.id} sent, not to everyone: {row.last_error}")
    else:
        result.failed += 1
        after = f" after {row.attempts} attempts" if tried.retry and not tried.hopeless else ""
        result.errors.append(f"{kind} {row.id} failed{after}: {row.last_error}")
