"""Clean article text with trafilatura, falling back to what the feed itself carried."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, cast

from newswatch.page_meta import page_author, page_date, page_language, page_title
from newswatch.records import Article, FeedItem, Page
from newswatch.sanitize import (
    AUTHOR_CHARS,
    ERROR_CHARS,
    TITLE_CHARS,
    clean_language,
    clean_text,
    optional_line,
    parse_datetime,
)
from newswatch.stories import headline_words, stored_signature
from newswatch.urls import page_canonical
from newswatch.watchdog import WALL_ERROR

# [^<>] keeps both linear on hostile input: a match attempt never runs past the next "<",
# and an unclosed script swallows the rest at once instead of being rescanned.
_TAGS = re.compile(r"<[^<>]+>")
_SCRIPTS = re.compile(r"<(script|style)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"[ \t\r\f\v]+")
MIN_PAGE_CHARS = 200
# A page that is a cookie, login, paywall or bot wall instead of the article: short, saying so,
# and not telling the item's story (an article about cookie banners names its headline's words;
# a consent page does not). Its text is the same under every headline of a site, so taken for
# the article it made distinct stories one; the feed's text stands in instead, and the article
# says why.
WALL_MAX_CHARS = 5000
WALL_MARKERS = (
    # German, French, Spanish, Italian, Portuguese, Japanese: the walls of outlets we read
    "wir verwenden cookies",
    "wir nutzen cookies",
    "alle akzeptieren",
    "nous utilisons des cookies",
    "accepter et fermer",
    "tout accepter",
    "utilizamos cookies",
    "aceptar todas",
    "utilizziamo i cookie",
    "accetta tutti",
    "aceitar todos",
    "クッキーを使用",
    "cookieを使用",
    "we use cookies",
    "use of cookies",
    "cookie policy",
    "cookie settings",
    "accept cookies",
    "accept all cookies",
    "accept all",
    "manage your privacy",
    "your privacy choices",
    "consent to the use",
    "subscribe to continue",
    "subscribe to read",
    "subscribers only",
    "only available to subscribers",
    "sign in to continue",
    "log in to continue",
    "create a free account to",
    "enable javascript",
    "javascript is disabled",
    "are you a robot",
    "are you human",
    "verify you are human",
    "not a robot",
    "captcha",
    "unusual traffic",
    "checking your browser",
    "access denied",
)
# trafilatura's options, in one place. A pathological page is stopped by the deadline of the
# worker process it runs in (workers.CpuPool), not by trafilatura's MAX_TREE_SIZE, which only
# discards an over-long result after the work is done. No metadata: the feed's title, author
# and date come first, and page_meta reads the head for what an item lacks (trafilatura's
# metadata search cost more than a quarter of extraction, for every page).
EXTRACT_OPTIONS: dict[str, Any] = {
    "with_metadata": False,
    "include_comments": False,
    "include_tables": True,
}
# NEWSWATCH_EXTRACT_MODE picks one; bench/extract_modes.py measures their speed and quality.
EXTRACT_MODES: dict[str, dict[str, Any]] = {
    "balanced": {},
    "precision": {"favor_precision": True},
    "recall": {"favor_recall": True},
    "fast": {"fast": True},
}


def extract_options(mode: str) -> dict[str, Any]:
    return EXTRACT_OPTIONS | EXTRACT_MODES[mode]


@dataclass(frozen=True)
class PageText:
    text: str
    language: str | None


def wall_marker(text: str, headline: str = "") -> str | None:
    """The phrase that shows a short page text is a wall (consent, login, paywall, bot check)
    rather than the article under `headline`."""
    if len(text) > WALL_MAX_CHARS:
        return None
    folded = " ".join(text.casefold().split())
    marker = next((marker for marker in WALL_MARKERS if marker in folded), None)
    if marker is None or tells_headline(text, headline):
        return None
    return marker


def tells_headline(text: str, headline: str) -> bool:
    """Whether the text holds at least half of what the headline is about: its content words
    (character pairs in Chinese and Japanese), as stories.headline_words takes them."""
    words = headline_words(headline)
    return bool(words) and 2 * len(words & headline_words(text)) >= len(words)


def extract_article(item: FeedItem, page: Page | None, mode: str = "balanced") -> Article:
    """Best text for an item: the page when it yields enough, else feed content, summary, title."""
    doc = _extract_page(page, mode) if page is not None and page.html else None
    wall = wall_marker(doc.text, item.title) if doc else None
    if wall:
        doc = None
        page = replace(  # nor does its canonical link name the article
            cast(Page, page),
            html=None,
            error=f"{WALL_ERROR}, not the article ({wall!r}); the feed's text stands in",
        )
    feed_content = plain_text(item.content)
    feed_summary = plain_text(item.summary)
    if doc and len(doc.text) >= min(MIN_PAGE_CHARS, len(feed_content) or MIN_PAGE_CHARS):
        text, source = doc.text, "page"
    elif feed_content:
        text, source = feed_content, "feed_content"
    elif feed_summary:
        text, source = feed_summary, "feed_summary"
    elif doc and doc.text:
        text, source = doc.text, "page"
    else:
        text, source = item.title, "title"
    # The page's own canonical link names the article when it differs from the feed's link.
    canonical = (
        page_canonical(page.html, page.final_url or page.url) if page and page.html else None
    )
    html_bytes = page.html if doc and page and page.html else None  # the page read, not a wall
    return Article(
        url=canonical or item.url,
        item_url=item.url if canonical and canonical != item.url else None,
        feed_id=item.feed_id,
        title=item.title
        or (optional_line(page_title(html_bytes), TITLE_CHARS) if html_bytes else None)
        or item.url,
        author=item.author
        or (optional_line(page_author(html_bytes), AUTHOR_CHARS) if html_bytes else None),
        published_at=item.published_at
        or (parse_datetime(page_date(html_bytes, item.url)) if html_bytes else None),
        language=doc.language if doc else None,
        text=text,
        text_source=source,
        content_hash=content_hash(text),
        minhash=stored_signature(text, source),
        summary=feed_summary,
        fetch_error=optional_line(
            item.link_refused or (page.error if page is not None else None), ERROR_CHARS
        ),
        guid=item.guid,
        claimed_published_at=item.claimed_published_at,
    )


def _extract_page(page: Page, mode: str) -> PageText | None:
    # Imported here: the process that downloads and stores never extracts a page itself
    # (workers do, and their forkserver preloads trafilatura), so it need not load it (~0.3 s).
    import trafilatura
    from trafilatura.settings import Document

    from newswatch import trafilatura_gates

    trafilatura_gates.install()
    try:
        with trafilatura_gates.gated():
            doc = trafilatura.bare_extraction(
                page.html, url=page.final_url or page.url, **extract_options(mode)
            )
    except (
        Exception
    ):  # trafilatura raises many types on hostile HTML; the feed text is the fallback
        return None
    if not isinstance(doc, Document):
        return None
    # What the page says is cleaned and bounded here, like a feed's entries (sanitize.py).
    return PageText(
        text=clean_text(doc.text).strip(),
        language=clean_language(page_language(page.html or b"")),
    )


def plain_text(fragment: str) -> str:
    """Feed HTML to text: scripts, styles and tags dropped, entities decoded, whitespace tidied.

    feedparser's own sanitiser is off (feeds.parse_feed); this is where feed HTML is cleaned.
    """
    if not fragment:
        return ""
    # Entities can spell what the feed's bytes could not carry (&#0;): clean after decoding.
    text = clean_text(html.unescape(_TAGS.sub(" ", _SCRIPTS.sub(" ", fragment))))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def content_hash(text: str) -> str:
    normalized = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(normalized.encode()).hexdigest()
