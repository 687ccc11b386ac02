"""Clean article text with trafilatura, falling back to what the feed itself carried."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from trafilatura.settings import Document

from newswatch.records import Article, FeedItem, Page

_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_HTML_LANG = re.compile(
    rb"<html[^>]*?\blang=[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)", re.IGNORECASE
)
MIN_PAGE_CHARS = 200


@dataclass(frozen=True)
class PageText:
    text: str
    title: str | None
    author: str | None
    date: datetime | None
    language: str | None


def extract_article(item: FeedItem, page: Page | None) -> Article:
    """Best text for an item: the page when it yields enough, else feed content, summary, title."""
    doc = _extract_page(page) if page is not None and page.html else None
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
    return Article(
        url=item.url,
        feed_id=item.feed_id,
        title=item.title or (doc and doc.title) or item.url,
        author=item.author or (doc.author if doc else None),
        published_at=item.published_at or (doc.date if doc else None),
        language=doc.language if doc else None,
        text=text,
        text_source=source,
        content_hash=content_hash(text),
        summary=feed_summary,
        fetch_error=page.error if page is not None else None,
        guid=item.guid,
    )


def _extract_page(page: Page) -> PageText | None:
    try:
        doc = trafilatura.bare_extraction(
            page.html,
            url=page.final_url or page.url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
        )
    except (
        Exception
    ):  # trafilatura raises many types on hostile HTML; the feed text is the fallback
        return None
    if not isinstance(doc, Document):
        return None
    return PageText(
        text=(doc.text or "").strip(),
        title=doc.title,
        author=doc.author,
        date=_date(doc.date),
        language=doc.language or _html_lang(page.html),
    )


def _html_lang(html_bytes: bytes | None) -> str | None:
    found = _HTML_LANG.search(html_bytes[:4096]) if html_bytes else None
    return found.group(1).decode("ascii").lower() if found else None


def plain_text(fragment: str) -> str:
    """Feed HTML to text: tags dropped, entities decoded, whitespace tidied."""
    if not fragment:
        return ""
    text = html.unescape(_TAGS.sub(" ", fragment))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def content_hash(text: str) -> str:
    normalized = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(normalized.encode()).hexdigest()


def _date(value: str | None) -> datetime | None:
    """trafilatura's date (YYYY-MM-DD) as UTC midnight."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)
