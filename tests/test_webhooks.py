"""Signed JSON webhooks over real HTTP on loopback: a receiver that checks every signature with
the helper we document gets one POST per story per subscriber, in the documented shape, with
the outbox's retries, refusals and idempotency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import email_views
import pytest
from conftest import free_port
from helpers import T0, seed_alerts
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from newswatch import clock, models, pipeline
from newswatch.config.load import ConfigError, load_config
from newswatch.delivery.messages.webhook import alert_event, body_bytes, digest_event
from newswatch.delivery.webhooks import signature, verify_signature
from newswatch.records import AlertView, Outlet, TopicHit
from newswatch.settings import Settings, get_settings
from newswatch.store import db

SECRET = "s" * 20 + "-test-signing-secret"  # 40 characters
URL_ENV = "NEWSWATCH_TEST_WEBHOOK"
OTHER_ENV = "NEWSWATCH_TEST_WEBHOOK_OTHER"
SUBSCRIBERS = f"""
subscribers:
  - name: taiwan-bot
    webhook_env: {URL_ENV}
    topics: [taiwan]
  - name: desk-bot
    webhook_env: {OTHER_ENV}
    topics: [taiwan, tariffs]
"""


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    title: str
    terms: dict[str, int]
    snippet: str
    highlights: list[list[int]]


class OutletBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    url: str | None


class Story(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: int
    title: str
    url: str | None
    first_seen: str
    published_at: str | None
    text_source: str
    outlets: list[OutletBody]
    topics: list[Topic]
    snippet: str


class AlertBody(BaseModel):
    """The documented body of an alert (README, Webhooks), version 1: nothing more, nothing less."""

    model_config = ConfigDict(extra="forbid", strict=True)
    version: Literal[1]
    event: Literal["alert", "update"]
    idempotency_key: str
    sent_at: str
    subscriber: str
    follows: str | None = None  # an update's: the key of the alert it follows
    story: Story


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    start: str
    end: str


class DigestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: Literal[1]
    event: Literal["digest"]
    idempotency_key: str
    sent_at: str
    subscriber: str
    overflow: bool
    period: Period
    stories: list[Story]


@dataclass
class Receiver:
    """A webhook receiver on loopback: it checks each signature with verify_signature against
    newswatch's clock (frozen or not), records what it accepted, and answers each path's
    `answers` in turn (then 200)."""

    server: HTTPServer
    answers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    got: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    forged: int = 0

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        if not verify_signature(
            SECRET,
            request.headers.get("X-Newswatch-Timestamp", ""),
            body,
            request.headers.get("X-Newswatch-Signature", ""),
            now=clock.now().timestamp(),
        ):
            self.forged += 1
            return Response("bad signature", status=401)
        waiting = self.answers.get(request.path)
        status, text = waiting.pop(0) if waiting else (200, "ok")
        if status == 200:
            self.got.append((request.path, dict(request.headers), json.loads(body)))
        return Response(text, status=status, headers={"Location": "/elsewhere"})

    def bodies(self, path: str = "/hook") -> list[dict[str, Any]]:
        return [body for where, _, body in self.got if where == path]


@pytest.fixture
def receiver(
    settings: Settings, httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Receiver]:
    """The repository's topics with two webhook subscribers, each to its own path of one
    receiver, and their secrets in the environment."""
    hooked = Receiver(httpserver)
    for path in ("/hook", "/other"):
        httpserver.expect_request(path, method="POST").respond_with_handler(hooked.handle)
    use_config(tmp_path, SUBSCRIBERS, monkeypatch)
    monkeypatch.setenv(URL_ENV, hooked.url("/hook"))
    monkeypatch.setenv(OTHER_ENV, hooked.url("/other"))
    monkeypatch.setenv(f"{URL_ENV}_SECRET", SECRET)
    monkeypatch.setenv(f"{OTHER_ENV}_SECRET", SECRET)
    yield hooked
    assert hooked.forged == 0


def use_config(tmp_path: Path, extra: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = Path(__file__).resolve().parents[1] / "config"
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "feeds.yaml").write_text((repo / "feeds.yaml").read_text())
    (config / "topics.yaml").write_text((repo / "topics.yaml").read_text() + extra)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    return config


def hook_rows(settings: Settings, reader: str = "webhook:taiwan-bot") -> list[models.Alert]:
    with db.transaction(db.session_factory(settings)) as session:
        rows = list(
            session.scalars(
                select(models.Alert).where(models.Alert.reader == reader).order_by(models.Alert.id)
            )
        )
        session.expunge_all()
    return rows


def test_each_story_is_one_signed_post_per_subscriber_and_a_rerun_sends_nothing_twice(
    settings: Settings, receiver: Receiver
) -> None:
    seed_alerts(get_settings(), "Taiwan coast guard drills", "Taiwan chip exports rise")
    pipeline.deliver(get_settings())
    pipeline.deliver(get_settings())
    for path, subscriber in (("/hook", "taiwan-bot"), ("/other", "desk-bot")):
        bodies = [AlertBody.model_validate(body) for body in receiver.bodies(path)]
        assert sorted(b.story.title for b in bodies) == [
            "Taiwan chip exports rise",
            "Taiwan coast guard drills",
        ]
        assert {b.subscriber for b in bodies} == {subscriber}
        assert {b.event for b in bodies} == {"alert"}
        assert len({b.idempotency_key for b in bodies}) == 2
        for body in bodies:
            (topic,) = body.story.topics
            assert (topic.name, topic.title, topic.terms) == ("taiwan", "Taiwan", {"Taiwan": 1})
            assert body.story.snippet == "about Taiwan."
            assert body.story.url and body.story.url.startswith("https://news.example/")
    rows = hook_rows(settings)
    assert [(row.state, row.attempts, row.delivered_to) for row in rows] == [
        ("sent", 1, "webhook:taiwan-bot")
    ] * 2
    # The idempotency key is the row's Message-ID: a resend after a crash carries the same.
    keys = {f"<{body['idempotency_key']}>" for body in receiver.bodies("/hook")}
    assert keys == {row.message_id for row in rows}
    for _, headers, got in receiver.got:
        assert headers["Content-Type"] == "application/json"
        assert headers["Idempotency-Key"] == got["idempotency_key"]
        assert headers["User-Agent"] == get_settings().user_agent
        assert headers["X-Newswatch-Signature"].startswith("sha256=")


def test_a_receiver_failing_twice_gets_the_story_after_backoff_with_the_same_key(
    settings: Settings, receiver: Receiver
) -> None:
    clock.freeze(T0)
    seed_alerts(get_settings(), "Taiwan coast guard drills")
    receiver.answers["/hook"] = [(500, "down"), (503, "still down")]
    pipeline.deliver(get_settings())
    (row,) = hook_rows(settings)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error == f"ChannelError: webhook:taiwan-bot: {URL_ENV} answered HTTP 500: down"
    pipeline.deliver(get_settings())  # not due yet: nothing is posted
    assert receiver.answers["/hook"] == [(503, "still down")]
    clock.freeze(T0 + timedelta(minutes=3))  # the first backoff is 2 minutes
    pipeline.deliver(get_settings())
    assert [(r.state, r.attempts) for r in hook_rows(settings)] == [("pending", 2)]
    clock.freeze(T0 + timedelta(minutes=8))  # the second, 4
    pipeline.deliver(get_settings())
    (row,) = hook_rows(settings)
    assert (row.state, row.attempts, row.last_error) == ("sent", 3, None)
    (sent,) = receiver.bodies()
    assert sent["sent_at"] == (T0 + timedelta(minutes=8)).isoformat()
    assert f"<{sent['idempotency_key']}>" == row.message_id


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [
        (400, "failed", "answered HTTP 400: unknown subscriber"),
        (410, "failed", "answered HTTP 410: unknown subscriber"),
        (302, "failed", "answered HTTP 302 (a redirect, not followed"),
        (429, "pending", "answered HTTP 429: unknown subscriber"),
        (408, "pending", "answered HTTP 408: unknown subscriber"),
    ],
)
def test_a_refusal_fails_the_row_at_once_and_a_busy_receiver_is_retried(
    settings: Settings, receiver: Receiver, status: int, state: str, reason: str
) -> None:
    seed_alerts(get_settings(), "Taiwan coast guard drills")
    receiver.answers["/hook"] = [(status, "unknown subscriber")]
    report = pipeline.deliver(get_settings())
    (row,) = hook_rows(settings)
    assert (row.state, row.attempts) == (state, 1)
    assert row.last_error and reason in row.last_error
    assert receiver.url("/hook") not in row.last_error and SECRET not in row.last_error
    if state == "failed":
        assert any(reason in error for error in report.errors)


def test_unset_url_or_a_short_secret_keeps_the_row_waiting_with_the_reason(
    settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.freeze(T0)
    seed_alerts(get_settings(), "Taiwan coast guard drills")
    monkeypatch.delenv(URL_ENV)
    report = pipeline.deliver(get_settings())
    # The run says why the post waits, not only a later `alerts --json`.
    assert any(f"{URL_ENV} is not set" in error for error in report.errors)
    (row,) = hook_rows(settings)
    assert (row.state, row.last_error) == (
        "pending",
        f"ChannelError: webhook:taiwan-bot: environment variable {URL_ENV} is not set",
    )
    monkeypatch.setenv(URL_ENV, receiver.url("/hook"))
    monkeypatch.setenv(f"{URL_ENV}_SECRET", "too-short")
    clock.freeze(T0 + timedelta(minutes=3))
    pipeline.deliver(get_settings())
    (row,) = hook_rows(settings)
    assert row.state == "pending"
    assert row.last_error == (
        f"ChannelError: webhook:taiwan-bot: environment variable {URL_ENV}_SECRET (the signing "
        "secret) "
        "is shorter than 32 characters"
    )
    assert receiver.bodies("/hook") == [] and len(receiver.bodies("/other")) == 1


def test_a_malformed_url_holds_back_only_its_own_rows(
    settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One bad variable must not stop the other subscriber's posts, nor the run."""
    clock.freeze(T0)
    monkeypatch.setenv(URL_ENV, "http://[::1")
    seed_alerts(get_settings(), "Taiwan coast guard drills", "Taiwan chip exports rise")
    pipeline.deliver(get_settings())
    rows = hook_rows(settings)
    assert [row.state for row in rows] == ["pending", "pending"]
    assert rows[0].last_error == (
        f"ChannelError: webhook:taiwan-bot: {URL_ENV} does not hold an http(s) URL"
    )
    assert len(receiver.bodies("/other")) == 2


