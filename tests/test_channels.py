"""Apprise channels over real HTTP on loopback: same outbox guarantees as email."""

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
    topics: [rare-earths]
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


def test_channel_gets_each_story_of_its_topic_once(
    settings: Settings, hooked: HTTPServer, smtp: Mailbox
) -> None:
    pipeline.run_once(get_settings())
    pipeline.deliver(get_settings())
    titles = sorted(post["title"] for post in posts(hooked))
    assert titles == [
        "[newswatch] Rare earths: China tightens export controls on rare earth magnets",
        "[newswatch] Rare earths: Japan sounds out U.S. on Takaichi visit in late March for Trump summit",
    ]
    assert all("Matched:" in post["message"] for post in posts(hooked))
    assert channel_states(settings) == [("sent", ""), ("sent", "")]
    assert len(smtp.received) == 8  # email alerts unchanged


def test_channel_still_goes_when_the_mail_server_is_down(
    settings: Settings, hooked: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    summary = pipeline.run_once(get_settings()).to_xcom()
    assert len(posts(hooked)) == 2
    assert summary["counts"]["alerts_pending"] == 8


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
