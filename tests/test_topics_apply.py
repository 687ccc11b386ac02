"""`newswatch topics apply` and the run's own re-tag of an edited topic: stored articles carry
the topic as it now reads, on real PostgreSQL, with alerts only when asked for."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Mailbox
from expected import SAMPLE_DAY_ALERTS, TAKAICHI
from helpers import page_article, stored_alerts
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from newswatch import clock, models, pipeline, retag, store
from newswatch.cli.main import app
from newswatch.config.load import load_config
from newswatch.config.models import reader_key
from newswatch.records import Match
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db
from newswatch.store.matches import StoredMatch
from newswatch.topics import compile_topics, match_text
from newswatch.unsubscribe import ALERTS

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
READER = "analyst@example.com"
TAIPEI_ONLY = "Taipei mayor opens new metro line"
TAIWAN_ONLY = "Taiwan holds local elections"
BOTH = "Taiwan's capital Taipei hosts trade fair"
OKINAWA = "Typhoon nears Okinawa"
TAIPEI_TRAFFIC = "Taipei traffic eases"
# The sample day's pineapple story, and the summit story's rewrite by another outlet.
PINEAPPLE = "Taiwanese pineapple growers expect bumper harvest"
TAKAICHI_KYODO = "Japan eyes late-March Takaichi trip to U.S. for Trump summit"
# Two reports of one story (ingest(..., story=True)).
METRO_TAIPEI = "Metro works begin in Taipei"
METRO_TAIWAN = "Metro works begin in Taiwan"
METRO_KEELUNG = "Metro works begin in Keelung"
TEXTS = {
    METRO_KEELUNG: "Crowds in Keelung watched the opening.",
    METRO_TAIPEI: "The mayor of Taipei spoke at the opening.",
    METRO_TAIWAN: "Officials across Taiwan spoke at the opening.",
    TAIPEI_TRAFFIC: "Traffic in Taipei eased after the holiday.",
    TAIPEI_ONLY: "The mayor of Taipei opened the line on Monday.",
    TAIWAN_ONLY: "Voters across Taiwan went to the polls.",
    BOTH: "Taiwan welcomed buyers as Taipei filled its halls.",
    OKINAWA: "Ferries to Okinawa were cancelled as the storm approached.",
}


def write_topics(config: Path, **queries: str) -> None:
    """topics.yaml with one topic per name and query, all to READER."""
    topics = [{"name": name, "query": query} for name, query in queries.items()]
    text = yaml.safe_dump({"recipients": [READER], "topics": topics}, sort_keys=False)
    (config / "topics.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def config(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of our own: one feed (never polled here) and the topic taiwan."""
    folder = tmp_path / "apply-config"
    folder.mkdir()
    feeds = {"feeds": [{"name": "Wire", "url": "http://127.0.0.1:1/feed"}]}
    (folder / "feeds.yaml").write_text(yaml.safe_dump(feeds), encoding="utf-8")
    write_topics(folder, taiwan="Taiwan OR Taipei")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    clock.freeze(NOW)
    return folder


# Reports of one event by several outlets: the same long text but for their last sentence
# (TEXTS), so stories.py puts them in one story when their titles are related too. No topic
# of these tests hits it.
EVENT = (
    "The city government announced on Monday a broad programme of works on the metro network, "
    "with new stations, longer trains and later services planned for the coming years across "
    "the capital, paid for by a special budget the council approved after months of debate "
    "about fares, contractors and the noise of the building sites near schools and hospitals. "
    "Officials said the first contracts would be signed before the end of the year and that "
    "the busiest lines would stay open while the work went on at night and on weekends. "
)


def ingest(
    *titles: str, days_ago: int = 1, story: bool = False, texts: dict[str, str] = TEXTS
) -> None:
    """Store articles as ingestion does: tagged by the config's topics, with their alerts; with
    `story`, reports of one event (EVENT), so they join one story."""
    settings = get_settings()
    loaded = load_config(settings.config_dir)
    matcher = compile_topics(topic.rule for topic in loaded.topics)
    at = clock.now() - timedelta(days=days_ago)
    with db.transaction(db.session_factory(settings)) as session:
        store.config.sync_config(session, loaded)
        feed = session.scalars(select(models.Feed).order_by(models.Feed.id)).first()
        assert feed is not None
        tagged = []
        for title in titles:
            body = EVENT + texts[title] if story else texts[title]
            article = page_article(
                f"https://news.example/{hashlib.sha1(title.encode()).hexdigest()[:8]}",
                feed.id,
                title,
                body,
                at,
                signed=story,
            )
            tagged.append((article, match_text(title, body, matcher, source=feed.name, lang="en")))
        store.articles.save_articles(session, tagged, at)


