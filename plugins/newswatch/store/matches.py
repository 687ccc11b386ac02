"""One topic's matches on stored articles, as a re-tag reads and rewrites them (retag.py):
the articles to examine, the matches they hold, and adding, updating and removing matches
with what removing one means for the alerts citing it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    delete,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models
from newswatch.records import Match
from newswatch.store import alerts as alerting
from newswatch.store import db
from newswatch.store.reads import article_at

# First key of the two-key advisory lock (RETAG_LOCK, topic id) one topic's re-tag holds per
# batch; PostgreSQL keeps two-key locks apart from db.Lock's single keys.
RETAG_LOCK = 7210433
# An alert not yet told to its reader: a topic that no longer matches leaves it. A failed one
# too, so `alerts resend` cannot tell of a topic the story no longer hits.
UNSENT = (*alerting.OPEN, "failed")
WITHDRAWN = "withdrawn: its topics no longer match the story (the topic was edited)"


@dataclass(frozen=True)
class Candidate:
    """A stored article a re-tag examines, with what matching needs of it."""

    id: int
    story_id: int | None
    fetched_at: datetime
    title: str
    text: str
    language: str | None
    source: str


@dataclass(frozen=True)
class StoredMatch:
    id: int
    values: dict[str, Any]  # the columns match_values writes, as stored


def match_values(match: Match) -> dict[str, Any]:
    """A match's columns as stored (JSON lists for spans), so a stored row compares equal to
    the match that would write it."""
    return {
        "terms": dict(match.terms),
        "snippet": match.snippet,
        "highlights": [list(span) for span in match.highlights],
        "offsets": {t: [list(s) for s in spans] for t, spans in match.offsets.items()},
    }


def hold_topic(session: Session, topic_id: int) -> None:
    """Wait for the topic's re-tag lock, held until the transaction ends: two re-tags of one
    topic never rewrite the same articles at once."""
    session.execute(
        text("select pg_advisory_xact_lock(:space, :topic)"),
        {"space": RETAG_LOCK, "topic": topic_id},
    )


def topic_id(session: Session, name: str) -> int | None:
    return session.scalar(select(models.Topic.id).where(models.Topic.name == name))


def _examined(since: datetime) -> list[ColumnElement[bool]]:
    """Articles dated (published, else fetched) since `since` whose text is kept: all of them,
    as ingestion would match them (retag.py says why full-text search does not narrow)."""
    return [article_at() >= since, models.Article.text_purged_at.is_(None)]


def count_candidates(session: Session, since: datetime) -> tuple[int, int]:
    """How many articles a re-tag examines, and the highest id among them (0 for none): the
    walk stops there, so articles stored meanwhile (tagged as they arrive) do not prolong it."""
    count, newest = session.execute(
        select(func.count(), func.max(models.Article.id)).where(*_examined(since))
    ).one()
    return int(count), int(newest or 0)


def candidates(
    session: Session, since: datetime, *, after_id: int, upto_id: int, limit: int
) -> list[Candidate]:
    """The next `limit` articles to examine by id after `after_id`, up to `upto_id`."""
    rows = session.execute(
        select(
            models.Article.id,
            models.Article.story_id,
            models.Article.fetched_at,
            models.Article.title,
            models.Article.text,
            models.Article.language,
            models.Feed.name,
        )
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .where(*_examined(since))
        .where(models.Article.id > after_id, models.Article.id <= upto_id)
        .order_by(models.Article.id)
        .limit(limit)
    )
    return [Candidate(*row) for row in rows]


def stored_matches(
    session: Session, topic: int, article_ids: Sequence[int]
) -> dict[int, StoredMatch]:
    """The topic's matches on these articles, by article id."""
    if not article_ids:
        return {}
    rows = session.execute(
        select(
            models.Match.article_id,
            models.Match.id,
            models.Match.terms,
            models.Match.snippet,
            models.Match.highlights,
            models.Match.offsets,
        ).where(models.Match.topic_id == topic, models.Match.article_id.in_(article_ids))
    )
    return {
        article_id: StoredMatch(
            match_id,
            {"terms": terms, "snippet": snippet, "highlights": spans, "offsets": offsets},
        )
        for article_id, match_id, terms, snippet, spans, offsets in rows
    }


