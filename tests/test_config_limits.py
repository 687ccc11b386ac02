"""Whatever the config files accept, the store accepts: limits, characters, repeated keys."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from pytest_httpserver import HTTPServer
from sqlalchemy import select, text
from typer.testing import CliRunner

from newswatch import models, store
from newswatch.cli.main import app
from newswatch.config.edit import edit_feeds
from newswatch.config.load import ConfigError, load_config
from newswatch.config.models import (
    APPRISE_CHANNEL_PREFIX,
    FEED_URL_BYTES,
    FeedConfig,
    FeedsFile,
    SubscriberConfig,
    TopicConfig,
    TopicsFile,
)
from newswatch.settings import Settings
from newswatch.store import db

TOPICS = """\
recipients: [desk@example.com]
topics:
  - name: taiwan
    keywords: [Taiwan]
"""
FEEDS = """\
# the feeds we poll
feeds:
  - name: AloJapan
    url: https://alojapan.com/feed/
"""

# Every string field of the config models, by where it ends up in the store. A bounded column
# gives its limit; a new field fails test_every_config_string_field_is_classified until listed.
BOUNDED = {
    (FeedConfig, "name"): [("feeds", "name")],
    (TopicConfig, "name"): [("topics", "name")],
    # digests.subscriber, and "apprise:<name>" or "webhook:<name>" in digests.channel and
    # alerts.channel
    (SubscriberConfig, "name"): [
        ("digests", "subscriber"),
        ("digests", "channel"),
        ("alerts", "channel"),
    ],
}
UNBOUNDED = {  # Text or JSONB columns, or never stored
    (FeedConfig, "url"),  # Text, but unique-indexed: FEED_URL_BYTES, tested below
    (TopicConfig, "title"),
    (TopicConfig, "description"),
    (TopicConfig, "query"),
    (TopicConfig, "keywords"),
    (TopicConfig, "exclude"),
    (TopicConfig, "recipients"),
    (TopicsFile, "recipients"),
    (SubscriberConfig, "emails"),
    (SubscriberConfig, "apprise_env"),
    (SubscriberConfig, "webhook_env"),  # a variable name, kept in recipients (JSONB)
    (SubscriberConfig, "topics"),
    (SubscriberConfig, "mode"),
    (TopicConfig, "stemming"),  # a Literal: one of three short words
    (SubscriberConfig, "timezone"),  # one of zoneinfo's names, all shorter than readers.timezone
}


def write(folder: Path, feeds: str = FEEDS, topics: str = TOPICS) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "feeds.yaml").write_text(feeds)
    (folder / "topics.yaml").write_text(topics)
    return folder


def _config_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for field in model.model_fields.values():
        for arg in typing.get_args(field.annotation) or (field.annotation,):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found |= _config_models(arg)
    return found


def _max_length(model: type[BaseModel], name: str) -> int | None:
    metadata = model.model_fields[name].metadata
    return next((m.max_length for m in metadata if hasattr(m, "max_length")), None)


def _holds_text(model: type[BaseModel], name: str) -> bool:
    """The field is, or holds, strings (EmailStr and Literal too), by its JSON schema."""
    schema = model.model_json_schema()["properties"][name]
    return '"string"' in json.dumps(schema)


def test_every_config_string_field_is_classified() -> None:
    fields = {
        (model, name)
        for model in _config_models(FeedsFile) | _config_models(TopicsFile)
        for name in model.model_fields
        if _holds_text(model, name)
    }
    assert fields == set(BOUNDED) | UNBOUNDED


def test_every_bounded_field_has_the_migrated_column_limit(database_url: str) -> None:
    """The limit read from the migrated database, not from models.py, so neither can drift."""
    with db.get_engine(database_url).connect() as conn:
        sizes = {
            (table, column): size
            for table, column, size in conn.execute(
                text(
                    "select table_name, column_name, character_maximum_length "
                    "from information_schema.columns where table_schema = 'public'"
                )
            )
        }
    for (model, name), columns in BOUNDED.items():
        room = [
            sizes[column] - (len(APPRISE_CHANNEL_PREFIX) if column[1] == "channel" else 0)
            for column in columns
        ]
        assert _max_length(model, name) == min(room), (model.__name__, name)  # type: ignore[arg-type]


def test_names_at_the_limit_are_stored_and_one_more_is_refused_before_any_work(
    settings: Settings, tmp_path: Path
) -> None:
    feed_name, topic_name = "F" * 200, "t" * 100
    subscriber = "s" * (200 - len(APPRISE_CHANNEL_PREFIX))
    url = "https://example.com/" + "u" * (FEED_URL_BYTES - len("https://example.com/"))
    topics = TOPICS.replace("name: taiwan", f"name: {topic_name}") + (
        f"subscribers:\n  - {{name: {subscriber}, emails: [a@example.com], "
        "apprise_env: [SLACK_URL], webhook_env: HOOK_URL, mode: digest}\n"
    )
    feeds = f"feeds:\n  - name: {feed_name}\n    url: {url}\n"
    config = load_config(write(tmp_path / "ok", feeds, topics))
    factory = db.session_factory(settings)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with db.transaction(factory) as session:
        store.config.sync_config(session, config)
        queued = store.outbox.plan_digest(
            session, config.subscribers[0], now - timedelta(days=1), now, now
        )
    assert queued == 3  # the email row and the 200-character "apprise:…" and "webhook:…" rows
    with db.transaction(factory) as session:
        assert session.scalar(select(models.Feed.name)) == feed_name
        assert session.scalar(select(models.Topic.name)) == topic_name

    longer = [
        (feeds.replace(feed_name, feed_name + "F"), topics, "feeds[0]", "name", "200"),
        (feeds.replace(url, url + "u"), topics, "feeds[0]", "url", f"{FEED_URL_BYTES} bytes"),
        (feeds, topics.replace(topic_name, topic_name + "t"), "topics[0]", "name", "100"),
        (feeds, topics.replace(subscriber, subscriber + "s"), "subscribers[0]", "name", "192"),
    ]
    for bad_feeds, bad_topics, entry, field, limit in longer:
        with pytest.raises(ConfigError) as error:
            load_config(write(tmp_path / "bad", bad_feeds, bad_topics))
        message = str(error.value)
        assert f"{entry} (" in message and f"field '{field}'" in message and limit in message
        assert len(message) < 400  # the over-long value is not echoed in full


def test_topics_check_refuses_an_over_long_subscriber_without_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    topics = TOPICS + f"subscribers:\n  - {{name: {'s' * 193}, emails: [a@example.com]}}\n"
    result = CliRunner().invoke(
        app, ["topics", "check", "--config", str(write(tmp_path, topics=topics))]
    )
    assert result.exit_code == 2
    assert "subscribers[0]" in result.output and "at most 192 characters" in result.output


def test_feeds_add_refuses_a_long_name_before_fetching_or_writing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    folder = write(tmp_path / "cfg")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    before = (folder / "feeds.yaml").read_bytes()
    result = CliRunner().invoke(
        app, ["feeds", "add", httpserver.url_for("/rss"), "--name", "N" * 201]
    )
    assert result.exit_code == 2
    assert "field 'name'" in result.output and "at most 200 characters" in result.output
    assert (folder / "feeds.yaml").read_bytes() == before
    assert httpserver.log == []  # refused before any request


def test_feeds_add_cuts_a_hostile_feed_title_to_a_clean_name(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    folder = write(tmp_path / "cfg")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    title = "Evil&#x7f;[31m\n\t" + "T" * 400  # DEL, a line break, a tab, and too long
    httpserver.expect_request("/rss").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title></channel></rss>',
        content_type="application/rss+xml",
    )
    result = CliRunner().invoke(app, ["feeds", "add", httpserver.url_for("/rss")])
    assert result.exit_code == 0, result.output
    name = yaml.safe_load((folder / "feeds.yaml").read_text())["feeds"][1]["name"]
    assert len(name) == 200 and name.isprintable() and name.startswith("Evil")
    load_config(folder)


def test_edit_that_would_be_invalid_leaves_the_file_untouched(tmp_path: Path) -> None:
    folder = write(tmp_path)
    before = (folder / "feeds.yaml").read_bytes()

    def append(entries: list[dict[str, object]]) -> None:
        entries.append({"name": "x" * 201, "url": "https://example.com/rss"})

    with pytest.raises(ConfigError, match=r"feeds\[1\].*field 'name'"):
        edit_feeds(folder, append)
    assert (folder / "feeds.yaml").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["feeds.yaml", "topics.yaml"]


@pytest.mark.parametrize(
    ("topics", "line", "first", "key"),
    [
        (TOPICS + "recipients: [other@example.com]\n", 5, 1, "recipients"),  # top level
        (TOPICS + "    keywords: [Taipei]\n", 5, 4, "keywords"),  # in a list entry
        (TOPICS + "subscribers:\n  - {name: a, emails: [a@b.co], name: b}\n", 6, 6, "name"),
    ],
)
def test_a_repeated_key_names_file_and_line(
    tmp_path: Path, topics: str, line: int, first: int, key: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, topics=topics))
    assert str(error.value) == (
        f"{tmp_path / 'topics.yaml'}: line {line}: key '{key}' repeats the one on line {first} "
        "of the same mapping: expected each key once"
    )


def test_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    topics = (
        "recipients: [desk@example.com]\n"
        "topics:\n"
        "  - &taiwan {name: taiwan, keywords: [Taiwan], min_hits: 1}\n"
        "  - {<<: *taiwan, name: taipei, min_hits: 2}\n"
    )
    loaded = load_config(write(tmp_path, topics=topics))
    assert [(t.name, t.min_hits) for t in loaded.topics] == [("taiwan", 1), ("taipei", 2)]


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ('    keywords: ["Tai\\0wan"]\n', "keywords"),
        ('    title: "Taiwan\\nBcc: victim@example.com"\n', "title"),
        ('    recipients: ["desk\\u0007@example.com"]\n', "recipients"),
        ('    description: "lone \\ud800 surrogate"\n', "description"),
    ],
)
def test_control_characters_are_refused_with_the_field(
    tmp_path: Path, snippet: str, field: str
) -> None:
    topics = TOPICS.replace("    keywords: [Taiwan]\n", "    keywords: [Taiwan]\n" + snippet)
    if field == "keywords":
        topics = TOPICS.replace("    keywords: [Taiwan]\n", snippet)
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, topics=topics))
    message = str(error.value)
    assert f"topics[0] ('taiwan'): field '{field}" in message
    assert "control character U+" in message


def test_a_description_may_span_lines(tmp_path: Path) -> None:
    topics = TOPICS + "    description: |\n      Taiwan,\n      \tits politics.\n"
    assert load_config(write(tmp_path, topics=topics)).topics[0].description.count("\n") == 2


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: (d / "feeds.yaml").mkdir(), "feeds.yaml: is a directory"),
        (lambda d: (d / "feeds.yaml").write_bytes(b"feeds: [\xff]\n"), "feeds.yaml: not UTF-8"),
        (lambda d: (d / "feeds.yaml").write_text("feeds: " + "[" * 5000), "nested too deeply"),
        (lambda d: (d / "feeds.yaml").write_text("feeds: [\n"), "feeds.yaml: not valid YAML: line"),
    ],
)
def test_unreadable_files_are_one_clear_error(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "topics.yaml").write_text(TOPICS)
    make(tmp_path)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_config_folder_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="feeds.yaml: cannot read"):
        load_config(tmp_path / "file")


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """700 bytes that expand to 10**9 keywords: refused before validation walks them."""
    lines = ['x0: &x0 ["a", "a", "a", "a", "a", "a", "a", "a", "a", "a"]']
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]" for i in range(1, 9)]
    topics = (
        "\n".join(lines) + "\nrecipients: [desk@example.com]\ntopics: [{name: t, keywords: *x8}]\n"
    )
    with pytest.raises(ConfigError, match="YAML alias bomb"):
        load_config(write(tmp_path, topics=topics))


def test_a_direction_override_in_a_name_is_refused(tmp_path: Path) -> None:
    topics = TOPICS + '    title: "Taiwan \\u202egnp.exe"\n'
    with pytest.raises(ConfigError, match="bidirectional control U\\+202E"):
        load_config(write(tmp_path, topics=topics))


def test_aliases_of_a_huge_string_are_refused_at_once(tmp_path: Path) -> None:
    big = "taiwan " * 150_000  # 1 MB, named once and repeated by alias
    topics = (
        "recipients: [desk@example.com]\ntopics:\n  - name: t\n"
        f'    keywords: [&big "{big}", ' + ", ".join(["*big"] * 20) + "]\n"
    )
    with pytest.raises(ConfigError, match="YAML alias bomb"):
        load_config(write(tmp_path, topics=topics))


def test_keywords_have_the_limits_of_a_query(tmp_path: Path) -> None:
    many = TOPICS.replace(
        "keywords: [Taiwan]", "keywords: [" + ", ".join(f"k{i}" for i in range(1001)) + "]"
    )
    with pytest.raises(ConfigError, match="more than 1000 terms"):
        load_config(write(tmp_path, topics=many))
    long = TOPICS.replace("keywords: [Taiwan]", f"keywords: [{'x' * 501}]")
    with pytest.raises(ConfigError, match="longer than 500 characters"):
        load_config(write(tmp_path, topics=long))


def test_one_mailbox_written_two_ways_gets_one_copy(tmp_path: Path) -> None:
    topics = (
        "recipients: [Desk@Example.com, desk@example.com]\ntopics:\n  - name: taiwan\n"
        "    keywords: [Taiwan]\nsubscribers:\n  - name: ann\n    emails: [DESK@example.COM]\n"
    )
    config = load_config(write(tmp_path, topics=topics))
    assert config.recipients_for(config.topics[0]) == ["Desk@example.com"]
