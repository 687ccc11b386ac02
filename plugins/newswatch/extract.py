"""Clean article text with trafilatura, falling back to what the feed itself carried."""

from __future__ import annotations

import hashlib
import html
import logging
import multiprocessing
import re
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import trafilatura
from trafilatura.settings import Document

from newswatch.records import Article, FeedItem, Page

_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_HTML_LANG = re.compile(
    rb"<html[^>]*?\blang=[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)", re.IGNORECASE
)
MIN_PAGE_CHARS = 200
WORKER_TASKS = 200
log = logging.getLogger(__name__)
# trafilatura's options, in one place: the extraction benchmark's floor uses the same ones.
EXTRACT_OPTIONS: dict[str, Any] = {
    "with_metadata": True,
    "include_comments": False,
    "include_tables": True,
}


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
            page.html, url=page.final_url or page.url, **EXTRACT_OPTIONS
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


def extract_all(
    jobs: Sequence[tuple[FeedItem, Page | None]], *, workers: int, timeout: float
) -> list[Article]:
    """Extract every job on `workers` spawned processes (both cores by default), in order.

    A page that takes longer than `timeout` seconds, or kills its worker, falls back to the
    feed's own text and records why. Workers are recycled every WORKER_TASKS documents so
    trafilatura's caches cannot grow without bound. Where processes cannot be started (a
    daemonic Celery worker), extraction runs inline.
    """
    if workers <= 1 or len(jobs) < 2 * workers:
        return [extract_article(item, page) for item, page in jobs]
    try:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=WORKER_TASKS,
        )
        futures = [pool.submit(extract_article, item, page) for item, page in jobs]
    except (
        AssertionError,
        OSError,
    ) as exc:  # "daemonic processes are not allowed to have children"
        log.warning("extracting inline: cannot start worker processes (%s)", exc)
        return [extract_article(item, page) for item, page in jobs]
    results: list[Article] = []
    stuck = False
    try:
        for (item, page), future in zip(jobs, futures, strict=True):
            try:
                results.append(future.result(timeout=timeout))
            except (FuturesTimeout, BrokenProcessPool) as exc:
                stuck = stuck or isinstance(exc, FuturesTimeout)
                reason = (
                    "extraction timed out"
                    if isinstance(exc, FuturesTimeout)
                    else "extraction crashed"
                )
                failed = Page(url=item.url, final_url=None, status=None, html=None, error=reason)
                results.append(extract_article(item, failed if page is not None else None))
    finally:
        if stuck:  # a worker is still chewing on a pathological page: stop it, not the run
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=not stuck, cancel_futures=True)
    return results
