"""Apprise channels over real HTTP on loopback: a channel is a reader of its own, with one
message per story (however many of its topics the story hits) and the outbox guarantees of email."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Mailbox, free_port
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newswatch import models, pipeline
from newswatch.config.load import ConfigError, load_config
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings
from newswatch.store import db

HOOK_SUBSCRIBER = """
subscribers:
  - name: minerals-chat
    apprise_env: [NEWSWATCH_TEST_HOOK]
    topics: [rare-earths, us-japan-relations]
"""


@pytest.fixture
def hooked(
    news_day: SampleDay, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> HTTPServer:
    config = Path(get_settings().config_dir)
    (config / "topics.yaml").write_text((config / "topics.yaml").read_text() + HOOK_SUBSCRIBER)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("NEWSWATCH_TEST_HOOK", f"json://127.0.0.1:{httpserver.port}/hook")
    return httpserver


def posts(server: HTTPServer) -> list[dict[str, str]]:
    return [json.loads(request.get_data()) for request, _ in server.log if request.path == "/hook"]


def channel_states(settings: Settings) -> list[tuple[str, str]]:
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.scalars(
            select(models.Alert).where(models.Alert.channel != "email").order_by(models.Alert.id)
        )
        return [(a.state, a.last_error or "") for a in rows]


def channel_stories(settings: Settings) -> list[tuple[int, list[str]]]:
    """(story, topics told) of each alert row for the channel."""
    with db.transaction(db.session_factory(settings)) as session:
        rows = session.execute(
            select(models.Alert.id, models.Alert.story_id, models.Topic.name)
            .join(models.AlertTopic, models.AlertTopic.alert_id == models.Alert.id)
            .join(models.Topic, models.Topic.id == models.AlertTopic.topic_id)
            .where(models.Alert.reader == "apprise:minerals-chat")
            .order_by(models.Alert.id, models.Topic.name)
        ).all()
    told: dict[int, tuple[int, list[str]]] = {}
    for alert_id, story_id, topic in rows:
        told.setdefault(alert_id, (story_id, []))[1].append(topic)
    return list(told.values())


def test_channel_gets_each_story_of_its_topics_once(
    settings: Settings, hooked: HTTPServer, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    pipeline.deliver(get_settings())
    titles = sorted(post["title"] for post in posts(hooked))
    # The Takaichi story hits both of the channel's topics (and three it does not follow):
    # one message naming the two.
    assert titles == [
        "[newswatch] Rare earths · US–Japan relations: Japan sounds out U.S. on Takaichi visit in late March for Trump summit",
        "[newswatch] Rare earths: China tightens export controls on rare earth magnets",
    ]
    assert all("Why it matched:" in post["message"] for post in posts(hooked))
    stories = channel_stories(settings)
    assert len({story for story, _ in stories}) == len(stories) == 2  # a row per story
    assert sorted(topics for _, topics in stories) == [
        ["rare-earths"],
        ["rare-earths", "us-japan-relations"],
    ]
    assert channel_states(settings) == [("sent", ""), ("sent", "")]
    # The email reader following every topic gets one message per story, the channel aside.
    assert [e.rcpt_tos for e in smtp.received] == [["analyst@example.com"]] * 4
    pipeline.deliver(get_settings())
    assert len(posts(hooked)) == 2 and len(smtp.received) == 4  # a rerun sends nothing twice


def test_channel_still_goes_when_the_mail_server_is_down(
    settings: Settings, hooked: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    summary = pipeline.run_once(get_settings()).to_xcom()
    assert len(posts(hooked)) == 2
    assert channel_states(settings) == [("sent", ""), ("sent", "")]
    assert summary["counts"]["alerts_pending"] == 4  # the email reader's four stories wait


def test_unset_channel_variable_is_retried_with_its_reason(
    settings: Settings, hooked: HTTPServer, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSWATCH_TEST_HOOK")
    pipeline.run_once(get_settings())
    states = channel_states(settings)
    assert [s for s, _ in states] == ["pending", "pending"]
    assert all("NEWSWATCH_TEST_HOOK is not set" in reason for _, reason in states)
    assert posts(hooked) == []


def test_subscriber_needs_a_way_to_be_reached(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "feeds.yaml").write_text((repo / "config" / "feeds.yaml").read_text())
    (tmp_path / "topics.yaml").write_text(
        (repo / "config" / "topics.yaml").read_text() + "subscribers:\n  - {name: nobody}\n"
    )
    with pytest.raises(
        ConfigError, match=r"subscribers\[0\] \('nobody'\).*needs emails, apprise_env"
    ):
        load_config(tmp_path)
