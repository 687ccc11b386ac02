"""Migration 0017 turns alerts per story and topic into messages per story and reader without
sending anything again."""

from __future__ import annotations

import json
from email import message_from_bytes
from pathlib import Path

import pytest
from conftest import Mailbox
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from newswatch import models, pipeline, store
from newswatch.config.load import load_config
from newswatch.settings import get_settings
from newswatch.store import db


def _seed_0016(url: str) -> None:
    """Two stories as 0016 stored them: one sent to two readers for two topics (one reader was
    refused for good), one still pending for one topic."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into feeds (id, name, url) values (1, 'wire', 'https://wire.example/feed');"
                "insert into topics (id, name, title, rule, recipients) values"
                " (1, 'taiwan', 'Taiwan', '{}', '[]'), (2, 'tariffs', 'Tariffs', '{}', '[]');"
                "insert into stories (id, first_seen_at, title) values"
                " (1, now(), 'Sent story'), (2, now(), 'Pending story');"
                "insert into articles (id, url, feed_id, title, fetched_at, text, text_source,"
                " content_hash, story_id) values"
                " (1, 'https://wire.example/1', 1, 'Sent story', now(), 'Taiwan tariff', 'page', 'a', 1),"
                " (2, 'https://wire.example/2', 1, 'Pending story', now(), 'Taiwan', 'page', 'b', 2);"
                "update stories set lead_article_id = id;"
                "insert into matches (id, article_id, topic_id, terms, snippet, highlights,"
                " matched_at) values (1, 1, 1, '{}', 's', '[]', now()),"
                " (2, 1, 2, '{}', 's', '[]', now()), (3, 2, 1, '{}', 's', '[]', now());"
            )
        )
        ann, bob = "Ann@Example.com", "bob@example.com"
        sent = {ann: {"state": "sent"}, bob: {"state": "refused", "reason": "550 no user"}}
        for alert_id, topic, story, state, outcomes in [
            (1, 1, 1, "sent", sent),
            (2, 2, 1, "sent", sent),
            (3, 1, 2, "pending", {}),
        ]:
            conn.execute(
                text(
                    "insert into alerts (id, article_id, topic_id, match_id, story_id, channel,"
                    " recipients, state, created_at, sent_at, next_attempt_at, outcomes)"
                    " values (:id, :story, :topic, :id, :story, 'email',"
                    " cast(:recipients as jsonb), cast(:state as varchar), now(),"
                    " case when cast(:state as varchar) = 'sent' then now() end, now(), cast(:outcomes as jsonb))"
                ),
                {
                    "id": alert_id,
                    "topic": topic,
                    "story": story,
                    "recipients": json.dumps([ann, bob]),
                    "state": state,
                    "outcomes": json.dumps(outcomes),
                },
            )
    engine.dispose()


TOPICS = """
topics:
  - name: taiwan
    title: Taiwan
    keywords: [Taiwan]
    recipients: [Ann@Example.com, bob@example.com]
  - name: tariffs
    title: Tariffs
    keywords: [tariff]
    recipients: [Ann@Example.com, bob@example.com]
"""


def test_old_alerts_become_one_message_per_story_and_reader_and_nothing_is_resent(
    empty_database_url: str, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db.upgrade(empty_database_url, "0016")
    _seed_0016(empty_database_url)
    db.upgrade(empty_database_url)
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n  - {name: wire, url: https://wire.example/feed}\n"
    )
    (tmp_path / "topics.yaml").write_text(TOPICS)
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(tmp_path / "var"))
    settings = get_settings()
    factory = db.session_factory(settings)
    with db.transaction(factory) as session:
        rows = {
            (alert.story_id, alert.reader): (alert.state, told(session, alert.id))
            for alert in session.scalars(select(models.Alert))
        }
    assert rows == {
        (1, "email:ann@example.com"): ("sent", [1, 2]),  # got both topics: one message now
        (1, "email:bob@example.com"): ("failed", [1, 2]),  # refused for good stays refused
        (2, "email:ann@example.com"): ("pending", [1]),
        (2, "email:bob@example.com"): ("pending", [1]),
    }
    with db.transaction(factory) as session:
        store.config.sync_config(session, load_config(tmp_path))
    pipeline.deliver(settings)
    pipeline.deliver(settings)
    delivered = sorted(
        (envelope.rcpt_tos[0], message_from_bytes(envelope.original_content or b"")["Subject"])
        for envelope in smtp.received
    )
    assert delivered == [
        ("Ann@Example.com", "[newswatch] Taiwan: Pending story"),
        ("bob@example.com", "[newswatch] Taiwan: Pending story"),
    ]


def told(session: Session, alert_id: int) -> list[int]:
    return list(
        session.scalars(
            select(models.AlertTopic.topic_id)
            .where(models.AlertTopic.alert_id == alert_id)
            .order_by(models.AlertTopic.topic_id)
        )
    )
