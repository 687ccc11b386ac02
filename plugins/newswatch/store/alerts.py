"""Immediate alerts as readers get them: one message per story and reader, its topics, the
hourly cap, and the held alerts a digest carries instead.

Queued with the matches that raise them (store.articles, under db.Lock.STORIES, so two batches
never queue the same story for the same reader). A topic the story hits later joins the message
while it is still pending; once it went, the topic is news only to readers who asked for
`updates`, who get one follow-up. Past `max_alerts_per_hour` a message is held, never dropped:
the reader's next digest carries it, or, for a reader without one, an "N more stories" message
at the end of the run (plan_overflow).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Update, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.config.models import reader_key
from newswatch.store.outbox import queue_digest
from newswatch.store.readers import left, unsubscribed
from newswatch.store.topics import topic_ids
from newswatch.unsubscribe import ALERTS, digest_subscription

OPEN = ("pending", "held")  # not yet told: a new topic joins the message
TOLD = ("sent", "digested")  # the reader has the story: a new topic is at most an update
# Never told (its topics were withdrawn by a re-tag, or its reader had left): a new topic for a
# reader who follows it now opens it again, alert or follow-up alike, or the unique row would
# keep them from the story. It keeps only the topics the reader follows now whose match stands.
REOPENABLE = "cancelled"


@dataclass(frozen=True)
class Hit:
    """A new match that may raise alerts: which story, article, topic and match."""

    story_id: int
    article_id: int
    topic_id: int
    topic: str
    match_id: int


def queue_alerts(session: Session, hits: Sequence[Hit], at: datetime) -> int:
    """Queue what the hits tell each reader following their topics; how many messages are new."""
    gone = left(session, ALERTS)
    readers = {
        reader.key: reader
        for reader in session.scalars(select(models.Reader).order_by(models.Reader.key))
        if reader.topics and reader.key not in gone
    }
    wanted: dict[tuple[int, str], dict[int, Hit]] = {}
    for hit in hits:
        for reader in readers.values():
            if hit.topic in reader.topics:
                wanted.setdefault((hit.story_id, reader.key), {}).setdefault(hit.topic_id, hit)
    if not wanted:
        return 0
    # Locked: a message being sent right now is waited for, then seen as sent, so a topic
    # never joins a message after it went.
    existing = session.execute(
        select(
            models.Alert.id,
            models.Alert.story_id,
            models.Alert.reader,
            models.Alert.kind,
            models.Alert.state,
        )
        .where(models.Alert.story_id.in_({story for story, _ in wanted}))
        .order_by(models.Alert.id)
        .with_for_update()
    ).all()
    follows = (
        _followed_topics(session, readers.values())
        if any(row.state == REOPENABLE for row in existing)
        else {}
    )
    told: dict[int, set[int]] = {}
    unmatched: dict[int, set[int]] = {}
    for alert_id, topic_id, match_id in session.execute(
        select(
            models.AlertTopic.alert_id, models.AlertTopic.topic_id, models.AlertTopic.match_id
        ).where(models.AlertTopic.alert_id.in_([row.id for row in existing]))
    ):
        told.setdefault(alert_id, set()).add(topic_id)
        if match_id is None:
            unmatched.setdefault(alert_id, set()).add(topic_id)
    rows: dict[tuple[int, str], dict[str, tuple[int, str, set[int]]]] = {}
    for row in existing:
        carried = told.get(row.id, set())
        if row.state == REOPENABLE:
            carried = (carried & follows.get(row.reader, set())) - unmatched.get(row.id, set())
        rows.setdefault((row.story_id, row.reader), {})[row.kind] = (row.id, row.state, carried)
    new: list[tuple[str, str, list[Hit]]] = []
    joined: list[tuple[int, Hit]] = []
    reopened: dict[int, set[int]] = {}  # alert id: the topics it keeps
    for (story_id, key), topics in wanted.items():
        mine = rows.get((story_id, key), {})
        known = set().union(*(kept for _, _, kept in mine.values()))
        fresh = [hit for topic_id, hit in topics.items() if topic_id not in known]
        if not fresh:
            continue
        kind = "alert"
        if "alert" in mine and mine["alert"][1] in TOLD:
            if not readers[key].updates:
                continue
            kind = "update"
        if kind in mine:
            alert_id, state, kept = mine[kind]
            if state == REOPENABLE:
                reopened[alert_id] = kept
            if state in OPEN or state == REOPENABLE:
                joined += [(alert_id, hit) for hit in fresh]
            continue  # told or failed: one message per story, and one follow-up, never a second
        new.append((kind, key, fresh))
    if new:
        result = session.execute(
            insert(models.Alert).returning(models.Alert.id, sort_by_parameter_order=True),
            [
                {
                    "story_id": hits_[0].story_id,
                    "reader": key,
                    "kind": kind,
                    "article_id": hits_[0].article_id,
                    "channel": readers[key].channel,
                    "recipients": [readers[key].address] if readers[key].address else [],
                    "created_at": at,
                    "next_attempt_at": at,
                }
                for kind, key, hits_ in new
            ],
        )
        for (alert_id,), (_, _, hits_) in zip(result, new, strict=True):
            joined += [(alert_id, hit) for hit in hits_]
    if reopened:
        session.execute(
            update(models.Alert)
            .where(models.Alert.id.in_(reopened))
            .values(state="pending", attempts=0, last_error=None, next_attempt_at=at)
        )
        stale = [
            (alert_id, topic_id)
            for alert_id, kept in reopened.items()
            for topic_id in told.get(alert_id, set()) - kept
        ]
        if stale:
            session.execute(
                delete(models.AlertTopic).where(
                    tuple_(models.AlertTopic.alert_id, models.AlertTopic.topic_id).in_(stale)
                )
            )
    if joined:
        session.execute(
            insert(models.AlertTopic).on_conflict_do_nothing(),
            [
                {"alert_id": alert_id, "topic_id": hit.topic_id, "match_id": hit.match_id}
                for alert_id, hit in joined
            ],
        )
    return len(new) + len(reopened)


def _followed_topics(session: Session, readers: Iterable[models.Reader]) -> dict[str, set[int]]:
    """The ids of the (enabled) topics each reader follows now, by reader key."""
    ids = topic_ids(session)
    return {r.key: {ids[name] for name in r.topics if name in ids} for r in readers}


def _left(session: Session, reader: str) -> bool:
    return session.get(models.Unsubscribe, {"reader": reader, "subscription": ALERTS}) is not None


def sent_last_hour(session: Session, reader: str, now: datetime) -> int:
    """Immediate messages the reader got in the hour before `now`."""
    return (
        session.scalar(
            select(func.count()).where(
                models.Alert.reader == reader,
                models.Alert.sent_at > now - timedelta(hours=1),
                models.Alert.state == "sent",
            )
        )
        or 0
    )


def lock_reader(session: Session, reader: str) -> models.Reader | None:
    """The reader's row, locked for this transaction, so two senders counting the reader's
    hour cannot both send the message that goes over the cap."""
    return session.scalar(
        select(models.Reader).where(models.Reader.key == reader).with_for_update()
    )


def carry_held(session: Session, digest: models.DigestMail) -> int:
    """Held alerts of the digest's readers become the digest's ("digested"), in the transaction
    that sends it; how many."""
    if digest.channel == "email":
        readers = [reader_key(str(address)) for address in digest.recipients]
    else:
        readers = [digest.channel]
    result = session.execute(
        update(models.Alert)
        .where(
            models.Alert.reader.in_(readers),
            models.Alert.state == "held",
            models.Alert.digest_id.is_(None),
        )
        .values(state="digested", digest_id=digest.id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def plan_overflow(session: Session, now: datetime) -> int:
    """One "N more stories" message per reader with held alerts and no digest to carry them;
    the held alerts become its content at once, so none is told twice. How many were queued."""
    held = session.execute(
        select(models.Alert.reader, func.min(models.Alert.created_at))
        .where(models.Alert.state == "held", models.Alert.digest_id.is_(None))
        .group_by(models.Alert.reader)
    ).all()
    queued = 0
    for key, since in held:
        reader = session.get(models.Reader, key)
        mine = _only_held(key)
        if reader is None:  # left the config: nothing more goes to them
            session.execute(mine.values(state="cancelled", last_error="the reader left the config"))
            continue
        if any(not unsubscribed(session, key, digest_subscription(d)) for d in reader.digests):
            continue  # a reader with a digest gets them in it (carry_held)
        digest_id = queue_digest(
            session,
            subscriber=key[:200],  # digests.subscriber; the recipients say who it is for
            channel=reader.channel,
            recipients=[reader.address] if reader.address else [],
            topics=[],
            send_empty=False,
            period_start=since,
            period_end=now,
            overflow=True,
            at=now,
        )
        if digest_id is None:
            continue
        session.execute(mine.values(state="digested", digest_id=digest_id))
        queued += 1
    return queued


def _only_held(reader: str) -> Update:
    """An update of the reader's held alerts that no digest carries yet."""
    return update(models.Alert).where(
        models.Alert.reader == reader,
        models.Alert.state == "held",
        models.Alert.digest_id.is_(None),
    )
