"""The outbox: every write to alert, digest and notice rows, written once for all three tables.

Queue (plan_digest, queue_notice; alerts are queued with their matches, store.alerts), claim one due row
for this transaction (`FOR UPDATE SKIP LOCKED`, so concurrent senders never take the same one),
settle a try (sent, refused per recipient, failed, or pending again after a backoff) and
requeue. delivery.send drives these in one transaction per message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import clock, models
from newswatch.config.models import SubscriberConfig, reader_key
from newswatch.records import Attempt
from newswatch.store import readers
from newswatch.unsubscribe import digest_subscription

Row = TypeVar("Row", models.Alert, models.DigestMail, models.Notice)
Settled = Literal["sent", "retrying", "failed"]


def plan_digest(
    session: Session,
    subscriber: SubscriberConfig,
    start: datetime,
    end: datetime,
    at: datetime,
) -> int:
    """Queue the subscriber's digest for [start, end): a row per address (each reader gets their
    own message, with their own unsubscribe link) and one per Apprise or webhook channel,
    leaving out addresses that unsubscribed from it; how many rows were new (0 when all are
    queued)."""
    # A channel's row keeps the names of the variables holding its URLs, as an email row keeps
    # its address: the row is a snapshot of the subscriber, sendable whatever the config says later.
    left = readers.left(session, digest_subscription(subscriber.name))
    # One message per mailbox: Desk@Example.com and desk@example.com are one reader.
    mailboxes: dict[str, str] = {}
    for address in subscriber.emails:
        mailboxes.setdefault(reader_key(str(address)), str(address))
    channels = [("email", [address]) for key, address in mailboxes.items() if key not in left]
    channels += [(c, names) for c, names in subscriber.channel_env().items() if c not in left]
    queued = 0
    for channel, recipients in channels:
        digest_id = queue_digest(
            session,
            subscriber=subscriber.name,
            channel=channel,
            recipients=recipients,
            topics=list(subscriber.topics),
            send_empty=subscriber.send_empty,
            period_start=start,
            period_end=end,
            at=at,
        )
        queued += digest_id is not None
    return queued


def queue_digest(
    session: Session,
    *,
    subscriber: str,
    channel: str,
    recipients: list[str],
    topics: list[str],
    send_empty: bool,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
    overflow: bool = False,
) -> int | None:
    """Queue one digest row, due at `at`; its id, or None when that row was already queued."""
    return session.scalar(
        insert(models.DigestMail)
        .values(
            subscriber=subscriber,
            channel=channel,
            recipients=recipients,
            topics=topics,
            send_empty=send_empty,
            period_start=period_start,
            period_end=period_end,
            overflow=overflow,
            created_at=at,
            next_attempt_at=at,
        )
        .on_conflict_do_nothing()
        .returning(models.DigestMail.id)
    )


def queue_notice(
    session: Session,
    key: str,
    details: Mapping[str, Any],
    recipients: list[str],
    at: datetime,
    channel: str = "email",
) -> bool:
    """Queue a message to the operator, once per `key` (an event told twice is one notice);
    whether it was new. An Apprise `channel`'s recipients are the variables holding its URLs."""
    notice_id = session.scalar(
        insert(models.Notice)
        .values(
            key=key,
            details=dict(details),
            recipients=recipients,
            channel=channel,
            created_at=at,
            next_attempt_at=at,
        )
        .on_conflict_do_nothing()
        .returning(models.Notice.id)
    )
    return notice_id is not None


def notice_queued(session: Session, key: str) -> bool:
    return session.scalar(select(models.Notice.id).where(models.Notice.key == key)) is not None


def claim(session: Session, model: type[Row], now: datetime, email_ok: bool = True) -> Row | None:
    """Lock one due pending row (lowest id first) for this transaction; concurrent senders skip
    locked rows. Without `email_ok` (the mail server is down in this delivery) only rows for
    other channels are claimed, so they still go."""
    query = (
        select(model)
        .where(
            model.state == "pending",
            or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
        )
        .order_by(model.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if not email_ok:
        query = query.where(model.channel != "email")
    return session.scalar(query)


def settle(
    row: models.Alert | models.DigestMail | models.Notice,
    attempt: Attempt,
    max_attempts: int,
    now: datetime,
    message_id: str | None = None,
    where: str | None = None,
) -> Settled:
    """Record one try at a claimed row, in the transaction that claimed it: `sent` once
    nobody is owed it any more and someone got it, `failed` if nobody ever can, else pending
    again after a backoff for those still owed it, and only them ("retrying")."""
    row.attempts += 1
    outcomes = dict(row.outcomes)
    outcomes |= {addr: {"state": "sent"} for addr in attempt.delivered}
    outcomes |= {addr: {"state": "refused", "reason": r} for addr, r in attempt.refused.items()}
    row.outcomes = outcomes
    if attempt.delivered:
        row.sent_at = now
        row.message_id = message_id
        row.delivered_to = where
    refused = {addr: o["reason"] for addr, o in outcomes.items() if o["state"] == "refused"}
    reason = f"Undeliverable: {attempt.hopeless}" if attempt.hopeless else attempt.retry
    row.last_error = _summary(reason, refused)
    if attempt.retry and not attempt.hopeless and row.attempts < max_attempts:
        row.next_attempt_at = now + timedelta(minutes=2**row.attempts)
        return "retrying"
    if any(o["state"] == "sent" for o in outcomes.values()):
        row.state = "sent"
        return "sent"
    row.state = "failed"
    return "failed"


def _summary(reason: str | None, refused: Mapping[str, str]) -> str | None:
    """last_error: why the last try fell short, and who was refused for good."""
    parts = [reason] if reason else []
    if refused:
        parts.append("not delivered to " + "; ".join(f"{a}: {r}" for a, r in refused.items()))
    return "; ".join(parts)[:1000] or None


def requeue(session: Session, alert_id: int) -> bool:
    """Make an alert pending again with fresh attempts, due now, for those who did not get it
    (for everyone when all did); False if there is no such alert."""
    alert = session.get(models.Alert, alert_id)
    if alert is None:
        return False
    everyone_got_it = alert.state == "sent" and alert.last_error is None
    alert.outcomes = {} if everyone_got_it else _only_sent(alert.outcomes)
    alert.state = "pending"
    alert.attempts = 0
    alert.last_error = None
    alert.next_attempt_at = clock.now()
    return True


def _only_sent(outcomes: Mapping[str, Any]) -> dict[str, Any]:
    return {addr: o for addr, o in outcomes.items() if o["state"] == "sent"}


def count_pending_alerts(session: Session, cap: int = 100_000) -> int:
    """How many alerts are pending, counting at most `cap`."""
    pending = select(models.Alert.id).where(models.Alert.state == "pending").limit(cap)
    return session.scalar(select(func.count()).select_from(pending.subquery())) or 0