def add_matches(
    session: Session, topic: int, new: Iterable[tuple[int, datetime, Match]]
) -> dict[int, int]:
    """Insert the topic's matches (article id, when it counts as matched, match); match id by
    article id of each inserted (one already there is left alone)."""
    rows = [
        {"article_id": article_id, "topic_id": topic, "matched_at": at, **match_values(match)}
        for article_id, at, match in new
    ]
    if not rows:
        return {}
    result = session.execute(
        insert(models.Match)
        .on_conflict_do_nothing()
        .returning(models.Match.id, models.Match.article_id),
        rows,
    )
    return {article_id: match_id for match_id, article_id in result}


def update_matches(session: Session, changed: Iterable[tuple[int, Match]]) -> int:
    """Rewrite the terms, snippet and spans of matches (match id, match); matched_at stays, as
    do the alerts that point at them."""
    rows = [{"match_id": match_id, **match_values(match)} for match_id, match in changed]
    if not rows:
        return 0
    table = cast(Table, models.Match.__table__)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("match_id"))
        .values({name: bindparam(name) for name in ("terms", "snippet", "highlights", "offsets")}),
        rows,
    )
    return len(rows)


def withdrawn(session: Session, alert_id: int) -> bool:
    """Whether a re-tag withdrew the alert: cancelled as WITHDRAWN, with no topic left to tell."""
    alert = session.get(models.Alert, alert_id)
    if alert is None or alert.state != "cancelled" or alert.last_error is None:
        return False
    left = exists().where(models.AlertTopic.alert_id == alert_id)
    return alert.last_error.startswith(WITHDRAWN) and not session.scalar(select(left))


def remove_matches(session: Session, match_ids: Sequence[int]) -> int:
    """Delete matches; returns how many alerts that nobody got were withdrawn.

    An alert citing a removed match cites instead a match of the same topic that stays on an
    article of its story, whatever its state: the story still hits the topic. Where none stays,
    an alert not yet sent (UNSENT) stops telling of the topic, and one left with no topic is
    cancelled, so nobody is told of a hit that no longer is; a sent or digested alert keeps its
    topic without the match (alert_topics.match_id becomes null). Takes db.Lock.STORIES, as
    queuing alerts does, so no batch joins a topic to an alert being withdrawn.
    """
    if not match_ids:
        return 0
    db.hold(session, db.Lock.STORIES)
    # Locked: a message being sent right now is waited for, then seen as sent.
    affected = session.execute(
        select(models.Alert.id, models.Alert.state)
        .where(
            models.Alert.id.in_(
                select(models.AlertTopic.alert_id).where(models.AlertTopic.match_id.in_(match_ids))
            )
        )
        .order_by(models.Alert.id)
        .with_for_update()
    ).all()
    _cite_staying_matches(session, match_ids)
    unsent = [alert_id for alert_id, state in affected if state in UNSENT]
    withdrawn = 0
    if unsent:
        session.execute(
            delete(models.AlertTopic).where(
                models.AlertTopic.alert_id.in_(unsent), models.AlertTopic.match_id.in_(match_ids)
            )
        )
        left = exists().where(models.AlertTopic.alert_id == models.Alert.id)
        result = session.execute(
            update(models.Alert)
            .where(models.Alert.id.in_(unsent), ~left)
            .values(state="cancelled", last_error=WITHDRAWN)
        )
        withdrawn = int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.execute(delete(models.Match).where(models.Match.id.in_(match_ids)))
    return withdrawn


def _cite_staying_matches(session: Session, match_ids: Sequence[int]) -> None:
    """Point each alert topic citing one of these matches at a match of its topic on an article
    of the alert's story that is not among them (the alert's own article first), if any."""
    table = cast(Table, models.AlertTopic.__table__)
    staying = (
        select(models.Match.id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .join(models.Alert, models.Alert.story_id == models.Article.story_id)
        .where(
            models.Alert.id == table.c.alert_id,
            models.Match.topic_id == table.c.topic_id,
            models.Match.id.not_in(match_ids),
        )
        .order_by((models.Match.article_id == models.Alert.article_id).desc(), models.Match.id)
        .limit(1)
        .scalar_subquery()
    )
    session.execute(
        update(table)
        .where(table.c.match_id.in_(match_ids))
        .values(match_id=func.coalesce(staying, table.c.match_id))
    )
