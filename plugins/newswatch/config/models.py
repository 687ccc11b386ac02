"""The config models: what feeds.yaml and topics.yaml may hold, field by field.

Kept apart from reading the files (load.py) so a model can be built and tested from plain data,
and so the limits that follow the store's columns stand in one place.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from newswatch import models
from newswatch.query import MAX_QUERY_TERMS, parse_query
from newswatch.records import Stemming, TopicRule
from newswatch.sanitize import clean_line


def column_length(table: str, column: str) -> int:
    """The declared size of a String(n) column, so a config limit cannot drift from the store's."""
    column_type = models.Base.metadata.tables[table].c[column].type
    length = getattr(column_type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{table}.{column} is not a bounded String column")
    return length


APPRISE_CHANNEL_PREFIX = "apprise:"
WEBHOOK_CHANNEL_PREFIX = "webhook:"
_CHANNEL_PREFIX_CHARS = max(len(APPRISE_CHANNEL_PREFIX), len(WEBHOOK_CHANNEL_PREFIX))
FEED_NAME_CHARS = column_length("feeds", "name")
TOPIC_NAME_CHARS = column_length("topics", "name")
# A subscriber's name is stored as digests.subscriber, and as "apprise:<name>" or
# "webhook:<name>" in the channel columns of alerts and digests.
SUBSCRIBER_NAME_CHARS = min(
    column_length("digests", "subscriber"),
    column_length("digests", "channel") - _CHANNEL_PREFIX_CHARS,
    column_length("alerts", "channel") - _CHANNEL_PREFIX_CHARS,
)
ENV_NAME = r"[A-Z_][A-Z0-9_]*"
# feeds.url is Text but unique: a btree index entry holds at most 2,704 bytes (a third of an
# 8 kB page), so a longer URL would pass here and fail in the store.
FEED_URL_BYTES = 2048
MAX_TERM_CHARS = 500


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
            raise ValueError(f"must be an absolute http(s) URL, got {shown(value)}")
        return value


def feed_name(text: str | None, fallback: str) -> str:
    """A feed name from outside text (a feed's own title, an OPML outline's): one clean line
    without direction overrides, within FEED_NAME_CHARS; the fallback's start when none is left."""
    name = clean_line("".join(char for char in text or "" if char not in _BIDI), FEED_NAME_CHARS)
    return name or fallback[:FEED_NAME_CHARS]


class TopicConfig(_ConfigModel):
    _multiline = frozenset({"description", "query"})  # a long query may be a YAML block

    name: str = Field(min_length=1, max_length=TOPIC_NAME_CHARS, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = ""
    description: str = ""
    query: str | None = None
    keywords: list[str] = Field(default=[], validate_default=True)
    exclude: list[str] = []
    min_hits: int = Field(default=1, ge=1)
    stemming: Stemming = "plural"
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

    @property
    def rule(self) -> TopicRule:
        """The part of the topic that matching uses."""
        return TopicRule(
            name=self.name,
            query=self.query,
            keywords=tuple(self.keywords),
            exclude=tuple(self.exclude),
            min_hits=self.min_hits,
            enabled=self.enabled,
            stemming=self.stemming,
        )


class FeedsFile(_ConfigModel):
    feeds: list[FeedConfig]


class SubscriberConfig(_ConfigModel):
    """A named reader: which topics, and whether hits come at once or in the daily digest;
    either way by email, to each Apprise URL named in apprise_env, and as a signed JSON POST to
    the webhook named in webhook_env."""

    name: str = Field(
        min_length=1, max_length=SUBSCRIBER_NAME_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    emails: list[EmailStr] = []
    apprise_env: list[str] = Field(
        default=[],
        description="names of environment variables holding Apprise URLs (Slack, Teams, "
        "Telegram, webhooks); the URLs carry tokens, so they never live in this file",
    )
    webhook_env: str | None = Field(
        default=None,
        description="name of an environment variable holding a webhook URL; the signing "
        "secret is in <name>_SECRET (delivery.webhooks)",
    )
    topics: list[str] = Field(default=[], description="topic names; empty means every topic")
    mode: Literal["immediate", "digest"] = "immediate"
    send_empty: bool = Field(default=False, description="send a digest even when nothing hit")
    updates: bool = Field(
        default=False,
        description="one follow-up when a story already sent hits a followed topic it had not",
    )
    timezone: str | None = Field(
        default=None, description="IANA zone for times in their mail; default the digest's"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None and zone not in _zones():
            raise ValueError(f"{shown(zone)} is not an IANA time zone (like Asia/Tokyo)")
        return zone

    @field_validator("apprise_env", "webhook_env")
    @classmethod
    def _env_names(cls, names: list[str] | str | None) -> list[str] | str | None:
        for name in [names] if isinstance(names, str) else names or []:
            if not re.fullmatch(ENV_NAME, name):
                raise ValueError(f"{shown(name)} is not an environment variable name")
        return names

    @model_validator(mode="after")
    def _reachable(self) -> SubscriberConfig:
        if not self.emails and not self.apprise_env and not self.webhook_env:
            raise ValueError("needs emails, apprise_env or webhook_env (any of them, or several)")
        return self

    @property
    def channel(self) -> str:
        """The subscriber's Apprise channel."""
        return f"{APPRISE_CHANNEL_PREFIX}{self.name}"

    @property
    def webhook_channel(self) -> str:
        return f"{WEBHOOK_CHANNEL_PREFIX}{self.name}"

    def channel_env(self) -> dict[str, list[str]]:
        """Each channel but email (Apprise, webhook) -> the variables holding its URLs."""
        found = {self.channel: list(self.apprise_env)} if self.apprise_env else {}
        if self.webhook_env:
            found[self.webhook_channel] = [self.webhook_env]
        return found

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

    def channel_env(self) -> dict[str, list[str]]:
        """Channel (Apprise or webhook) -> names of the environment variables holding its URLs."""
        return {key: names for sub in self.subscribers for key, names in sub.channel_env().items()}

    def digest_subscribers(self) -> list[SubscriberConfig]:
        return [sub for sub in self.subscribers if sub.mode == "digest"]

    def readers(self) -> list[ReaderSpec]:
        """Everyone messages go to, one per mailbox or chat channel: a mailbox named by several
        topics and subscribers is one reader following all their topics, who gets a story once."""
        found: dict[str, ReaderSpec] = {}

        def add(key: str, channel: str, address: str | None, **kw: Any) -> None:
            spec = found.setdefault(key, ReaderSpec(key, channel, address))
            spec.topics.update(kw.get("topics", ()))
            spec.digests.extend(d for d in kw.get("digests", ()) if d not in spec.digests)
            spec.updates = spec.updates or kw.get("updates", False)
            spec.timezone = spec.timezone or kw.get("timezone")

        for topic in self.topics:
            for address in topic.recipients or self.default_recipients:
                add(reader_key(str(address)), "email", str(address), topics=[topic.name])
        every = [topic.name for topic in self.topics]
        for sub in self.subscribers:
            extra: dict[str, Any] = {"updates": sub.updates, "timezone": sub.timezone}
            if sub.mode == "immediate":
                extra["topics"] = sub.topics or every
            else:
                extra["digests"] = [sub.name]
            for address in sub.emails:
                add(reader_key(str(address)), "email", str(address), **extra)
            if sub.mode == "immediate":
                for channel in sub.channel_env():
                    add(channel, channel, None, **extra)
        return list(found.values())


def reader_key(address: str) -> str:
    """One key per mailbox: Analyst@Example.com and analyst@example.com are one reader to every
    mail server we know of, and would get each story twice."""
    return f"email:{address.casefold()}"


@dataclass
class ReaderSpec:
    """A reader as the config defines it, before it is stored (store.config writes readers)."""

    key: str
    channel: str
    address: str | None
    topics: set[str] = field(default_factory=set)
    digests: list[str] = field(default_factory=list)
    updates: bool = False
    timezone: str | None = None


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def shown(value: Any, limit: int = 60) -> str:
    """repr of a value from a config file, cut so one bad entry cannot flood the message."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