def test_an_unreachable_receiver_fails_after_max_attempts_without_its_url_in_the_reason(
    settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "2")
    url = f"http://127.0.0.1:{free_port()}/token-in-the-path"
    monkeypatch.setenv(URL_ENV, url)
    clock.freeze(T0)
    seed_alerts(get_settings(), "Taiwan coast guard drills")
    pipeline.deliver(get_settings())
    clock.freeze(T0 + timedelta(minutes=3))
    report = pipeline.deliver(get_settings())
    (row,) = hook_rows(settings)
    assert (row.state, row.attempts) == ("failed", 2)
    assert row.last_error and f"POST to {URL_ENV} failed: ConnectError" in row.last_error
    assert "token-in-the-path" not in " ".join([row.last_error, *report.errors])


def test_a_loopback_receiver_needs_allow_hosts(
    settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "")
    seed_alerts(get_settings(), "Taiwan coast guard drills")
    pipeline.deliver(get_settings())
    (row,) = hook_rows(settings)
    assert row.state == "pending"
    assert row.last_error and "allow it with NEWSWATCH_ALLOW_HOSTS" in row.last_error
    assert receiver.got == []


def test_a_digest_subscriber_gets_one_post_listing_the_days_stories(
    settings: Settings, httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooked = Receiver(httpserver)
    httpserver.expect_request("/digest", method="POST").respond_with_handler(hooked.handle)
    use_config(
        tmp_path,
        f"subscribers:\n  - {{name: morning-bot, webhook_env: {URL_ENV}, mode: digest}}\n",
        monkeypatch,
    )
    monkeypatch.setenv(URL_ENV, hooked.url("/digest"))
    monkeypatch.setenv(f"{URL_ENV}_SECRET", SECRET)
    clock.freeze(T0 + timedelta(hours=1))
    seed_alerts(get_settings(), "Taiwan coast guard drills", "Taiwan chip exports rise")
    clock.freeze(T0 + timedelta(hours=20))
    pipeline.plan_digests(get_settings())
    pipeline.send_digests(get_settings())
    pipeline.send_digests(get_settings())
    (body,) = [DigestBody.model_validate(b) for b in hooked.bodies("/digest")]
    assert (body.subscriber, body.overflow) == ("morning-bot", False)
    assert sorted(s.title for s in body.stories) == [
        "Taiwan chip exports rise",
        "Taiwan coast guard drills",
    ]
    assert body.period.end == (T0 + timedelta(hours=20)).isoformat()
    assert hooked.forged == 0


def test_webhook_env_is_a_variable_name_and_reaches_a_subscriber_alone(tmp_path: Path) -> None:
    alone = "subscribers:\n  - {name: bot, webhook_env: HOOK_URL}\n"
    config = load_config(use_config_dir(tmp_path / "ok", alone))
    assert config.channel_env() == {"webhook:bot": ["HOOK_URL"]}
    assert [r.key for r in config.readers() if r.channel != "email"] == ["webhook:bot"]
    bad = "subscribers:\n  - {name: bot, webhook_env: 'https://hooks.example/x'}\n"
    with pytest.raises(ConfigError, match="webhook_env.*is not an environment variable name"):
        load_config(use_config_dir(tmp_path / "bad", bad))
    nothing = "subscribers:\n  - {name: bot, webhook_env: null}\n"
    with pytest.raises(ConfigError, match="needs emails, apprise_env or webhook_env"):
        load_config(use_config_dir(tmp_path / "none", nothing))


def use_config_dir(folder: Path, extra: str) -> Path:
    repo = Path(__file__).resolve().parents[1] / "config"
    folder.mkdir()
    (folder / "feeds.yaml").write_text((repo / "feeds.yaml").read_text())
    (folder / "topics.yaml").write_text((repo / "topics.yaml").read_text() + extra)
    return folder


NOW = 1_790_000_000
BODY = b'{"version":1}'


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "header", "now"),
    [
        ("another secret of at least 32 chars", str(NOW), BODY, None, NOW),  # wrong secret
        (SECRET, str(NOW), b'{"version":2}', None, NOW),  # tampered body
        (SECRET, str(NOW - 301), BODY, None, NOW),  # stale: a replay
        (SECRET, str(NOW + 301), BODY, None, NOW),  # from the future
        (SECRET, str(NOW), BODY, "sha1=" + "0" * 40, NOW),
        (SECRET, str(NOW), BODY, "", NOW),
        (SECRET, str(NOW), BODY, "sha256=é", NOW),
        (SECRET, f"{NOW}.0", BODY, None, NOW),  # the timestamp is whole seconds
        (SECRET, " ", BODY, None, NOW),
    ],
)
def test_verify_signature_refuses_what_we_did_not_sign_just_now(
    secret: str, timestamp: str, body: bytes, header: str | None, now: int
) -> None:
    signed = signature(SECRET, timestamp, BODY) if header is None else header
    assert verify_signature(secret, timestamp, body, signed, now) is False
    assert verify_signature(SECRET, str(NOW), BODY, signature(SECRET, str(NOW), BODY), now + 300)


