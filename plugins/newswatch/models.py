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


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    rule: Mapped[dict[str, Any]] = mapped_column()
    recipients: Mapped[list[Any]] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


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
    """The columns every outbox row has (alerts, digests): where it goes, its state, its tries.

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
    __tablename__ = "alerts"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"))
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"))

    __table_args__ = (
        # One alert per story, topic and channel: a later copy of an alerted story sends nothing new.
        UniqueConstraint("story_id", "topic_id", "channel", name="alerts_story_topic_channel"),
        CheckConstraint("state in ('pending', 'sent', 'failed')", name="alerts_state"),
        Index("alerts_pending", "next_attempt_at", postgresql_where="state = 'pending'"),
    )


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

    __table_args__ = (
        UniqueConstraint(
            "subscriber", "channel", "period_end", name="digests_subscriber_channel_period"
        ),
        CheckConstraint("state in ('pending', 'sent', 'failed', 'empty')", name="digests_state"),
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
