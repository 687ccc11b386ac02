"""feeds.yaml and topics.yaml: validated models, and one clear error naming file, entry and field."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar
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

from newswatch import models
from newswatch.query import MAX_QUERY_TERMS, parse_query

M = TypeVar("M", bound=BaseModel)


def column_length(table: str, column: str) -> int:
    """The declared size of a String(n) column, so a config limit cannot drift from the store's."""
    column_type = models.Base.metadata.tables[table].c[column].type
    length = getattr(column_type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{table}.{column} is not a bounded String column")
    return length


APPRISE_CHANNEL_PREFIX = "apprise:"
FEED_NAME_CHARS = column_length("feeds", "name")
TOPIC_NAME_CHARS = column_length("topics", "name")
# A subscriber's name is stored as digests.subscriber, and as "apprise:<name>" in the channel
# columns of alerts and digests.
SUBSCRIBER_NAME_CHARS = min(
    column_length("digests", "subscriber"),
    column_length("digests", "channel") - len(APPRISE_CHANNEL_PREFIX),
    column_length("alerts", "channel") - len(APPRISE_CHANNEL_PREFIX),
)
# feeds.url is Text but unique: a btree index entry holds at most 2,704 bytes (a third of an
# 8 kB page), so a longer URL would pass here and fail in the store.
FEED_URL_BYTES = 2048


class ConfigError(Exception):
    """A config file is missing or invalid; the message names the file, the entry and the field."""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# Control characters (NUL among them: PostgreSQL refuses it in text and JSON), lone surrogates
# (not UTF-8) and line or paragraph separators (they break email headers and listings).
_UNPRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Bidirectional overrides and isolates reorder what follows them: a feed or topic name holding
# one could make an alert's body read other than it is.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class _ConfigModel(BaseModel):
    """Unknown keys are errors; every string is printable text, on one line unless the field is
    listed in `_multiline` (where newlines and tabs are kept)."""

    model_config = ConfigDict(extra="forbid")
    _multiline: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = "\n\t" if info.field_name in cls._multiline else ""
        for text in _strings(value):
            if text.isprintable():
                continue
            for position, char in enumerate(text):
                if char in _BIDI:
                    raise ValueError(
                        f"bidirectional control U+{ord(char):04X} at position {position}: "
                        "expected text without direction overrides"
                    )
                if char not in allowed and unicodedata.category(char) in _UNPRINTABLE:
                    raise ValueError(
                        f"control character U+{ord(char):04X} at position {position}: "
                        "expected printable text" + ("" if allowed else " on one line")
                    )
        return value


class FeedConfig(_ConfigModel):
    name: str = Field(min_length=1, max_length=FEED_NAME_CHARS)
    url: str
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if len(value.encode("utf-8")) > FEED_URL_BYTES:
            raise ValueError(f"URL longer than {FEED_URL_BYTES} bytes")
        parts = urlsplit(value)
        try:
            hostname = parts.hostname
        except ValueError:  # an unbalanced [ in the host
            hostname = None
        if parts.scheme not in ("http", "https") or not hostname:
            raise ValueError(f"must be an absolute http(s) URL, got {_shown(value)}")
        return value


class TopicConfig(_ConfigModel):
    _multiline = frozenset({"description", "query"})  # a long query may be a YAML block

    name: str = Field(min_length=1, max_length=TOPIC_NAME_CHARS, pattern=r"^[a-z0-9][a-z0-9_-]*$")
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
        # A keyword list is a query in another form: the same limits as a query's.
        if len(terms) > MAX_QUERY_TERMS:
            raise ValueError(f"more than {MAX_QUERY_TERMS} terms: expected fewer")
        for term in terms:
            if not term.strip():
                raise ValueError("terms must not be blank")
            if len(term) > MAX_TERM_CHARS:
                raise ValueError(
                    f"a term longer than {MAX_TERM_CHARS} characters: expected a word or phrase"
                )
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


class FeedsFile(_ConfigModel):
    feeds: list[FeedConfig]


class SubscriberConfig(_ConfigModel):
    """A named reader: which topics, and whether hits come at once or in the daily digest;
    either way by email and to each Apprise URL named in apprise_env."""

    name: str = Field(
        min_length=1, max_length=SUBSCRIBER_NAME_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
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
                raise ValueError(f"{_shown(name)} is not an environment variable name")
        return names

    @model_validator(mode="after")
    def _reachable(self) -> SubscriberConfig:
        if not self.emails and not self.apprise_env:
            raise ValueError("needs emails, apprise_env, or both")
        return self

    @property
    def channel(self) -> str:
        return f"{APPRISE_CHANNEL_PREFIX}{self.name}"

    def follows(self, topic: str) -> bool:
        return not self.topics or topic in self.topics


class TopicsFile(_ConfigModel):
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
        # One mailbox once: Analyst@Example.com and analyst@example.com are one reader to every
        # mail server we know of, and would get the alert twice.
        unique: dict[str, str] = {}
        for address in own + subscribed:
            unique.setdefault(address.casefold(), address)
        return list(unique.values())

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
    feeds_path = config_dir / "feeds.yaml"
    return _validate(config_dir, _parse_yaml(feeds_path, _read_text(feeds_path)))


def _validate(config_dir: Path, feeds_raw: Any) -> Config:
    feeds = _model(config_dir / "feeds.yaml", feeds_raw, FeedsFile, "feeds")
    topics_path = config_dir / "topics.yaml"
    topics = _model(
        topics_path, _parse_yaml(topics_path, _read_text(topics_path)), TopicsFile, "topics"
    )
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
                f"no such topic {_shown(unknown[0])}"
            )
    return Config(
        feeds=feeds.feeds,
        topics=topics.topics,
        default_recipients=[str(r) for r in topics.recipients],
        subscribers=topics.subscribers,
    )


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Hashable, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(f"key {key!r} repeats")
        self.key, self.first, self.again = key, first, again


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error: by default the
    last one silently wins, so a second `query:` would replace the first unnoticed."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` is meant to be overridden
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            if key in seen:
                raise _DuplicateKey(key, seen[key].start_mark, key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


# Values and characters a config may hold once aliases are expanded: far beyond a real one.
# Nine levels of ten aliases (700 bytes of YAML) expand to 10**9 values, and 5,000 aliases of
# one 1 MB string to 5 GB, which validation then walked and copied.
MAX_CONFIG_VALUES = 100_000
MAX_CONFIG_CHARS = 10_000_000
MAX_TERM_CHARS = 500


def _too_many_values(value: Any) -> bool:
    """Whether value, with every alias expanded, holds more than MAX_CONFIG_VALUES values or
    MAX_CONFIG_CHARS characters; stops counting as soon as it does, so an alias bomb costs
    nothing."""
    pending, seen, chars = [value], 0, 0
    while pending:
        current = pending.pop()
        seen += 1
        chars += len(current) if isinstance(current, str) else 0
        if seen > MAX_CONFIG_VALUES or chars > MAX_CONFIG_CHARS:
            return True
        if isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return False


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        parsed = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
        if _too_many_values(parsed):
            raise ConfigError(
                f"{path}: more than {MAX_CONFIG_VALUES} values or {MAX_CONFIG_CHARS} characters "
                "once its aliases (*name) are expanded: expected a config, not a YAML alias bomb"
            )
        return parsed
    except _DuplicateKey as exc:
        raise ConfigError(
            f"{path}: line {exc.again.line + 1}: key {_shown(exc.key)} repeats the one on line "
            f"{exc.first.line + 1} of the same mapping: expected each key once"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(f"{exc.context or ''} {exc.problem or ''}".split())
        raise ConfigError(f"{path}: not valid YAML: {where}{problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None


def _shown(value: Any, limit: int = 60) -> str:
    """repr of a value from a config file, cut so one bad entry cannot flood the message."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _model(path: Path, raw: Any, model: type[M], list_key: str) -> M:
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
            where = f"{key}[{index}]" + (f" ({_shown(name)})" if name else "")
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or "(entry)"
        lines.append(f"{path}: {where}: field '{field}': {_message(error)}")
    return "\n".join(lines)


def _message(error: Any) -> str:
    """pydantic's message without its "Value error, " prefix, which tells a reader nothing."""
    return str(error["msg"]).removeprefix("Value error, ")


def _unique(path: Path, list_key: str, values: list[str], field: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise ConfigError(
                f"{path}: {list_key}[{index}]: field '{field}': "
                f"{value!r} repeats {list_key}[{seen[value]}]"
            )
        seen[value] = index


def check_feed(name: str | None, url: str) -> None:
    """Refuse a new feeds.yaml entry on its own, before a command fetches or writes anything."""
    try:
        FeedConfig.model_validate({"name": "-" if name is None else name, "url": url})
    except ValidationError as exc:
        problems = "; ".join(f"field '{e['loc'][0]}': {_message(e)}" for e in exc.errors())
        raise ConfigError(f"new feed {_shown(url)}: {problems}") from None


def edit_feeds(config_dir: Path, change: Callable[[list[dict[str, Any]]], None]) -> Config:
    """Apply change to feeds.yaml's entries, keep the file's leading comments; write the file only
    when the result is valid (else ConfigError, and the file is untouched).

    Comments inside the list are not kept: the entries are written back as YAML data.
    """
    path = config_dir / "feeds.yaml"
    original = _read_text(path)
    raw = _parse_yaml(path, original) or {}
    if not isinstance(raw, dict) or not isinstance(raw.setdefault("feeds", []), list):
        raise ConfigError(f"{path}: expected a mapping with a 'feeds' list at the top")
    change(raw["feeds"])
    header = "".join(line for line in original.splitlines(keepends=True) if line.startswith("#"))
    edited = header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    # Validated as it will be read back, before the file is touched; then replaced in one step.
    config = _validate(config_dir, _parse_yaml(path, edited))
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staged.write_text(edited, encoding="utf-8")
    os.replace(staged, path)
    return config
