"""Typed records passed between stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class FeedState:
    """What the poller needs to know about a feed from the store."""

    id: int
    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_full_poll_at: datetime | None = None


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed, its strings cleaned and bounded (sanitize.py) and its link in
    canonical form; built only by feeds._feed_item."""

    feed_id: int
    url: str
    link: str | None
    guid: str | None
    title: str
    author: str | None
    published_at: datetime | None
    summary: str
    content: str
    claimed_published_at: datetime | None = None  # the feed's date when it lay in the future
    link_refused: str | None = None  # why the item's link cannot be fetched


@dataclass
class FeedPoll:
    """The outcome of polling one feed: new validators, items, or the reason it failed."""

    feed_id: int
    status: str  # "ok", "not_modified", "gone" (410) or "error"
    http_status: int | None = None
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    moved_to: str | None = None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ttl_minutes: int | None = None
    unconditional: bool = False
    warning: str | None = None  # parsed, but something was wrong with the feed
    items: list[FeedItem] = field(default_factory=list)
    empty_items: int = 0  # skipped: no title, no link and no text
    unstored: list[str] = field(default_factory=list)  # why some items could not be stored


@dataclass(frozen=True)
class Page:
    """A downloaded article page, or why it could not be downloaded."""

    url: str
    final_url: str | None
    status: int | None
    html: bytes | None
    error: str | None = None


@dataclass(frozen=True)
class Article:
    """An article ready to store: clean text and metadata, whichever source it came from."""

    url: str
    feed_id: int
    title: str
    author: str | None
    published_at: datetime | None
    language: str | None
    text: str
    text_source: str  # "page", "feed_content", "feed_summary" or "title"
    content_hash: str
    summary: str
    fetch_error: str | None = None
    guid: str | None = None  # the feed item's GUID; stored with the source, not the article
    item_url: str | None = None  # the feed's link, when the page's canonical link renamed it
    minhash: bytes | None = None  # stories.signature of the text, to group near-duplicates
    claimed_published_at: datetime | None = None  # a future date the feed gave; published_at is now


# How a term's last word may vary (config/README.md, "How terms match"): not at all, to its
# singular and plurals (the default), or to any word with its Snowball stem.
Stemming = Literal["none", "plural", "full"]


@dataclass(frozen=True)
class TopicRule:
    """What topic matching needs of a topic: a query or a keyword list, and how many hits count;
    the matcher takes this, not the YAML model, so it can be built and tested from plain values."""

    name: str
    query: str | None = None
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_hits: int = 1
    enabled: bool = True
    stemming: Stemming = "plural"


@dataclass(frozen=True)
class Match:
    """Why an article hit a topic: terms with counts, and a snippet with highlight spans.

    `offsets` holds each term's [start, end) character spans in the title, a blank line, and
    the text (the string matching ran on).
    """

    topic: str
    terms: dict[str, int]
    snippet: str
    highlights: list[tuple[int, int]]
    offsets: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicHit:
    """One topic a story hit, and why: the terms that matched and a snippet with them marked."""

    name: str
    title: str
    terms: dict[str, int]
    snippet: str
    highlights: list[tuple[int, int]]


@dataclass(frozen=True)
class Outlet:
    """One outlet that carried a story (its configured feed name, never a feed's own claim)
    and the link to its copy ("" when its feed gave none)."""

    name: str
    url: str


@dataclass(frozen=True)
class StoryView:
    """One story as a reader sees it: its lead article, every topic it hit that the reader
    follows, and each outlet that carried it once."""

    story_id: int
    title: str
    url: str  # the lead article's link; "" when the feed gave none (then said so plainly)
    first_seen: datetime
    published_at: datetime | None
    topics: list[TopicHit]
    outlets: list[Outlet]
    text_source: str = "page"  # the lead article's: "page", "feed_content", "feed_summary", "title"


@dataclass(frozen=True)
class Links:
    """Where a message's footer points: the dashboard (NEWSWATCH_PUBLIC_URL), the one-click
    unsubscribe URL (signed, expiring; None without a public URL) and the mailto fallback."""

    dashboard: str | None = None
    unsubscribe: str | None = None
    mailto: str | None = None


@dataclass(frozen=True)
class ReaderView:
    """Who a message is for: the reader's key (store.readers), their addresses (none for a chat
    channel), their time zone, the titles of the topics they follow (why they got it) and
    their links."""

    key: str
    recipients: list[str]
    zone: ZoneInfo
    follows: list[str]
    links: Links = field(default_factory=Links)


@dataclass(frozen=True)
class AlertView:
    """One immediate message: a story for a reader, read by store.views, rendered by
    delivery.messages.alert. An "update" tells of topics the story hit after the reader got it;
    `story.topics` then holds only those."""

    alert_id: int
    kind: Literal["alert", "update"]
    story: StoryView
    reader: ReaderView


@dataclass(frozen=True)
class Digest:
    """One subscriber's digest for one period, a list of stories ranked by outlets then
    recency: read by store.views, rendered by delivery.messages.digest. With `overflow`, it is
    the "N more stories" message for a reader past the hourly cap who has no digest."""

    subscriber: str
    reader: ReaderView
    period_start: datetime
    period_end: datetime
    stories: list[StoryView]
    topic_counts: list[tuple[str, int]]  # (topic title, stories) in the period, busiest first
    daily_hits: dict[str, dict[date, int]]  # topic title -> local day -> hits
    days: list[date]  # the chart's local days, oldest first, none after the period's last
    overflow: bool = False

    @property
    def recipients(self) -> list[str]:
        return self.reader.recipients

    @property
    def zone(self) -> ZoneInfo:
        return self.reader.zone

    @property
    def story_count(self) -> int:
        return len(self.stories)


@dataclass(frozen=True)
class NoticeView:
    """What a message to the operator says and to whom: a failed DAG run
    (delivery.messages.notice.describe), or with kind "watch" the daily feed-watch report."""

    recipients: list[str]
    details: dict[str, Any]

    @property
    def is_watch(self) -> bool:
        return self.details.get("kind") == "watch"


@dataclass(frozen=True)
class Attempt:
    """One try at an outbox row: who got it now, who never will, and why the others must wait
    (made by delivery, recorded by store.outbox.settle)."""

    delivered: list[str] = field(default_factory=list)  # addresses, or the Apprise channel
    refused: dict[str, str] = field(default_factory=dict)  # refused for good: address -> reason
    retry: str | None = None  # why those still owed it must wait: tried again after a backoff
    hopeless: str | None = None  # why the message can never go as it is: the row ends now
