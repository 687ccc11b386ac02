"""Pure rendering of an Atom feed (RFC 4287): stories in, XML bytes out, one entry per story.

An entry is the story as an email shows it (delivery.messages.layout.story_card): its title and
link, the outlets that carried it as the author and as related links, its topics as categories,
the best snippet as the summary and the whole card, terms marked, as HTML content. Entry ids
are UUIDs derived from this installation's id and the story's, so they never change and never
collide with another installation's in a reader that follows both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lxml import etree as ET
from markupsafe import Markup, escape

from newswatch.delivery.messages.layout import HitCard, StoryCard, story_card
from newswatch.store.published import FeedStory

ATOM = "http://www.w3.org/2005/Atom"
GENERATOR = "newswatch"
GENERATOR_URI = "https://github.com/newswatch/newswatch"
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)  # a feed without entries still needs one
# Not allowed anywhere in XML 1.0; the store's text is cleaned at the edge, this is the last net.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class FeedHead:
    """What a feed says of itself: its key (`topic:taiwan`), title, subtitle and links."""

    key: str
    title: str
    subtitle: str
    self_url: str | None = None  # its own address, when NEWSWATCH_PUBLIC_URL says where it is
    alternate_url: str | None = None  # the dashboard's page of the same stories


def entry_id(installation: str, what: str) -> str:
    return uuid.uuid5(uuid.UUID(installation), what).urn


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def updated(stories: Sequence[FeedStory]) -> datetime:
    return max((s.updated for s in stories), default=EMPTY_FEED_UPDATED)


def render_atom(head: FeedHead, stories: Sequence[FeedStory], installation: str) -> bytes:
    feed = ET.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _text(feed, "id", entry_id(installation, head.key))
    _text(feed, "title", head.title)
    _text(feed, "subtitle", head.subtitle)
    _text(feed, "updated", timestamp(updated(stories)))
    generator = _text(feed, "generator", GENERATOR)
    generator.set("uri", GENERATOR_URI)
    _text(ET.SubElement(feed, f"{{{ATOM}}}author"), "name", GENERATOR)
    if head.self_url:
        _link(feed, "self", head.self_url, "application/atom+xml")
    if head.alternate_url:
        _link(feed, "alternate", head.alternate_url, "text/html")
    for story in stories:
        _entry(feed, story, installation)
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True, pretty_print=True)
    return xml


def _entry(feed: ET._Element, story: FeedStory, installation: str) -> None:
    card = story_card(story.story, ZoneInfo("UTC"))
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    _text(entry, "id", entry_id(installation, f"story:{story.story.story_id}"))
    _text(entry, "title", card.title)
    if card.link:
        _link(entry, "alternate", card.link, "text/html")
    for outlet in card.outlets:
        if outlet.link and not outlet.is_story_link:
            _link(entry, "related", outlet.link, "text/html", outlet.name)
    # When the outlet published it, when it said so; else when we first saw it.
    _text(entry, "published", timestamp(story.story.published_at or story.story.first_seen))
    _text(entry, "updated", timestamp(story.updated))
    for outlet in card.outlets:  # each outlet that carried it, by its configured name
        _text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", outlet.name)
    for hit in story.story.topics:
        category = ET.SubElement(entry, f"{{{ATOM}}}category")
        category.set("term", _clean(hit.name))
        category.set("label", _clean(hit.title))
    if story.story.topics:  # the snippet as plain text: a reader shows a summary unstyled
        _text(entry, "summary", " ".join(story.story.topics[0].snippet.split()))
    content = _text(entry, "content", content_html(card))
    content.set("type", "html")


def content_html(card: StoryCard) -> str:
    """The story card as HTML for a feed reader: where the text came from when not the page,
    each topic with its terms and marked snippet, then every outlet."""
    # The note on where the text came from says "below": it comes first.
    parts = [Markup("<p><em>{}</em></p>").format(card.note)] if card.note else []
    parts += [
        Markup("<p><strong>{}</strong> ({}): {}</p>").format(hit.title, hit.terms, _bold(hit))
        for hit in card.topics
    ]
    outlets = [
        Markup('<a href="{}">{}</a>').format(o.link, o.name) if o.link else escape(o.name)
        for o in card.outlets
    ]
    if outlets:
        parts.append(Markup("<p>Carried by {}</p>").format(Markup(", ").join(outlets)))
    return str(Markup("").join(parts))


def _bold(hit: HitCard) -> Markup:
    """The snippet's marks as <b>: feed readers' sanitisers drop <mark> (feedparser does)."""
    marked = str(hit.snippet_html).replace("<mark>", "<b>").replace("</mark>", "</b>")
    return Markup(marked)  # the snippet's own text is escaped: only our marks are tags


def _text(parent: ET._Element, tag: str, value: str) -> ET._Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    child.text = _clean(value)
    return child


def _link(parent: ET._Element, rel: str, href: str, media: str, title: str | None = None) -> None:
    link = ET.SubElement(parent, f"{{{ATOM}}}link")
    link.set("rel", rel)
    link.set("type", media)
    link.set("href", _clean(href))
    if title:
        link.set("title", _clean(title))


def _clean(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)
