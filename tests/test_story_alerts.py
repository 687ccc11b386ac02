"""One message per story per reader, over real SMTP on loopback: every topic in one message,
nothing for later copies or topics unless the reader asked for updates, the hourly cap without
losing or repeating a story, and an unsubscribe link that stops delivery."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Mailbox
from expected import TAKAICHI
from fastapi.testclient import TestClient
from helpers import T0, page_article
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from newswatch import clock, models, pipeline, store
from newswatch.config.load import load_config
from newswatch.config.models import reader_key
from newswatch.dashboard import create_app
from newswatch.records import Article, Match
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db
from newswatch.unsubscribe import ALERTS

ANALYST = "analyst@example.com"
DESK = "desk@example.com"
TOPIC_TITLES = ["Taiwan", "Tariffs", "Rare earths", "Defense spending", "US–Japan relations"]


def messages(box: Mailbox) -> list[tuple[str, EmailMessage]]:
    """(recipient, message) of everything the server received, in order."""
    found = []
    for envelope in box.received:
        msg = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(msg, EmailMessage)
        found += [(rcpt.lower(), msg) for rcpt in envelope.rcpt_tos]
    return found


def plain(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def use_topics(
    settings: Settings, tmp_path: Path, extra: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The repository's topics.yaml with `extra` appended (subscribers), and its feeds; the
    settings as the environment now says (the SMTP fixture's server among them)."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    source = Path(settings.config_dir)
    (config / "feeds.yaml").write_text((source / "feeds.yaml").read_text(encoding="utf-8"))
    topics = (source / "topics.yaml").read_text(encoding="utf-8")
    (config / "topics.yaml").write_text(topics + "\n" + extra, encoding="utf-8")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    with db.transaction(db.session_factory(get_settings())) as session:
        store.config.sync_config(session, load_config(config))
    return get_settings()


def test_the_five_topic_story_is_one_message_per_reader_listing_every_topic(
    settings: Settings,
    news_day: SampleDay,
    smtp: Mailbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_topics(
        get_settings(),
        tmp_path,
        f"subscribers:\n  - name: desk\n    emails: [{DESK}]\n",
        monkeypatch,
    )
    pipeline.run_once(get_settings())
    pipeline.run_once(get_settings())  # a rerun sends nothing again
    received = messages(smtp)
    takaichi = [(rcpt, msg) for rcpt, msg in received if TAKAICHI[:40] in str(msg["Subject"])]
    assert sorted(rcpt for rcpt, _ in takaichi) == [ANALYST, DESK]
    for _, msg in takaichi:
        assert str(msg["Subject"]).startswith(
            "[newswatch] Taiwan · Tariffs · Rare earths +2: Japan sounds out"
        )
        text = plain(msg)
        for title in TOPIC_TITLES:
            assert title in text
    # Four stories hit: each reader gets each once, in its own message.
    assert sorted(rcpt for rcpt, _ in received) == [ANALYST] * 4 + [DESK] * 4
    assert len({str(msg["Message-ID"]) for _, msg in received}) == 8


BASE_TEXT = (
    "Officials in Taipei said on Tuesday that the island would expand its coast guard patrols "
    "in the strait after a week of drills, while lawmakers debated a special budget for drones "
    "and air defence systems that the cabinet sent to parliament last month amid concern about "
    "pressure from Beijing and questions over the pace of arms deliveries from Washington."
)


def store_copy(
    settings: Settings, n: int, topics: Iterable[str], at: datetime, text: str = BASE_TEXT
) -> None:
    """Store article n (feed n % 2) with `text` and a match for each topic; near-identical
    texts join one story."""
    with db.transaction(db.session_factory(settings)) as session:
        feeds = list(session.scalars(select(models.Feed).order_by(models.Feed.id)))
        matches = [
            Match(topic=t, terms={"Taiwan": 1}, snippet="Taiwan patrols", highlights=[(0, 6)])
            for t in topics
        ]
        store.articles.save_articles(
            session, [(copy_of(n, feeds[n % 2].id, at, text), matches)], at
        )


def copy_of(
    n: int,
    feed_id: int,
    at: datetime,
    text: str = BASE_TEXT,
    title: str = "Taiwan expands coast guard patrols after drills",
) -> Article:
    """Article n: `text` with its number at the end, so near-identical texts are one story."""
    return page_article(f"https://news.example/story-{n}", feed_id, title, f"{text} ({n})", at)


def written(session: Session) -> tuple[int, int]:
    """(rows inserted, rows updated) into articles by this connection and not yet reported to
    pg_stat_user_tables; the difference across a statement is that statement's."""
    row = session.execute(
        text("select n_tup_ins, n_tup_upd from pg_stat_xact_user_tables where relname = 'articles'")
    ).one()
    return int(row[0]), int(row[1])


