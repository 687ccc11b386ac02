"""What feeds.yaml and topics.yaml say, written to the feeds and topics tables."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Table,
    case,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.config.models import Config, TopicConfig

RELEASED = "urn:newswatch:released:"  # a URL given up to the feed that feeds.yaml names it for


def sync_config(session: Session, config: Config) -> None:
    """Upsert feeds and topics from config; entries removed from config are disabled, not deleted.

    feeds.yaml wins over what the store learnt: a URL it names for one feed is taken from any
    other feed holding it (two feeds swapped, or a feed a 301 moved onto it), and that feed goes
    back to its own configured URL; without this the unique URL stopped every run.
    """
    wanted = {feed.name: feed.url for feed in config.feeds}
    holders = session.execute(
        select(models.Feed.id, models.Feed.name, models.Feed.url).where(
            models.Feed.url.in_(set(wanted.values()))
        )
    ).all()
    for feed_id, name, url in holders:
        if wanted.get(name) != url:
            session.execute(
                update(models.Feed)
                .where(models.Feed.id == feed_id)
                .values(url=f"{RELEASED}{feed_id}")
            )
    if config.feeds:  # one executemany: a statement per feed held every run's start up
        feeds = cast(Table, models.Feed.__table__)
        stmt = insert(feeds)
        config_changed = feeds.c.config_url.is_distinct_from(stmt.excluded.config_url)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[feeds.c.name],
                set_={
                    # A URL learnt from a permanent redirect stays until feeds.yaml itself changes.
                    "url": case((config_changed, stmt.excluded.url), else_=feeds.c.url),
                    "next_poll_at": case((config_changed, None), else_=feeds.c.next_poll_at),
                    "config_url": stmt.excluded.config_url,
                    "enabled": stmt.excluded.enabled,
                },
            ),
            [
                {"name": f.name, "url": f.url, "config_url": f.url, "enabled": f.enabled}
                for f in config.feeds
            ],
        )
    names = [feed.name for feed in config.feeds]
    session.execute(update(models.Feed).where(models.Feed.name.not_in(names)).values(enabled=False))
    taken = set(session.scalars(select(models.Feed.url)))
    for row in session.scalars(select(models.Feed).where(models.Feed.url.startswith(RELEASED))):
        if row.config_url and row.config_url not in taken:
            row.url, row.next_poll_at = row.config_url, None
            taken.add(row.config_url)
    session.flush()
    for topic in config.topics:
        values = {
            "name": topic.name,
            "title": topic.label,
            "description": topic.description,
            "rule": stored_rule(topic),
            "recipients": config.recipients_for(topic),
            "enabled": topic.enabled,
        }
        stmt = insert(models.Topic).values(**values)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[models.Topic.name],
                set_={k: stmt.excluded[k] for k in values if k != "name"},
            )
        )
    topic_names = [topic.name for topic in config.topics]
    session.execute(
        update(models.Topic).where(models.Topic.name.not_in(topic_names)).values(enabled=False)
    )
    sync_readers(session, config)


def stored_rule(topic: TopicConfig) -> dict[str, Any]:
    """The part of a topic that decides what it matches, as topics.rule holds it."""
    return {
        "query": topic.query,
        "keywords": topic.keywords,
        "exclude": topic.exclude,
        "min_hits": topic.min_hits,
        "stemming": topic.stemming,
    }


def unapplied_topics(session: Session) -> list[str]:
    """Enabled topics whose rule, as last synced, differs from the one last applied to stored
    articles (retag.py), or that were never applied: new ones; in the config's order."""
    return list(
        session.scalars(
            select(models.Topic.name)
            .where(
                models.Topic.enabled, models.Topic.applied_rule.is_distinct_from(models.Topic.rule)
            )
            .order_by(models.Topic.id)
        )
    )


def mark_applied(session: Session, name: str, rule: dict[str, Any]) -> None:
    """Record that the topic's stored articles now carry `rule`'s matches (stored_rule's form)."""
    session.execute(update(models.Topic).where(models.Topic.name == name).values(applied_rule=rule))


def sync_readers(session: Session, config: Config) -> None:
    """The readers table becomes the config's readers. A reader removed from the config gets
    nothing more (delivery cancels what was pending for them); their unsubscribes stay."""
    rows = [
        {
            "key": spec.key,
            "channel": spec.channel,
            "address": spec.address,
            "topics": sorted(spec.topics),
            "updates": spec.updates,
            "timezone": spec.timezone,
            "digests": spec.digests,
        }
        for spec in config.readers()
    ]
    # Upserted, not replaced: a sender holding a reader's row locked (the hourly cap) sees it
    # updated, never deleted, so a sync in the middle of a delivery cancels nobody.
    session.execute(
        delete(models.Reader).where(models.Reader.key.not_in([row["key"] for row in rows]))
    )
    for row in rows:
        stmt = insert(models.Reader).values(**row)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[models.Reader.key],
                set_={k: stmt.excluded[k] for k in row if k != "key"},
            )
        )
