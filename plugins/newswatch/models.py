"""The news store's tables as SQLAlchemy 2.x typed models; sql/migrations creates them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from newswatch.search_vector import search_document, search_vector


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    config_url: Mapped[str | None] = mapped_column(Text)  # as in feeds.yaml; url follows 301/308
    last_full_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    poll_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    items_per_day: Mapped[float | None] = mapped_column()
    # A permanent redirect's target that another feed already polls (the watchdog tells).
    moved_to: Mapped[str | None] = mapped_column(Text)


class Story(Base):
    """Near-duplicate articles (syndicated copies, rewrites, updates) grouped as one story."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lead_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL", use_alter=True, name="stories_lead_article")
    )
    title: Mapped[str] = mapped_column(Text)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"))
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The feed's date when it lay in the future (published_at is then when we saw it; 0013).
    claimed_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    text_source: Mapped[str] = mapped_column(String(20))
    fetch_error: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    text_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)  # stories.signature of the text
    # search_vector.py: filled on every insert (never loaded: only SQL reads it), GIN-indexed.
    search: Mapped[Any] = mapped_column(TSVECTOR, deferred=True, nullable=True)

    __table_args__ = (
        CheckConstraint(
            "text_source in ('page', 'feed_content', 'feed_summary', 'title')",
            name="articles_text_source",
        ),
        Index(
            "articles_unpurged_fetched_at",
            "fetched_at",
            postgresql_where="text_purged_at is null",
        ),
        Index("articles_feed_fetched", "feed_id", "fetched_at"),
    )


class ArticleSource(Base):
    """Every feed an article appeared in (the same link is often in several feeds)."""

    __tablename__ = "article_sources"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), primary_key=True)
    guid: Mapped[str | None] = mapped_column(Text)
    # The feed's link when it differs from the article's URL (the page named another canonical
    # URL), so the next poll knows this link without fetching the page again.
    url: Mapped[str | None] = mapped_column(Text, index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("article_sources_feed_seen", "feed_id", "seen_at"),)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    rule: Mapped[dict[str, Any]] = mapped_column()
    recipients: Mapped[list[Any]] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # The rule as last applied to stored articles (retag.py); null for a topic never applied.
    applied_rule: Mapped[dict[str, Any] | None] = mapped_column()


class Match(Base):
    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"))
    terms: Mapped[dict[str, Any]] = mapped_column()
    snippet: Mapped[str] = mapped_column(Text)
    highlights: Mapped[list[Any]] = mapped_column()
    # {term: [[start, end], ...]} in the title, a blank line, then the text (migration 0002)
    offsets: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("article_id", "topic_id", name="matches_article_topic"),)


class OutboxColumns:
    """The columns every outbox row has (alerts, digests, notices): where it goes, its state, its tries.

    A mixin, not a table: each subclass gets its own copies, after its own columns but id."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, sort_order=-1)
    channel: Mapped[str] = mapped_column(String(200), default="email", server_default="email")
    # Email addresses; for an Apprise channel, names of the variables holding its URLs.
    recipients: Mapped[list[Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str | None] = mapped_column(Text)
    delivered_to: Mapped[str | None] = mapped_column(Text)
    # {address: {"state": "sent"} or {"state": "refused", "reason": ...}}: recipients settled for
    # good; the others are still owed the message (delivery/send.py; migration 0014).
    outcomes: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class Alert(OutboxColumns, Base):
    """One immediate message: a story for a reader on their channel (migration 0017). The topics
    it tells of are its alert_topics; a topic the story hits later is added while the message
    is still pending, else it is news only to readers who asked for `updates` (kind "update")."""

    __tablename__ = "alerts"

    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"))
    reader: Mapped[str] = mapped_column(Text)  # readers.key (no foreign key: readers come and go)
    kind: Mapped[str] = mapped_column(String(10), default="alert", server_default="alert")
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    # Past the hourly cap the alert is "held" until a digest carries it ("digested").
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="SET NULL"))

    __table_args__ = (
        # One message per story and reader (and one follow-up): a copy sends nothing new.
        UniqueConstraint("story_id", "reader", "kind", name="alerts_story_reader_kind"),
        CheckConstraint(
            "state in ('pending', 'sent', 'failed', 'held', 'digested', 'cancelled')",
            name="alerts_state",
        ),
        CheckConstraint("kind in ('alert', 'update')", name="alerts_kind"),
        Index("alerts_pending", "next_attempt_at", postgresql_where="state = 'pending'"),
        Index("alerts_reader_sent", "reader", "sent_at"),
        Index("alerts_held", "reader", postgresql_where="state = 'held'"),
    )


class AlertTopic(Base):
    """A topic an alert tells of, with the match that explains it."""

    __tablename__ = "alert_topics"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), primary_key=True)
    # Null once a re-tag removed the match (retag.py): a sent alert still records the topic it
    # carried (migration 0018).
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id", ondelete="SET NULL"))

    __table_args__ = (Index("alert_topics_match_id", "match_id"),)


class Reader(Base):
    """Someone messages go to: one email address, or one subscriber's chat channel. Written
    from the config on every sync (config.models.Config.readers)."""

    __tablename__ = "readers"

    key: Mapped[str] = mapped_column(Text, primary_key=True)  # "email:<address>" / "apprise:<name>"
    channel: Mapped[str] = mapped_column(String(200))  # "email" or "apprise:<subscriber>"
    address: Mapped[str | None] = mapped_column(Text)  # as configured
    topics: Mapped[list[Any]] = mapped_column()  # topic names alerted at once
    updates: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str | None] = mapped_column(String(64))  # None: NEWSWATCH_DIGEST_TIMEZONE
    digests: Mapped[list[Any]] = mapped_column()  # digest subscribers the address is in


class Unsubscribe(Base):
    """A reader's one-click unsubscribe: nothing more of that subscription ("alerts", or
    "digest:<subscriber>") until `newswatch readers resubscribe`."""

    __tablename__ = "unsubscribes"

    reader: Mapped[str] = mapped_column(Text, primary_key=True)
    subscription: Mapped[str] = mapped_column(String(250), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Secret(Base):
    """Keys made once by a migration, so signed links work without configuration."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(String(100), default="cli", server_default="cli")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # {"seconds_<stage>": wall time summed over batches} (migration 0007; timing.STAGES)
    durations: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    errors: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")


