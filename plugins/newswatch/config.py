"""feeds.yaml and topics.yaml: validated models, and one clear error naming file, entry and field."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from newswatch.query import parse_query

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A config file is missing or invalid; the message names the file, the entry and the field."""


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    url: str
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.strip()


class TopicConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = ""
    description: str = ""
    query: str | None = None
    keywords: list[str] = Field(default=[], validate_default=True)
    exclude: list[str] = []
    min_hits: int = Field(default=1, ge=1)
    recipients: list[EmailStr] = []
    enabled: bool = True

    @field_validator("keywords", "exclude")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not term.strip():
                raise ValueError("terms must not be blank")
        return [term.strip() for term in terms]

    @field_validator("query")
    @classmethod
    def _valid_query(cls, query: str | None) -> str | None:
        if query is not None:
            parse_query(query)  # QueryError is a ValueError: "position N: ... expected ..."
        return query

    @field_validator("keywords")
    @classmethod
    def _query_or_keywords(cls, keywords: list[str], info: ValidationInfo) -> list[str]:
        if "query" not in info.data:
            return keywords  # the query itself is invalid and reported as such
        if info.data["query"] is None and not keywords:
            raise ValueError("a topic needs a 'query' or a list of 'keywords'")
        if info.data["query"] is not None and keywords:
            raise ValueError("a topic has a 'query' or 'keywords', not both")
        return keywords

    @field_validator("exclude")
    @classmethod
    def _exclude_with_keywords(cls, exclude: list[str], info: ValidationInfo) -> list[str]:
        if exclude and info.data.get("query") is not None:
            raise ValueError("'exclude' goes with 'keywords'; in a query write AND NOT (...)")
        return exclude

    @property
    def label(self) -> str:
        return self.title or self.name


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeds: list[FeedConfig]


class SubscriberConfig(BaseModel):
    """A named reader: which topics, and whether hits come at once or in the daily digest;
    either way by email and to each Apprise URL named in apprise_env."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    emails: list[EmailStr] = []
    apprise_env: list[str] = Field(
        default=[],
        description="names of environment variables holding Apprise URLs (Slack, Teams, "
        "Telegram, webhooks); the URLs carry tokens, so they never live in this file",
    )
    topics: list[str] = Field(default=[], description="topic names; empty means every topic")
    mode: Literal["immediate", "digest"] = "immediate"
    send_empty: bool = Field(default=False, description="send a digest even when nothing hit")

    @field_validator("apprise_env")
    @classmethod
    def _env_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return names

    @model_validator(mode="after")
    def _reachable(self) -> SubscriberConfig:
        if not self.emails and not self.apprise_env:
            raise ValueError("needs emails, apprise_env, or both")
        return self

    @property
    def channel(self) -> str:
        return f"apprise:{self.name}"

    def follows(self, topic: str) -> bool:
        return not self.topics or topic in self.topics


class TopicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[EmailStr] = Field(
        default=[], description="who gets alerts of topics that name no recipients"
    )
    topics: list[TopicConfig]
    subscribers: list[SubscriberConfig] = []


class Config(BaseModel):
    feeds: list[FeedConfig]
    topics: list[TopicConfig]
    default_recipients: list[str]
    subscribers: list[SubscriberConfig] = []

    def recipients_for(self, topic: TopicConfig) -> list[str]:
        """Immediate alerts of a topic: its own recipients (else the default ones) and every
        immediate subscriber who follows it."""
        own = [str(r) for r in (topic.recipients or self.default_recipients)]
        subscribed = [
            str(email)
            for sub in self.subscribers
            if sub.mode == "immediate" and sub.follows(topic.name)
            for email in sub.emails
        ]
        return list(dict.fromkeys(own + subscribed))

    def channels_for(self, topic: str) -> list[str]:
        """Apprise channels that get a topic's alerts, besides email."""
        return [
            sub.channel
            for sub in self.subscribers
            if sub.mode == "immediate" and sub.apprise_env and sub.follows(topic)
        ]

    def apprise_env(self) -> dict[str, list[str]]:
        """Channel -> names of the environment variables holding its Apprise URLs."""
        return {sub.channel: list(sub.apprise_env) for sub in self.subscribers if sub.apprise_env}

    def digest_subscribers(self) -> list[SubscriberConfig]:
        return [sub for sub in self.subscribers if sub.mode == "digest"]


def load_config(config_dir: Path) -> Config:
    """Load and validate both files; raise ConfigError before any work starts."""
    feeds = _load(config_dir / "feeds.yaml", FeedsFile, "feeds")
    topics = _load(config_dir / "topics.yaml", TopicsFile, "topics")
    _unique(config_dir / "feeds.yaml", "feeds", [f.name for f in feeds.feeds], "name")
    _unique(config_dir / "feeds.yaml", "feeds", [f.url for f in feeds.feeds], "url")
    _unique(config_dir / "topics.yaml", "topics", [t.name for t in topics.topics], "name")
    for index, topic in enumerate(topics.topics):
        if not topic.recipients and not topics.recipients:
            raise ConfigError(
                f"{config_dir / 'topics.yaml'}: topics[{index}] ({topic.name!r}): field 'recipients': "
                "no recipients, and no top-level 'recipients' default"
            )
    _unique(config_dir / "topics.yaml", "subscribers", [s.name for s in topics.subscribers], "name")
    known = {topic.name for topic in topics.topics}
    for index, sub in enumerate(topics.subscribers):
        unknown = [name for name in sub.topics if name not in known]
        if unknown:
            raise ConfigError(
                f"{config_dir / 'topics.yaml'}: subscribers[{index}] ({sub.name!r}): field 'topics': "
                f"no such topic {unknown[0]!r}"
            )
    return Config(
        feeds=feeds.feeds,
        topics=topics.topics,
        default_recipients=[str(r) for r in topics.recipients],
        subscribers=topics.subscribers,
    )


def _load(path: Path, model: type[M], list_key: str) -> M:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a '{list_key}' list at the top")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, raw, exc)) from None


def _describe(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = "top level"
        # Entries of any top-level list (feeds, topics, subscribers) are named by index and name.
        if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
            key, index = loc[0], loc[1]
            entries = raw.get(key) or []
            entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"{key}[{index}]" + (f" ({name!r})" if name else "")
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or "(entry)"
        lines.append(f"{path}: {where}: field '{field}': {error['msg']}")
    return "\n".join(lines)


def _unique(path: Path, list_key: str, values: list[str], field: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise ConfigError(
                f"{path}: {list_key}[{index}]: field '{field}': "
                f"{value!r} repeats {list_key}[{seen[value]}]"
            )
        seen[value] = index


def edit_feeds(config_dir: Path, change: Callable[[list[dict[str, Any]]], None]) -> Config:
    """Apply change to feeds.yaml's entries, keep the file's leading comments, validate, or roll back.

    Comments inside the list are not kept: the entries are written back as YAML data.
    """
    path = config_dir / "feeds.yaml"
    original = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(original) or {}
    entries = raw.setdefault("feeds", [])
    change(entries)
    header = "".join(line for line in original.splitlines(keepends=True) if line.startswith("#"))
    path.write_text(
        header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    try:
        return load_config(config_dir)
    except ConfigError:
        path.write_text(original, encoding="utf-8")
        raise