def match_of(topic: str, title: str) -> int:
    """The id of the topic's match on the article with this title."""
    with db.transaction(db.session_factory(get_settings())) as session:
        return session.scalars(
            select(models.Match.id)
            .join(models.Topic, models.Topic.id == models.Match.topic_id)
            .join(models.Article, models.Article.id == models.Match.article_id)
            .where(models.Topic.name == topic, models.Article.title == title)
        ).one()


def story_count() -> int:
    with db.transaction(db.session_factory(get_settings())) as session:
        return len(set(session.scalars(select(models.Article.story_id))))


def matches() -> dict[tuple[str, str], dict[str, int]]:
    """(topic, article title) -> terms of every stored match."""
    with db.transaction(db.session_factory(get_settings())) as session:
        rows = session.execute(
            select(models.Topic.name, models.Article.title, models.Match.terms)
            .join(models.Match, models.Match.topic_id == models.Topic.id)
            .join(models.Article, models.Article.id == models.Match.article_id)
        )
        return {(topic, title): dict(terms) for topic, title, terms in rows}


def alerts() -> list[tuple[str, str, list[tuple[str, int | None]]]]:
    """(article title, state, [(topic, match id)]) of every alert, oldest first."""
    with db.transaction(db.session_factory(get_settings())) as session:
        found = []
        for alert in session.scalars(select(models.Alert).order_by(models.Alert.id)):
            article = session.get_one(models.Article, alert.article_id)
            topics = session.execute(
                select(models.Topic.name, models.AlertTopic.match_id)
                .join(models.AlertTopic, models.AlertTopic.topic_id == models.Topic.id)
                .where(models.AlertTopic.alert_id == alert.id)
                .order_by(models.Topic.name)
            )
            found.append((article.title, alert.state, [(t, m) for t, m in topics]))
        return found


