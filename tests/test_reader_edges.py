"""Readers at the edges, over real SMTP and HTTP on loopback: a chat channel past the hourly cap,
a reader who left their digest, a config sync in the middle of a delivery, one mailbox written
twice, a chat channel that unsubscribes from its digest. None loses or repeats a story."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import Mailbox
from fastapi.testclient import TestClient
from helpers import T0
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from test_story_alerts import ANALYST, messages, store_copy, use_topics

from newswatch import clock, models, pipeline, store
from newswatch.config.load import load_config
from newswatch.dashboard import create_app
from newswatch.settings import Settings, get_settings
from newswatch.store import db
from newswatch.unsubscribe import digest_subscription


def states(settings: Settings) -> Counter[tuple[str, str]]:
    with db.read(settings) as session:
        rows = session.execute(select(models.Alert.reader, models.Alert.state))
        return Counter((reader, state) for reader, state in rows)


def flood(settings: Settings, count: int) -> None:
    """`count` distinct stories, each hitting 'taiwan'."""
    for n in range(count):
        words = " ".join(f"word{n}x{i}" for i in range(60))
        store_copy(settings, n, ["taiwan"], T0, text=f"Story number {n}: {words}")


def hook_posts(server: HTTPServer) -> list[dict[str, str]]:
    return [json.loads(request.get_data()) for request, _ in server.log if request.path == "/hook"]


def test_a_chat_channel_past_the_cap_gets_the_rest_in_one_more_stories_post(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("NEWSWATCH_TEST_HOOK", f"json://127.0.0.1:{httpserver.port}/hook")
    monkeypatch.setenv("NEWSWATCH_MAX_ALERTS_PER_HOUR", "2")
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", "smtp://127.0.0.1:9")  # email waits; chat goes
    extra = "subscribers:\n  - name: chat\n    apprise_env: [NEWSWATCH_TEST_HOOK]\n    topics: [taiwan]\n"
    settings = use_topics(settings, tmp_path, extra, monkeypatch)
    clock.freeze(T0)
    flood(settings, 5)
    pipeline.deliver(settings)
    pipeline.deliver(settings)
    titles = [post["title"] for post in hook_posts(httpserver)]
    assert len(titles) == 3 and titles[2].startswith("[newswatch] 3 more stories")
    assert states(settings)["apprise:chat", "digested"] == 3


def test_a_reader_who_left_their_digest_gets_held_stories_in_a_more_stories_message(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = f"subscribers:\n  - name: morning\n    emails: [{ANALYST}]\n    mode: digest\n"
    settings = use_topics(settings, tmp_path, extra, monkeypatch)
    monkeypatch.setenv("NEWSWATCH_MAX_ALERTS_PER_HOUR", "2")
    settings = get_settings()
    clock.freeze(T0)
    with db.transaction(db.session_factory(settings)) as session:
        store.readers.unsubscribe(session, f"email:{ANALYST}", digest_subscription("morning"), T0)
    flood(settings, 4)
    pipeline.deliver(settings)
    subjects = [str(msg["Subject"]) for _, msg in messages(smtp)]
    assert len(subjects) == 3 and subjects[2].startswith("[newswatch] 2 more stories")
    assert states(settings) == {
        (f"email:{ANALYST}", "sent"): 2,
        (f"email:{ANALYST}", "digested"): 2,
    }


def test_a_config_sync_during_a_delivery_cancels_nobody(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = use_topics(settings, tmp_path, "", monkeypatch)
    clock.freeze(T0)
    flood(settings, 3)
    syncing = db.session_factory(settings)()
    syncing.begin()
    store.config.sync_readers(syncing, load_config(settings.config_dir))  # not yet committed
    sender = threading.Thread(target=pipeline.deliver, args=(settings,))
    sender.start()
    sender.join(timeout=2)  # the sender waits for the reader's row
    syncing.commit()
    syncing.close()
    sender.join()
    assert states(settings) == {(f"email:{ANALYST}", "sent"): 3}
    assert len(messages(smtp)) == 3


def test_one_mailbox_written_in_two_cases_gets_one_digest(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = (
        "subscribers:\n  - name: morning\n    emails: [Desk@Example.com, desk@example.com]\n"
        "    mode: digest\n    send_empty: true\n"
    )
    settings = use_topics(settings, tmp_path, extra, monkeypatch)
    clock.freeze(T0)
    pipeline.plan_digests(settings)
    pipeline.send_digests(settings)
    assert [rcpt for rcpt, _ in messages(smtp)] == ["desk@example.com"]
    with db.read(settings) as session:
        reader = session.get_one(models.Reader, "email:desk@example.com")
        assert reader.digests == ["morning"]


def test_a_chat_channel_that_unsubscribes_from_its_digest_gets_no_more(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("NEWSWATCH_TEST_HOOK", f"json://127.0.0.1:{httpserver.port}/hook")
    monkeypatch.setenv("NEWSWATCH_PUBLIC_URL", "https://news.example/newswatch")
    extra = (
        "subscribers:\n  - name: dchat\n    apprise_env: [NEWSWATCH_TEST_HOOK]\n"
        "    mode: digest\n    send_empty: true\n"
    )
    settings = use_topics(settings, tmp_path, extra, monkeypatch)
    clock.freeze(T0)
    pipeline.plan_digests(settings)
    pipeline.send_digests(settings)
    (post,) = hook_posts(httpserver)
    link = re.search(r"https://news\.example/newswatch/unsubscribe\?(\S+)", post["message"])
    assert link is not None
    with TestClient(create_app()) as client:
        answer = client.post(f"/unsubscribe?{link[1]}", content=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 200
    clock.freeze(T0 + timedelta(days=1))
    pipeline.plan_digests(get_settings())
    pipeline.send_digests(get_settings())
    assert len(hook_posts(httpserver)) == 1