def test_a_batch_writes_each_new_article_once_with_its_story_in_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No UPDATE after the INSERT: it wrote every new row and its index entries (the full-text
    one too) a second time."""
    settings = use_topics(settings, tmp_path, "", monkeypatch)
    other = "Tariff talks between Tokyo and Washington ended without a deal on steel or cars, " * 4
    with db.transaction(db.session_factory(settings)) as session:
        feed = session.scalars(select(models.Feed.id)).first()
        assert feed is not None
        batch = [
            copy_of(1, feed, T0),
            copy_of(2, feed, T0),
            copy_of(3, feed, T0, other, "Tariff talks end without a deal"),
        ]
        before = written(session)
        store.articles.save_articles(session, [(a, []) for a in batch], T0)
        inserted, updated = (
            after - then for after, then in zip(written(session), before, strict=True)
        )
        assert (inserted, updated) == (3, 0)
        rows = session.execute(
            select(models.Article.url, models.Article.id, models.Article.story_id).order_by(
                models.Article.id
            )
        ).all()
        leads = dict(session.execute(select(models.Story.id, models.Story.lead_article_id)).all())
    (_, first, story), (_, _, joined), (_, third, own) = rows
    assert [url for url, _, _ in rows] == [a.url for a in batch]
    assert joined == story != own
    assert leads == {story: first, own: third}


def test_later_copies_and_topics_send_nothing_but_one_update_to_who_asked(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_topics(
        settings,
        tmp_path,
        f"subscribers:\n  - name: desk\n    emails: [{DESK}]\n    updates: true\n",
        monkeypatch,
    )
    settings = get_settings()
    clock.freeze(T0)
    store_copy(settings, 1, ["taiwan"], T0)
    pipeline.deliver(settings)
    assert [rcpt for rcpt, _ in messages(smtp)] == [ANALYST, DESK]

    next_day = T0 + timedelta(days=1)
    clock.freeze(next_day)
    store_copy(settings, 2, ["taiwan", "tariffs"], next_day)  # a second outlet, a new topic
    pipeline.deliver(settings)
    later = messages(smtp)[2:]
    assert [rcpt for rcpt, _ in later] == [DESK]
    update = later[0][1]
    assert str(update["Subject"]).startswith("[newswatch] Update")
    assert "Tariffs" in str(update["Subject"])

    clock.freeze(next_day + timedelta(hours=2))
    store_copy(settings, 3, ["defense-spending"], next_day)  # one follow-up, never a second
    pipeline.deliver(settings)
    pipeline.deliver(settings)
    assert len(messages(smtp)) == 3


def alert_topics(settings: Settings, reader: str) -> list[tuple[str, str, list[str]]]:
    """(kind, state, topic names) of the reader's alerts, oldest first."""
    with db.transaction(db.session_factory(settings)) as session:
        return [
            (
                alert.kind,
                alert.state,
                sorted(
                    session.scalars(
                        select(models.Topic.name)
                        .join(models.AlertTopic, models.AlertTopic.topic_id == models.Topic.id)
                        .where(models.AlertTopic.alert_id == alert.id)
                    )
                ),
            )
            for alert in session.scalars(
                select(models.Alert)
                .where(models.Alert.reader == reader_key(reader))
                .order_by(models.Alert.id)
            )
        ]


def leave_and_return(settings: Settings, reader: str) -> None:
    """The reader unsubscribes from alerts, a delivery cancels what was queued for them, and
    they subscribe again."""
    with db.transaction(db.session_factory(settings)) as session:
        store.readers.unsubscribe(session, reader_key(reader), ALERTS, clock.now())
    pipeline.deliver(settings)
    with db.transaction(db.session_factory(settings)) as session:
        store.readers.resubscribe(session, reader_key(reader))


