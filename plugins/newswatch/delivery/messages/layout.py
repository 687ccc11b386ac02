"""How our emails look, written once: Jinja2 templates (templates/, HTML autoescaped), the CSS
inlined into style attributes for mail clients that drop <style>, and a story turned into
ready-made strings (a card) that the HTML and the plain text both show, so they say the same.

Every feed string reaches a template as plain text: one-line strings through header_safe,
snippets with their controls blanked, links only http(s) with no space or control left in them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlsplit
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
LABEL_CHARS = 24  # of one topic (or outlet) in a subject or preview line
PREHEADER_CHARS = 140
# Invisible padding after the preview line: without it, Gmail and Apple Mail fill the rest of the
# inbox preview with the first body text (the masthead and the title again). A figure space and
# a combining grapheme joiner per repeat, which clients neither collapse nor show.
PREHEADER_PAD = Markup("&#8199;&#847;" * 90)
NO_LINK = "The feed gave no link for this story"
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


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` in the reader's zone (a naive time is UTC: the store keeps UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """`2026-12-04 09:15 JST`: every time a reader sees is in their one zone."""
    return in_zone(moment, zone).strftime("%Y-%m-%d %H:%M %Z")


def clock_time(moment: datetime, zone: ZoneInfo) -> str:
    """`09:15 JST`, for a time whose day goes without saying."""
    return in_zone(moment, zone).strftime("%H:%M %Z")


def topic_label(titles: list[str], sep: str = " · ") -> str:
    """`Taiwan · Tariffs · Rare earths +2`: the first few topics (or outlets) and how many more;
    each cut to LABEL_CHARS, so long topic titles cannot push the story out of a subject."""
    shown = sep.join(short_label(header_safe(t)) for t in titles[:TOPICS_IN_SUBJECT])
    more = len(titles) - TOPICS_IN_SUBJECT
    return f"{shown} +{more}" if more > 0 else shown


def short_label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


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
    """An outlet as the HTML shows it (its name as the link, its domain as quiet text) and the
    plain text (the link in full, unless it is the story's own link, already given)."""

    name: str
    link: str | None
    domain: str  # "kyodo.example"; "" without a link
    is_story_link: bool  # its link is the story's link


@dataclass(frozen=True)
class StoryCard:
    """A story as both parts of an email show it, every string ready and every time local."""

    title: str
    link: str | None
    first_seen: str
    published: str | None
    topics: list[HitCard]
    outlets: list[OutletCard]
    # Where the text shown came from, said once: the feed gave no link, or the page could not
    # be read; None when the text is the page's and the story has its link.
    note: str | None

    @property
    def outlet_line(self) -> str:
        return ", ".join(o.name for o in self.outlets)

    @property
    def outlet_label(self) -> str:
        """`Kyodo Desk, AloJapan.com, Nikkei Wire +2`: the first few outlets."""
        return topic_label([o.name for o in self.outlets], ", ")

    @property
    def topic_line(self) -> str:
        return ", ".join(hit.title for hit in self.topics)


@dataclass(frozen=True)
class Footer:
    """Why the reader got the message and where to go from it."""

    why: str  # "you follow Taiwan, Tariffs"
    dashboard: str | None
    unsubscribe: str | None
    unsubscribe_label: str  # "Unsubscribe from these alerts"


def hit_card(hit: TopicHit) -> HitCard:
    snippet = _UNSHOWABLE.sub(" ", hit.snippet)
    terms = sorted(hit.terms.items(), key=lambda item: (-item[1], item[0]))
    return HitCard(
        title=header_safe(hit.title),
        terms=", ".join(f"{header_safe(term)} ×{count}" for term, count in terms),
        snippet_text=" ".join(mark_spans(snippet, hit.highlights, "[", "]", str).split()),
        snippet_html=Markup(mark_spans(snippet, hit.highlights, "<mark>", "</mark>", escape)),
    )


def story_card(story: StoryView, zone: ZoneInfo, day: date | None = None) -> StoryCard:
    """The card of a story; first seen on local `day`, it shows only the time."""
    story_link = link(story.url)
    outlets: dict[str, OutletCard] = {}
    for outlet in story.outlets:  # each outlet once, with the first usable link it gave
        name = header_safe(outlet.name)
        if name not in outlets or outlets[name].link is None:
            found = link(outlet.url)
            outlets[name] = OutletCard(
                name, found, _domain(found), found is not None and found == story_link
            )
    seen = in_zone(story.first_seen, zone)
    return StoryCard(
        title=header_safe(story.title) or UNTITLED,
        link=story_link,
        first_seen=clock_time(seen, zone) if seen.date() == day else local_time(seen, zone),
        published=local_time(story.published_at, zone) if story.published_at else None,
        topics=[hit_card(hit) for hit in story.topics],
        outlets=list(outlets.values()),
        note=_source_note(story_link is not None, story.text_source),
    )


def _source_note(linked: bool, text_source: str) -> str | None:
    """One sentence on where the story's text came from, or None when it needs none. A story
    without a link was never fetched, so that one sentence says both."""
    source = None if text_source == "page" else _FROM_FEED.get(text_source, "the feed")
    if not linked:
        return f"{NO_LINK}; the text below is from {source}." if source else f"{NO_LINK}."
    return f"Text taken from {source}: the page could not be read." if source else None


def _domain(url: str | None) -> str:
    """`kyodo.example` for https://www.kyodo.example/a: enough to tell outlets apart."""
    host = (urlsplit(url).hostname or "") if url else ""
    return host.removeprefix("www.")


def footer(reader: ReaderView, digest: bool = False) -> Footer:
    """The footer of an alert, or with `digest` of a daily digest."""
    follows = ", ".join(header_safe(title) for title in reader.follows)
    listed = (
        "you subscribe to this newswatch digest"
        if digest
        else "you are on this newswatch alert list"
    )
    return Footer(
        why=f"you follow {follows}" if follows else listed,
        dashboard=link(reader.links.dashboard) if reader.links.dashboard else None,
        unsubscribe=unsubscribe_link(reader.links),
        unsubscribe_label=f"Unsubscribe from {'this digest' if digest else 'these alerts'}",
    )


def preheader(*parts: str) -> str:
    """The inbox preview line: the non-empty `parts` on one line, cut to PREHEADER_CHARS."""
    line = " · ".join(
        p for p in (" ".join(_UNSHOWABLE.sub(" ", part).split()) for part in parts) if p
    )
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
    env.globals["PREHEADER_PAD"] = PREHEADER_PAD
    return env


_ENV = _environment()
# Styles go into each element's style attribute (mail clients that drop <style> keep them) and
# their <style> goes; the one marked data-css-inline="keep" stays for the clients that read
# media queries (dark mode, narrow screens). Nothing is ever fetched: we link no stylesheet.
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def html_part(template: str, **context: Any) -> str:
    """An HTML body from templates/, its CSS inlined."""
    return _INLINER.inline(_ENV.get_template(template).render(**context))


def text_part(template: str, **context: Any) -> str:
    """A plain-text body from templates/, ending in one newline."""
    return _ENV.get_template(template).render(**context).rstrip() + "\n"
