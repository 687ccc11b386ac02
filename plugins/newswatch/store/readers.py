"""Readers and the subscriptions they left by a one-click unsubscribe link.

Its own module, apart from config.py (which writes the readers table on every sync): the
dashboard's unsubscribe page and `newswatch readers` need only this, and an unsubscribe outlives
the reader's config entry, so a reader removed and added again stays unsubscribed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models

UNSUBSCRIBE_SECRET = "unsubscribe"  # the secrets row migration 0017 made


@dataclass(frozen=True)
class ReaderRow:
    """One reader as the last config sync stored it, with the subscriptions they left."""

    key: str
    channel: str | None  # None: no longer in the config; only their unsubscribes remain
    address: str | None
    topics: tuple[str, ...]
    digests: tuple[str, ...]
    updates: bool
    timezone: str | None  # None: NEWSWATCH_DIGEST_TIMEZONE
    unsubscribed: tuple[str, ...]  # "alerts", "digest:<subscriber>"

    @property
    def configured(self) -> bool:
        return self.channel is not None


def secret(session: Session, name: str = UNSUBSCRIBE_SECRET) -> str:
    """A value a migration made once: by default the key that signs unsubscribe links."""
    value = session.scalar(select(models.Secret.value).where(models.Secret.name == name))
    if value is None:
        raise LookupError(f"no {name} secret in the store (run `newswatch db upgrade`)")
    return value


def unsubscribe(session: Session, reader: str, subscription: str, at: datetime) -> bool:
    """Record that `reader` left `subscription`; True when they had not already."""
    stmt = (
        insert(models.Unsubscribe)
        .values(reader=reader, subscription=subscription, at=at)
        .on_conflict_do_nothing(
            index_elements=[models.Unsubscribe.reader, models.Unsubscribe.subscription]
        )
        .returning(models.Unsubscribe.reader)
    )
    return session.execute(stmt).first() is not None


def resubscribe(session: Session, reader: str, subscription: str | None = None) -> list[str]:
    """Undo the reader's unsubscribe from `subscription` (None: from everything); the
    subscriptions undone."""
    stmt = delete(models.Unsubscribe).where(models.Unsubscribe.reader == reader)
    if subscription is not None:
        stmt = stmt.where(models.Unsubscribe.subscription == subscription)
    return sorted(session.scalars(stmt.returning(models.Unsubscribe.subscription)))


def unsubscribed(session: Session, reader: str, subscription: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    models.Unsubscribe.reader == reader,
                    models.Unsubscribe.subscription == subscription,
                )
            )
        )
    )


def listing(session: Session) -> list[ReaderRow]:
    """Every stored reader, and every reader who left something but is no longer configured."""
    left: dict[str, list[str]] = {}
    for reader, subscription in session.execute(
        select(models.Unsubscribe.reader, models.Unsubscribe.subscription).order_by(
            models.Unsubscribe.reader, models.Unsubscribe.subscription
        )
    ):
        left.setdefault(reader, []).append(subscription)
    rows = {
        reader.key: ReaderRow(
            key=reader.key,
            channel=reader.channel,
            address=reader.address,
            topics=tuple(sorted(reader.topics)),
            digests=tuple(reader.digests),
            updates=reader.updates,
            timezone=reader.timezone,
            unsubscribed=tuple(left.get(reader.key, ())),
        )
        for reader in session.scalars(select(models.Reader))
    }
    for key, subscriptions in left.items():
        if key not in rows:
            rows[key] = ReaderRow(key, None, None, (), (), False, None, tuple(subscriptions))
    return [rows[key] for key in sorted(rows)]


def left(session: Session, subscription: str) -> set[str]:
    """The readers who unsubscribed from `subscription`, in one query (for a whole batch)."""
    return set(
        session.scalars(
            select(models.Unsubscribe.reader).where(models.Unsubscribe.subscription == subscription)
        )
    )