def test_a_cancelled_update_opens_again_when_the_story_hits_another_topic(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_topics(
        settings,
        tmp_path,
        f"subscribers:\n  - name: desk\n    emails: [{DESK}]\n    updates: true\n",
        monkeypatch,
    )
    settings = get_settings()
    clock.freeze(T0)
    store_copy(settings, 1, ["taiwan"], T0)
    pipeline.deliver(settings)
    store_copy(settings, 2, ["tariffs"], T0)  # the desk's follow-up, never sent:
    leave_and_return(settings, DESK)
    assert alert_topics(settings, DESK)[1] == ("update", "cancelled", ["tariffs"])
    store_copy(settings, 3, ["defense-spending"], T0)
    pipeline.deliver(settings)
    later = messages(smtp)[2:]
    assert [rcpt for rcpt, _ in later] == [DESK]
    assert str(later[0][1]["Subject"]).startswith("[newswatch] Update")
    assert "Defense spending" in str(later[0][1]["Subject"])
    assert alert_topics(settings, DESK)[1] == ("update", "sent", ["defense-spending", "tariffs"])


def test_an_alert_opened_again_tells_only_of_topics_its_reader_follows_now(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = f"subscribers:\n  - name: desk\n    emails: [{DESK}]\n    topics: [{{}}]\n"
    now = use_topics(settings, tmp_path, desk.format("taiwan, tariffs"), monkeypatch)
    clock.freeze(T0)
    store_copy(now, 1, ["taiwan"], T0)
    leave_and_return(now, DESK)
    assert alert_topics(now, DESK) == [("alert", "cancelled", ["taiwan"])]
    now = use_topics(settings, tmp_path, desk.format("tariffs"), monkeypatch)  # not taiwan now
    store_copy(now, 2, ["tariffs"], T0)
    assert alert_topics(now, DESK) == [("alert", "pending", ["tariffs"])]
    pipeline.deliver(now)
    ((_, msg),) = [(rcpt, msg) for rcpt, msg in messages(smtp) if rcpt == DESK]
    assert str(msg["Subject"]).startswith("[newswatch] Tariffs:")


def test_a_flood_sends_twenty_and_the_rest_in_one_more_stories_message_once(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = use_topics(settings, tmp_path, "", monkeypatch)
    clock.freeze(T0)
    for n in range(25):
        store_copy(
            settings,
            n,
            ["taiwan"],
            T0,
            text=f"Story number {n}: " + " ".join(f"word{n}x{i}" for i in range(60)),
        )
    pipeline.deliver(settings)
    pipeline.deliver(settings)
    received = messages(smtp)
    assert len(received) == 21
    alerts = [msg for _, msg in received if "more stories" not in str(msg["Subject"])]
    overflow = [msg for _, msg in received if "more stories" in str(msg["Subject"])]
    assert len(alerts) == 20 and len(overflow) == 1
    assert str(overflow[0]["Subject"]).startswith("[newswatch] 5 more stories")
    with db.transaction(db.session_factory(settings)) as session:
        states = sorted(session.scalars(select(models.Alert.state)))
    assert states == ["digested"] * 5 + ["sent"] * 20
    # An hour later the cap is free again, and nothing is owed: nothing goes twice.
    clock.freeze(T0 + timedelta(hours=2))
    pipeline.deliver(settings)
    assert len(messages(smtp)) == 21


def test_held_stories_wait_for_the_readers_digest(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_topics(
        settings,
        tmp_path,
        f"subscribers:\n  - name: morning\n    emails: [{ANALYST}]\n    mode: digest\n",
        monkeypatch,
    )
    monkeypatch.setenv("NEWSWATCH_MAX_ALERTS_PER_HOUR", "2")
    settings = get_settings()
    clock.freeze(T0)
    for n in range(4):
        store_copy(
            settings,
            n,
            ["taiwan"],
            T0,
            text=f"Report {n}: " + " ".join(f"term{n}y{i}" for i in range(60)),
        )
    pipeline.deliver(settings)
    assert len(messages(smtp)) == 2  # no "more stories" message: the digest carries the rest
    clock.freeze(T0 + timedelta(hours=20))
    pipeline.plan_digests(settings)
    pipeline.send_digests(settings)
    pipeline.send_digests(settings)
    received = messages(smtp)
    assert len(received) == 3
    digest = plain(received[2][1])
    assert digest.count("Taiwan expands coast guard patrols") == 4
    with db.transaction(db.session_factory(settings)) as session:
        states = sorted(session.scalars(select(models.Alert.state)))
    assert states == ["digested", "digested", "sent", "sent"]


def test_the_unsubscribe_link_works_once_and_stops_delivery(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = use_topics(settings, tmp_path, "", monkeypatch)
    monkeypatch.setenv("NEWSWATCH_PUBLIC_URL", "https://news.example/newswatch")
    settings = get_settings()
    clock.freeze(T0)
    store_copy(settings, 1, ["taiwan"], T0)
    pipeline.deliver(settings)
    ((_, msg),) = messages(smtp)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = [
        part.strip().strip("<>")
        for part in str(msg["List-Unsubscribe"]).split(",")
        if part.strip().startswith("<https://")
    ]
    url = urlsplit(https[0])
    assert url.netloc == "news.example" and url.path == "/newswatch/unsubscribe"
    with TestClient(create_app()) as client:
        first = client.post(f"/unsubscribe?{url.query}", data={"List-Unsubscribe": "One-Click"})
        again = client.post(f"/unsubscribe?{url.query}", data={"List-Unsubscribe": "One-Click"})
    assert first.status_code == 200 and again.status_code == 200
    store_copy(settings, 2, ["taiwan"], T0, text="A different story about Taiwan " * 20)
    pipeline.deliver(settings)
    assert len(messages(smtp)) == 1
