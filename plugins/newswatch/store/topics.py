"""Topics as stored: the ids of the enabled ones, and one topic's rule as last synced."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.records import TopicRule


@dataclass(frozen=True)
class StoredTopic:
    title: str
    rule: TopicRule


def topic_ids(session: Session) -> dict[str, int]:
    """Id by name of every enabled topic (who follows them is the readers table's)."""
    rows = session.execute(select(models.Topic.name, models.Topic.id).where(models.Topic.enabled))
    return {name: topic_id for name, topic_id in rows}


def stored_topic(session: Session, name: str) -> StoredTopic | None:
    """The topic's title and rule as topics.yaml said at the last sync (store.config), or None."""
    row = session.execute(
        select(models.Topic.title, models.Topic.rule, models.Topic.enabled).where(
            models.Topic.name == name
        )
    ).one_or_none()
    if row is None:
        return None
    rule = row.rule
    return StoredTopic(
        row.title,
        TopicRule(
            name=name,
            query=rule.get("query"),
            keywords=tuple(rule.get("keywords", ())),
            exclude=tuple(rule.get("exclude", ())),
            min_hits=rule.get("min_hits", 1),
            enabled=row.enabled,
            stemming=rule.get("stemming", "plural"),
        ),
    )