def story(title: str, snippet: str) -> AlertView:
    """An update whose title, outlet name, term and snippet are the given text."""
    hit = TopicHit("taiwan", "Taiwan", {title[:20]: 1}, snippet, [(0, min(6, len(snippet)))])
    return email_views.alert(
        "update", title=title, url="javascript:alert(1)", topics=[hit], outlets=[Outlet(title, "")]
    )


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=5000)


@hypothesis_settings(max_examples=150, deadline=None)
@given(title=TEXT, snippet=TEXT)
def test_any_title_or_snippet_gives_json_whose_signature_verifies(title: str, snippet: str) -> None:
    event = alert_event(story(title, snippet), "newswatch <newswatch@localhost>", T0)
    body = body_bytes(event)
    parsed = AlertBody.model_validate(json.loads(body.decode("utf-8")))
    assert (parsed.story.title, parsed.story.snippet, parsed.story.url) == (title, snippet, None)
    assert parsed.story.outlets == [OutletBody(name=title, url=None)]
    assert event["follows"].startswith("alert.")
    timestamp = str(int(T0.timestamp()))
    header = signature(SECRET, timestamp, body)
    assert verify_signature(SECRET, timestamp, body, header, T0.timestamp())


def test_an_overflow_digest_lists_its_stories_in_the_email_order() -> None:
    view = replace(email_views.sample_digest(), overflow=True)
    event = digest_event(view, email_views.SENDER, email_views.NOW)
    parsed = DigestBody.model_validate(json.loads(body_bytes(event)))
    assert parsed.overflow and parsed.event == "digest"
    assert [s.title for s in parsed.stories] == [s.title for s in view.stories]
    assert parsed.idempotency_key.startswith("overflow.")


def test_the_readmes_receiver_snippet_agrees_with_verify_signature() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Webhooks", 1)[1].split("\n### ", 1)[0]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # noqa: S102 (our own README)
    timestamp = str(NOW)
    good = signature(SECRET, timestamp, BODY)
    for args in [
        (SECRET, timestamp, BODY, good, NOW),
        (SECRET, timestamp, BODY, good, NOW + 301),
        (SECRET, timestamp, BODY + b" ", good, NOW),
        (SECRET, timestamp, BODY, "sha256=é", NOW),
        (SECRET, "12.5", BODY, good, NOW),
    ]:
        assert scope["verify_signature"](*args) is verify_signature(*args)