class DigestMail(OutboxColumns, Base):
    """One subscriber's digest for one period and channel: an outbox row like an alert."""

    __tablename__ = "digests"

    subscriber: Mapped[str] = mapped_column(String(200))
    topics: Mapped[list[Any]] = mapped_column()  # topic names followed; empty means all
    send_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stories: Mapped[int | None] = mapped_column(Integer)
    # The "N more stories" message of a reader past the hourly cap: only its held alerts.
    overflow: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    __table_args__ = (
        # One message per reader: an email row holds one address (migration 0017).
        UniqueConstraint(
            "subscriber",
            "channel",
            "period_end",
            "recipients",
            name="digests_subscriber_channel_period",
        ),
        CheckConstraint(
            "state in ('pending', 'sent', 'failed', 'empty', 'cancelled')", name="digests_state"
        ),
    )


class FeedFinding(Base):
    """Something wrong with a feed that the watchdog found (watchdog.Kind), while it lasts and
    after; told_at and told_resolved_at: when the operator's daily message said so."""

    __tablename__ = "feed_findings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    told_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    told_resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "kind in ('quiet', 'failing', 'gone', 'moved', 'blocked', 'parse')",
            name="feed_findings_kind",
        ),
        Index(
            "feed_findings_open",
            "feed_id",
            "kind",
            unique=True,
            postgresql_where="resolved_at is null",
        ),
        Index("feed_findings_feed", "feed_id", "first_seen_at"),
    )


class Notice(OutboxColumns, Base):
    """A message to the operator (a failed DAG run): an outbox row like an alert, so a notice
    written while the mail server is down goes with the next delivery instead of being lost."""

    __tablename__ = "notices"

    key: Mapped[str] = mapped_column(Text, unique=True)  # one notice per event, however often told
    details: Mapped[dict[str, Any]] = mapped_column()  # what the message says, as it was told

    __table_args__ = (
        CheckConstraint("state in ('pending', 'sent', 'failed')", name="notices_state"),
    )


class RobotsTxt(Base):
    """A site's robots.txt as last read, so it is fetched once a day, not once per run (robots.py)."""

    __tablename__ = "robots_txt"

    origin: Mapped[str] = mapped_column(Text, primary_key=True)  # scheme://host[:port]
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[int | None] = mapped_column(SmallInteger)  # None: no response at all
    body: Mapped[str | None] = mapped_column(Text)  # a 200's text, at most MAX_ROBOTS_BYTES


@event.listens_for(Article, "before_insert")
def _search_on_insert(mapper: Mapper[Article], connection: Connection, article: Article) -> None:
    """An article added through the ORM gets its search vector like a bulk-inserted one."""
    article.search = search_vector(search_document(article.title, article.text or ""))


class AccessToken(Base):
    """A secret that opens one Atom feed (scope "topic" or "subscriber", target its name) or
    the read API (scope "api"): stored as its SHA-256 only, shown once, revoked by setting
    revoked_at (migration 0020)."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    target: Mapped[str | None] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("scope in ('topic', 'subscriber', 'api')", name="access_tokens_scope"),
        CheckConstraint(
            "(scope = 'api') = (target is null)", name="access_tokens_target_for_feeds"
        ),
    )
