"""How our emails look, written once: Jinja2 templates (templates/, HTML autoescaped), the CSS
inlined into style attributes for mail clients that drop <style>, and a story turned into
ready-made strings (a card) that the HTML and the plain text both show, so they say the same.

Every feed string reaches a template as plain text: one-line strings through header_safe,
snippets with their controls blanked, links only http(s) with no space or control left in them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from newswatch.delivery.messages.common import (
    SUBJECT_CHARS,
    header_safe,
    mark_spans,
    safe_link,
    unsubscribe_link,
)
from newswatch.records import ReaderView, StoryView, TopicHit

TOPICS_IN_SUBJECT = 3
PREHEADER_CHARS = 140
NO_LINK = "The feed gave no link for this story."
UNTITLED = "(untitled)"
_FROM_FEED = {
    "feed_content": "the feed's content",
    "feed_summary": "the feed's summary",
    "title": "the feed's title",
}
# What a snippet or a link may not show as it is: controls, line breaks, bidi overrides, lone
# surrogates. A snippet gets one space for each (its highlight offsets still fit), a link its
# %-escape.
_UNSHOWABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]"
)
_NOT_IN_LINK = re.compile(r"\s|" + _UNSHOWABLE.pattern)


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 story`, `2 stories`, `3 outlets`."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """`2026-12-04 09:15 JST`: every time a reader sees is in their one zone."""
    if moment.tzinfo is None:  # the store keeps UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def topic_label(titles: list[str]) -> str:
    """`Taiwan · Tariffs · Rare earths +2`: the first few topics and how many more."""
    shown = " · ".join(header_safe(t) for t in titles[:TOPICS_IN_SUBJECT])
    more = len(titles) - TOPICS_IN_SUBJECT
    return f"{shown} +{more}" if more > 0 else shown


def subject_line(text: str) -> str:
    """`[newswatch] text`, header-safe, at most SUBJECT_CHARS long: cut at a word, with "…"."""
    line = header_safe(f"[newswatch] {text}")
    if len(line) <= SUBJECT_CHARS:
        return line
    cut = line[: SUBJECT_CHARS - 1]
    space = cut.rfind(" ")
    if space > SUBJECT_CHARS - 30:  # a word boundary near the end, else cut the long word
        cut = cut[:space]
    return cut.rstrip(" ,.;:·-") + "…"


def link(url: str) -> str | None:
    """The URL to show and follow when it is http(s), spaces and controls %-escaped."""
    found = safe_link(url.strip())
    return _NOT_IN_LINK.sub(lambda m: quote(m[0], errors="replace"), found) if found else None


@dataclass(frozen=True)
class HitCard:
    """One topic of a story: its title, the terms that matched and the snippet they are in."""

    title: str
    terms: str  # "Taiwan ×3, Taipei ×1"
    snippet_text: str  # the hits between [ and ]
    snippet_html: Markup  # the hits in <mark>, everything else escaped


@dataclass(frozen=True)
class OutletCard:
    name: str
    link: str | None


@dataclass(frozen=True)
class StoryCard:
    """A story as both parts of an email show it, every string ready and every time local."""

    title: str
    link: str | None
    first_seen: str
    published: str | None
    topics: list[HitCard]
    outlets: list[OutletCard]
    from_feed: str | None  # "the feed's summary" when the page could not be read

    @property
    def outlet_line(self) -> str:
        return ", ".join(o.name for o in self.outlets)


@dataclass(frozen=True)
class Footer:
    """Why the reader got the message and where to go from it."""

    follows: str  # "Taiwan, Tariffs"; "" when the reader names no topics
    dashboard: str | None
    unsubscribe: str | None


def hit_card(hit: TopicHit) -> HitCard:
    snippet = _UNSHOWABLE.sub(" ", hit.snippet)
    terms = sorted(hit.terms.items(), key=lambda item: (-item[1], item[0]))
    return HitCard(
        title=header_safe(hit.title),
        terms=", ".join(f"{header_safe(term)} ×{count}" for term, count in terms),
        snippet_text=" ".join(mark_spans(snippet, hit.highlights, "[", "]", str).split()),
        snippet_html=Markup(mark_spans(snippet, hit.highlights, "<mark>", "</mark>", escape)),
    )


def story_card(story: StoryView, zone: ZoneInfo) -> StoryCard:
    outlets: dict[str, OutletCard] = {}
    for outlet in story.outlets:  # each outlet once, with the first usable link it gave
        name = header_safe(outlet.name)
        if name not in outlets or outlets[name].link is None:
            outlets[name] = OutletCard(name, link(outlet.url))
    return StoryCard(
        title=header_safe(story.title) or UNTITLED,
        link=link(story.url),
        first_seen=local_time(story.first_seen, zone),
        published=local_time(story.published_at, zone) if story.published_at else None,
        topics=[hit_card(hit) for hit in story.topics],
        outlets=list(outlets.values()),
        from_feed=None
        if story.text_source == "page"
        else _FROM_FEED.get(story.text_source, "the feed"),
    )


def footer(reader: ReaderView) -> Footer:
    return Footer(
        follows=", ".join(header_safe(title) for title in reader.follows),
        dashboard=link(reader.links.dashboard) if reader.links.dashboard else None,
        unsubscribe=unsubscribe_link(reader.links),
    )


def preheader(text: str) -> str:
    """The inbox preview line: the first words of `text`, one line."""
    line = " ".join(_UNSHOWABLE.sub(" ", text).split())
    return line if len(line) <= PREHEADER_CHARS else line[: PREHEADER_CHARS - 1] + "…"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("newswatch.delivery.messages", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["plural"] = plural
    env.globals["NO_LINK"] = NO_LINK
    return env


_ENV = _environment()
# Styles go into each element's style attribute (mail clients that drop <style> keep them);
# the <style> block stays for those that read media queries (dark mode, narrow screens).
# Nothing is ever fetched: our templates link no stylesheet.
_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def html_part(template: str, **context: Any) -> str:
    """An HTML body from templates/, its CSS inlined."""
    return _INLINER.inline(_ENV.get_template(template).render(**context))


def text_part(template: str, **context: Any) -> str:
    """A plain-text body from templates/, ending in one newline."""
    return _ENV.get_template(template).render(**context).rstrip() + "\n"