def apply(*args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["topics", "apply", *args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_apply_tags_stored_articles_with_a_new_topic_from_when_they_were_stored(
    config: Path,
) -> None:
    ingest(TAIWAN_ONLY, OKINAWA, days_ago=3)
    write_topics(config, taiwan="Taiwan OR Taipei", okinawa="Okinawa")
    got = apply("okinawa")
    assert got["matches_added"] == 1 and got["matches_removed"] == 0
    assert got["articles_examined"] == 2  # every article in the window, as ingestion saw them
    assert matches()[("okinawa", OKINAWA)] == {"Okinawa": 2}
    with db.transaction(db.session_factory(get_settings())) as session:
        match = session.scalars(select(models.Match).where(models.Match.terms.has_key("Okinawa")))
        assert match.one().matched_at == NOW - timedelta(days=3)  # the article's, not now


def test_second_apply_changes_nothing(config: Path) -> None:
    ingest(TAIWAN_ONLY, OKINAWA)
    write_topics(config, taiwan="Taiwan OR Taipei", okinawa="Okinawa OR Taiwan")
    first = apply("okinawa")
    again = apply("okinawa")
    assert first["matches_added"] == 2
    assert (again["matches_added"], again["matches_updated"], again["matches_removed"]) == (0, 0, 0)
    assert again["matches_unchanged"] == 2


def test_a_removed_term_removes_only_the_matches_it_alone_produced(config: Path) -> None:
    ingest(TAIPEI_ONLY, TAIWAN_ONLY, BOTH)
    assert {title for topic, title in matches()} == {TAIPEI_ONLY, TAIWAN_ONLY, BOTH}
    write_topics(config, taiwan="Taiwan")
    got = apply("taiwan")
    assert (got["matches_added"], got["matches_updated"], got["matches_removed"]) == (0, 1, 1)
    assert matches() == {
        ("taiwan", TAIWAN_ONLY): {"Taiwan": 2},
        ("taiwan", BOTH): {"Taiwan": 2},  # rewritten: Taipei is no term of the topic now
    }


def test_apply_with_alert_queues_each_new_story_once(config: Path) -> None:
    ingest(TAIWAN_ONLY, OKINAWA)
    write_topics(config, taiwan="Taiwan OR Taipei", okinawa="Okinawa")
    first = apply("okinawa", "--alert")
    again = apply("okinawa", "--alert")
    assert first["alerts_queued"] == 1 and again["alerts_queued"] == 0
    assert [(title, state) for title, state, _ in alerts()] == [
        (TAIWAN_ONLY, "pending"),
        (OKINAWA, "pending"),
    ]


def test_apply_without_alert_queues_nothing_and_alert_later_does(config: Path) -> None:
    ingest(OKINAWA)
    write_topics(config, taiwan="Taiwan OR Taipei", okinawa="Okinawa")
    result = CliRunner().invoke(app, ["topics", "apply", "okinawa", "--since", "30d"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "okinawa: 1 article examined since 2026-10-26; 1 match added, 0 updated, 0 removed; "
        "no alerts (add --alert to send them)"
    )
    assert alerts() == []
    assert apply("okinawa", "--alert")["alerts_queued"] == 1  # as the line said


def test_an_unsent_alert_left_without_topics_is_cancelled_a_sent_one_keeps_its_topic(
    config: Path, smtp: Mailbox
) -> None:
    ingest(TAIPEI_ONLY)
    pipeline.deliver(get_settings())  # the Taipei story went to the reader
    ingest(TAIPEI_TRAFFIC)  # not sent yet
    write_topics(config, taiwan="Taiwan")
    got = apply("taiwan")
    assert got["matches_removed"] == 2 and got["alerts_cancelled"] == 1
    assert [(title, state, topics) for title, state, topics in alerts()] == [
        (TAIPEI_ONLY, "sent", [("taiwan", None)]),  # it carried taiwan; the match is gone
        (TAIPEI_TRAFFIC, "cancelled", []),
    ]
    assert len(smtp.received) == 1
    pipeline.deliver(get_settings())
    assert len(smtp.received) == 1  # the withdrawn alert is never sent


def test_a_withdrawn_alert_opens_again_when_the_story_hits_a_topic_once_more(
    config: Path, smtp: Mailbox
) -> None:
    ingest(TAIPEI_TRAFFIC)
    write_topics(config, taiwan="Taiwan")
    assert apply("taiwan")["alerts_cancelled"] == 1
    write_topics(config, taiwan="Taiwan OR Taipei")
    assert apply("taiwan", "--alert")["alerts_queued"] == 1  # the reader was never told
    ((title, state, topics),) = alerts()
    assert (title, state, [name for name, _ in topics]) == (TAIPEI_TRAFFIC, "pending", ["taiwan"])
    pipeline.deliver(get_settings())
    assert len(smtp.received) == 1
    assert apply("taiwan", "--alert")["alerts_queued"] == 0


def test_an_alert_with_another_topic_left_only_loses_the_removed_one(config: Path) -> None:
    write_topics(config, taiwan="Taiwan OR Taipei", capital="Taipei")
    ingest(TAIPEI_ONLY)
    write_topics(config, taiwan="Taiwan", capital="Taipei")
    got = apply("taiwan")
    assert got["matches_removed"] == 1 and got["alerts_cancelled"] == 0
    ((title, state, topics),) = alerts()
    assert (title, state, [name for name, _ in topics]) == (TAIPEI_ONLY, "pending", ["capital"])


@pytest.mark.parametrize("sent", [False, True], ids=["unsent", "sent"])
def test_an_alert_cites_another_article_of_its_story_that_still_matches(
    config: Path, smtp: Mailbox, sent: bool
) -> None:
    ingest(METRO_TAIPEI, METRO_TAIWAN, story=True)  # the alert cites the Taipei report's match
    assert story_count() == 1
    ((_, _, [(_, cited)]),) = alerts()
    assert cited == match_of("taiwan", METRO_TAIPEI)
    if sent:
        pipeline.deliver(get_settings())
    write_topics(config, taiwan="Taiwan")
    got = apply("taiwan")
    assert got["matches_removed"] == 1 and got["alerts_cancelled"] == 0
    state = "sent" if sent else "pending"
    assert alerts() == [(METRO_TAIPEI, state, [("taiwan", match_of("taiwan", METRO_TAIWAN))])]
    pipeline.deliver(get_settings())
    assert len(smtp.received) == 1  # the story still hits taiwan: its reader is told, once


@pytest.mark.parametrize("alert", [False, True], ids=["no-alert", "alert"])
@pytest.mark.parametrize("stays", ["earlier", "later"])
def test_a_story_that_still_matches_keeps_its_alert_whatever_batch_its_match_is_in(
    config: Path, settings: Settings, smtp: Mailbox, stays: str, alert: bool
) -> None:
    # The article whose match stays goes in a batch before, or after, the one whose goes.
    write_topics(config, taiwan="Taipei")
    if stays == "earlier":
        ingest(METRO_TAIWAN, METRO_TAIPEI, story=True)
        write_topics(config, taiwan="Taiwan OR Taipei")
        apply("taiwan")  # the Taiwan report gains a match; the alert cites the Taipei one's
    else:
        ingest(METRO_TAIPEI, METRO_TAIWAN, story=True)  # the Taiwan report gains one below
    write_topics(config, taiwan="Taiwan")
    with db.transaction(db.session_factory(settings)) as session:
        store.config.sync_config(session, load_config(config))
    (rule,) = [t.rule for t in load_config(config).topics]
    factory = db.session_factory(settings)
    done = retag.apply_topic(factory, rule, NOW - timedelta(days=30), alert=alert, at=NOW, batch=1)
    assert (done.removed, done.alerts_cancelled, done.alerts_queued) == (1, 0, 0)
    assert alerts() == [(METRO_TAIPEI, "pending", [("taiwan", match_of("taiwan", METRO_TAIWAN))])]
    pipeline.deliver(get_settings())
    assert len(smtp.received) == 1


def test_an_alert_opened_again_leaves_out_a_topic_whose_match_was_removed(
    config: Path, smtp: Mailbox
) -> None:
    write_topics(config, taiwan="Taiwan OR Taipei", ports="Keelung")
    ingest(METRO_TAIPEI, story=True)
    settings = get_settings()
    with db.transaction(db.session_factory(settings)) as session:
        store.readers.unsubscribe(session, reader_key(READER), ALERTS, NOW)
    pipeline.deliver(settings)  # cancelled: the reader unsubscribed
    write_topics(config, taiwan="Taiwan", ports="Keelung")
    assert apply("taiwan")["alerts_cancelled"] == 0  # a cancelled alert keeps the topic ...
    assert alerts() == [(METRO_TAIPEI, "cancelled", [("taiwan", None)])]  # ... without a match
    with db.transaction(db.session_factory(settings)) as session:
        store.readers.resubscribe(session, reader_key(READER))
    ingest(METRO_KEELUNG, story=True)
    ports = match_of("ports", METRO_KEELUNG)
    assert alerts() == [(METRO_TAIPEI, "pending", [("ports", ports)])]
    pipeline.deliver(settings)
    assert len(smtp.received) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Details: https://news.example/okinawa-ferries today.",  # a URL path is one token
        "Tokyo/Okinawa ferry talks resumed.",  # so is a word/word pair
        "Write to press@okinawa.example for details.",  # and an e-mail address
        "Ferries were full. " * 12_000 + "Okinawa ferries stopped.",  # past what search indexes
    ],
    ids=["url", "slash", "email", "long"],
)
def test_apply_tags_what_ingestion_tags_where_full_text_search_sees_no_word(
    config: Path, text: str
) -> None:
    write_topics(config, taiwan="Taiwan OR Taipei", okinawa="Okinawa")
    as_ingested = compile_topics(t.rule for t in load_config(config).topics)
    assert match_text(OKINAWA, text, as_ingested)  # ingestion tags the article okinawa
    write_topics(config, taiwan="Taiwan OR Taipei")
    ingest(OKINAWA, texts={OKINAWA: text.replace("Okinawa", "Naha")})
    ingest(TAIWAN_ONLY)  # an article that stays as it was
    with db.transaction(db.session_factory(get_settings())) as session:  # edited in place
        article = session.scalars(select(models.Article).where(models.Article.title == OKINAWA))
        article.one().text = text
    write_topics(config, taiwan="Taiwan OR Taipei", okinawa="Okinawa")
    got = apply("okinawa")
    assert (got["articles_examined"], got["matches_added"]) == (2, 1)
    assert ("okinawa", OKINAWA) in matches()


def test_resend_refuses_a_withdrawn_alert(config: Path, smtp: Mailbox) -> None:
    ingest(TAIPEI_TRAFFIC)
    write_topics(config, taiwan="Taiwan")
    assert apply("taiwan")["alerts_cancelled"] == 1
    with db.transaction(db.session_factory(get_settings())) as session:
        alert_id = session.scalars(select(models.Alert.id)).one()
    result = CliRunner().invoke(app, ["alerts", "resend", str(alert_id)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"alert {alert_id} was withdrawn: its topics no longer match the story "
        "(the topic was edited); not sent"
    )
    as_json = CliRunner().invoke(app, ["alerts", "resend", str(alert_id), "--json"])
    assert as_json.exit_code == 2 and json.loads(as_json.output)["id"] == alert_id
    assert [(title, state) for title, state, _ in alerts()] == [(TAIPEI_TRAFFIC, "cancelled")]
    assert smtp.received == []


def test_unknown_topic_is_refused_with_the_known_ones(config: Path) -> None:
    result = CliRunner().invoke(app, ["topics", "apply", "taiwann"])
    assert result.exit_code == 2
    assert result.output.strip() == "no topic 'taiwann' in topics.yaml; known: taiwan"


def test_disabled_topic_is_refused(config: Path) -> None:
    topics = {
        "recipients": [READER],
        "topics": [{"name": "taiwan", "query": "Taiwan", "enabled": False}],
    }
    (config / "topics.yaml").write_text(yaml.safe_dump(topics))
    result = CliRunner().invoke(app, ["topics", "apply", "taiwan"])
    assert result.exit_code == 2 and "topic taiwan is disabled" in result.output
    assert "Traceback" not in result.output


def test_apply_json_summary(config: Path) -> None:
    ingest(TAIWAN_ONLY)
    got = apply("taiwan", "--since", "2w")
    assert got == {
        "topic": "taiwan",
        "since": "2026-11-11T12:00:00+00:00",
        "alert": False,
        "articles_examined": 1,
        "matches_added": 0,
        "matches_updated": 0,
        "matches_removed": 0,
        "matches_unchanged": 1,
        "alerts_queued": 0,
        "alerts_cancelled": 0,
    }


def test_articles_outside_the_window_are_left_alone(config: Path) -> None:
    ingest(TAIPEI_ONLY, days_ago=40)
    write_topics(config, taiwan="Taiwan")
    assert apply("taiwan", "--since", "30d")["matches_removed"] == 0
    assert ("taiwan", TAIPEI_ONLY) in matches()


def test_a_batch_at_a_time_gives_the_same_result(config: Path, settings: Settings) -> None:
    ingest(TAIPEI_ONLY, TAIWAN_ONLY, BOTH, OKINAWA)
    write_topics(config, taiwan="Taiwan OR Okinawa")
    with db.transaction(db.session_factory(settings)) as session:
        store.config.sync_config(session, load_config(config))
    (rule,) = [t.rule for t in load_config(config).topics]
    seen: list[tuple[int, int]] = []
    done = retag.apply_topic(
        db.session_factory(settings),
        rule,
        NOW - timedelta(days=30),
        alert=False,
        at=NOW,
        progress=lambda n, total: seen.append((n, total)),
        batch=1,
    )
    assert (done.examined, done.added, done.updated, done.removed) == (4, 1, 1, 1)
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_an_apply_cut_short_is_finished_by_the_next(config: Path, settings: Settings) -> None:
    ingest(TAIPEI_ONLY, TAIWAN_ONLY, BOTH, OKINAWA)
    write_topics(config, taiwan="Taiwan OR Okinawa")
    with db.transaction(db.session_factory(settings)) as session:
        store.config.sync_config(session, load_config(config))
    (rule,) = [t.rule for t in load_config(config).topics]

    def crash_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    since = NOW - timedelta(days=30)
    with pytest.raises(KeyboardInterrupt):
        retag.apply_topic(
            db.session_factory(settings),
            rule,
            since,
            alert=False,
            at=NOW,
            progress=crash_after_three,
            batch=1,
        )
    rest = retag.apply_topic(db.session_factory(settings), rule, since, alert=False, at=NOW)
    # The first three batches were committed (Both rewritten); the removal of Taipei only's
    # match waits for the end of the walk, which the crash cut off. What is left is done once.
    assert (rest.examined, rest.added, rest.updated, rest.removed) == (4, 1, 0, 1)
    assert set(matches()) == {("taiwan", t) for t in (TAIWAN_ONLY, BOTH, OKINAWA)}


def test_reconcile_compares_what_is_stored_with_what_is_found() -> None:
    found = {
        1: Match("t", {"a": 1}, "a", [(0, 1)], {"a": [(0, 1)]}),
        2: Match("t", {"b": 1}, "b", []),
    }
    stored = {
        1: StoredMatch(11, {"terms": {"a": 1}, "snippet": "a", "highlights": [[0, 1]], "offsets": {"a": [[0, 1]]}}),
        2: StoredMatch(12, {"terms": {"b": 2}, "snippet": "b", "highlights": [], "offsets": {}}),
        3: StoredMatch(13, {"terms": {"c": 1}, "snippet": "c", "highlights": [], "offsets": {}}),
    }  # fmt: skip
    plan = retag.reconcile(stored, found)
    assert (plan.add, [m for m, _ in plan.update], plan.remove, plan.unchanged) == (
        [],
        [12],
        [13],
        1,
    )


@pytest.fixture
def sample_day_stored(
    settings: Settings, news_day: SampleDay, smtp: Mailbox, tmp_path: Path
) -> Path:
    """The sample day stored and sent by a run the day after it; its config folder."""
    clock.freeze(datetime(2025, 12, 18, 12, 0, tzinfo=UTC))
    pipeline.run_once(get_settings())
    return tmp_path / "config"


def test_run_applies_an_edited_topic_to_the_story_window_without_alerts(
    sample_day_stored: Path, settings: Settings, smtp: Mailbox
) -> None:
    sent = len(smtp.received)
    topics = sample_day_stored / "topics.yaml"
    topics.write_text(topics.read_text().replace("query: Taiwan OR Taipei", "query: Taiwan*"))
    clock.freeze(clock.now() + timedelta(hours=25))
    summary = pipeline.run_once(get_settings())
    # The pineapple story is added; the summit story's two articles now hit the term Taiwan*.
    assert summary.counts["topics_applied"] == 1 and summary.counts["matches_retagged"] == 3
    tagged = {title: terms for (topic, title), terms in matches().items() if topic == "taiwan"}
    assert tagged == dict.fromkeys([PINEAPPLE, TAKAICHI, TAKAICHI_KYODO], {"Taiwan*": 2})
    assert len(smtp.received) == sent and stored_alerts(settings) == SAMPLE_DAY_ALERTS
    stats = CliRunner().invoke(app, ["stats", "--json"])
    assert json.loads(stats.output)["runs"][-1]["matches_retagged"] == 3


def test_run_with_unchanged_topics_retags_nothing(sample_day_stored: Path) -> None:
    clock.freeze(clock.now() + timedelta(hours=25))
    summary = pipeline.run_once(get_settings())
    assert "topics_applied" not in summary.counts and "matches_retagged" not in summary.counts


def test_topics_stored_before_stemming_are_applied_once_after_the_upgrade(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Before 0018 the stored rule had no "stemming": matches were made with Snowball stems.
    db.upgrade(empty_database_url, "0017")
    engine = create_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into topics (name, title, rule, recipients)"
                " values ('taiwan', 'Taiwan', cast(:rule as jsonb), '[]')"
            ),
            {
                "rule": json.dumps(
                    {"query": "Taiwan OR Taipei", "keywords": [], "exclude": [], "min_hits": 1}
                )
            },
        )
    engine.dispose()
    db.upgrade(empty_database_url)
    feeds = {"feeds": [{"name": "Wire", "url": "http://127.0.0.1:1/feed"}]}
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(feeds), encoding="utf-8")
    write_topics(tmp_path, taiwan="Taiwan OR Taipei")
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(tmp_path / "var"))
    settings = get_settings()
    pipeline.open_run(settings)
    assert pipeline.apply_changed_topics(settings).counts == {"topics_applied": 1}
    pipeline.open_run(settings)
    assert pipeline.apply_changed_topics(settings).counts == {}
