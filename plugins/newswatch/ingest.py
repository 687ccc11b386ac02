"""Ingestion, one batch of feeds at a time: poll, fetch and extract the new items' pages, tag
them and store them. Each feed and each item is its own failure domain; what went wrong comes
back as a `StageReport` line, never as an exception that costs the batch.

Split from pipeline.py, which only orders the stages, so this loop can change on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from newswatch import clock, store, stories
from newswatch.config.load import load_config
from newswatch.extract import extract_article
from newswatch.fetch import fetch_page
from newswatch.http_client import Downloader, origin_of
from newswatch.outcomes import FEED_OUTCOMES, Outcome, StageReport, failure
from newswatch.poll import poll_feed
from newswatch.records import Article, FeedItem, FeedPoll, FeedState, Match
from newswatch.settings import Settings
from newswatch.store import db
from newswatch.store.robots import RobotsTable
from newswatch.timing import Stopwatch
from newswatch.topics import compile_topics, match_text
from newswatch.workers import CpuPool, JobFailed

log = logging.getLogger(__name__)


@dataclass
class Extracted:
    """An item after its page was fetched and extracted; the page body is already dropped.
    No article when not even the feed's own text could make one (the error says why)."""

    item: FeedItem
    page_error: str | None
    article: Article | None


def fallback(item: FeedItem, reason: str) -> Extracted:
    """The item from the feed's own text after its page failed in an unexpected way."""
    try:
        return Extracted(item, reason, extract_article(item, None))
    except Exception as exc:
        log.exception("item=%s has no usable text", item.url)
        return Extracted(item, f"{reason}; then {failure(exc)}", None)


async def stream_articles(
    settings: Settings,
    feeds: list[FeedState],
    pool: CpuPool,
    on_chunk: Callable[[list[Extracted]], None],
    watch: Stopwatch,
) -> list[FeedPoll]:
    """Poll the feeds, then fetch and extract the new items' pages, handing them to `on_chunk`
    in order, `store_batch` at a time.

    Downloads run ahead of extraction by at most `fetch_ahead` pages and every page goes to
    the pool as soon as it arrives, so the network and both cores stay busy together and
    memory holds a bounded number of pages however many articles the batch has. `on_chunk`
    runs in a thread while the next chunk is fetched and extracted.
    """
    full_after = timedelta(days=settings.full_poll_after_days)
    now = clock.now()
    started = last_download = time.perf_counter()
    pool.start()
    robots = RobotsTable(settings)
    async with Downloader(settings, robots_cache=robots) as downloader:

        async def polled(feed: FeedState) -> FeedPoll:
            try:
                return await poll_feed(
                    downloader,
                    feed,
                    max_bytes=settings.max_feed_bytes,
                    conditional=feed.last_full_poll_at is not None
                    and now - feed.last_full_poll_at < full_after,
                    pool=pool,
                    parse_timeout=settings.parse_timeout,
                )
            except Exception as exc:  # one feed's failure domain: it fails alone, with its reason
                log.exception("feed=%r poll failed", feed.name)
                return FeedPoll(feed_id=feed.id, status="error", error=failure(exc))

        polls = list(await asyncio.gather(*(polled(feed) for feed in feeds)))
        last_download = time.perf_counter()
        new_items = host_turns(await asyncio.to_thread(unseen_items, settings, polls))
        await robots.recall_all(origins(item.link for item in new_items if item.link))
        ahead = asyncio.Semaphore(max(1, settings.fetch_ahead))

        async def extracted(item: FeedItem) -> Extracted:
            try:
                return await fetched_and_extracted(item)
            except Exception as exc:  # one item's failure domain: the feed's own text stands in
                log.exception("page=%s fetch or extraction failed", item.link)
                return fallback(item, failure(exc))

        async def fetched_and_extracted(item: FeedItem) -> Extracted:
            nonlocal last_download
            async with ahead:
                if not item.link:  # nothing to download: the feed's own text is the article
                    return Extracted(item, None, extract_article(item, None))
                page = await fetch_page(downloader, item.link, max_bytes=settings.max_page_bytes)
                last_download = max(last_download, time.perf_counter())
                if page.html is None:  # the download failed: the feed's text, no worker needed
                    return Extracted(item, page.error, extract_article(item, page))
                try:
                    article = await pool.run(
                        "extract",
                        settings.extract_timeout,
                        extract_article,
                        item,
                        page,
                        settings.extract_mode,
                    )
                except JobFailed as exc:
                    page = replace(page, html=None, error=f"extraction stopped: it {exc}")
                    article = extract_article(item, page, settings.extract_mode)
                return Extracted(item, page.error, article)

        tasks = [asyncio.ensure_future(extracted(item)) for item in new_items]
        try:
            size = max(1, settings.store_batch)
            for start in range(0, len(tasks), size):
                chunk = [await task for task in tasks[start : start + size]]
                await asyncio.to_thread(on_chunk, chunk)
        finally:
            for task in tasks:
                task.cancel()
    watch.add("fetch", last_download - started)
    return polls


def host_turns(items: list[FeedItem]) -> list[FeedItem]:
    """The items with their sites taking turns (a site's own in their order): downloads start
    in this order, at most `fetch_ahead` at a time, and a site's pages are a politeness
    interval apart, so one site's pages in a row kept every other site waiting behind them."""
    by_host: dict[str, list[FeedItem]] = {}
    for item in items:
        by_host.setdefault(_host(item.link), []).append(item)
    queues = list(by_host.values())
    longest = max(map(len, queues), default=0)
    return [queue[n] for n in range(longest) for queue in queues if n < len(queue)]


def origins(urls: Iterable[str]) -> set[str]:
    """The sites robots.txt is kept for (a URL too broken to have one is left out: its
    download fails on its own)."""
    found = set()
    for url in urls:
        try:
            found.add(origin_of(url))
        except ValueError:
            continue
    return found


def _host(link: str | None) -> str:
    try:
        return urlsplit(link or "").hostname or ""
    except ValueError:
        return ""


def unseen_items(settings: Settings, polls: list[FeedPoll]) -> list[FeedItem]:
    """Items of the polls not stored yet (by URL, feed link or feed GUID), one per URL."""
    items: dict[str, FeedItem] = {}
    for poll in polls:
        for item in poll.items:
            items.setdefault(item.url, item)
    with db.transaction(db.session_factory(settings)) as session:
        known = store.articles.known_urls(session, items)
        seen = store.articles.known_guids(
            session, [(i.feed_id, i.guid) for i in items.values() if i.guid]
        )
    return [
        item
        for url, item in items.items()
        if url not in known and (item.feed_id, item.guid) not in seen
    ]


def process_feeds(settings: Settings, feed_ids: list[int]) -> StageReport:
    """Poll the feeds, fetch and extract the new articles, tag them, store them: one batch.

    Articles are committed `store_batch` at a time; the feeds' new validators only after all
    of them, so a batch that dies midway is polled again in full and skips what it stored.
    """
    counts: Counter[str] = Counter()
    errors: list[str] = []
    watch = Stopwatch()
    factory = db.session_factory(settings)
    config = load_config(settings.config_dir)
    topics = compile_topics(topic.rule for topic in config.topics)
    with db.transaction(factory) as session:
        feeds = store.feeds.feed_states(session, feed_ids)
    names = {feed.id: feed.name for feed in feeds}
    index = stories.StoryIndex(settings.story_similarity)  # grows chunk by chunk
    unstored: dict[int, list[str]] = {}  # feed id -> why some of its items could not be stored

    def item_failed(feed_id: int, url: str, reason: str) -> None:
        counts[Outcome.ITEMS_FAILED] += 1
        unstored.setdefault(feed_id, []).append(reason)
        errors.append(f"item {url}: {reason}")

    def save_chunk(chunk: list[Extracted]) -> None:
        tagged: list[tuple[Article, list[Match]]] = []
        for done in chunk:
            article = done.article
            counts[Outcome.PAGES_FETCHED] += done.item.link is not None and done.page_error is None
            if article is None:
                item_failed(done.item.feed_id, done.item.url, done.page_error or "no article")
                continue
            if done.page_error:
                counts[Outcome.PAGES_FAILED] += 1
                errors.append(f"page {done.item.link or done.item.url}: {done.page_error}")
                log.warning(
                    "page=%s error=%r fallback=%s",
                    done.item.link,
                    done.page_error,
                    article.text_source,
                )
            counts[Outcome.FALLBACK_USED] += article.text_source != "page"
            with watch.stage("tag"):
                matches = match_text(
                    article.title,
                    article.text,
                    topics,
                    source=names.get(article.feed_id, ""),
                    lang=article.language,
                )
            tagged.append((article, matches))
        with watch.stage("store"):
            try:
                write(tagged)
            except Exception as exc:
                # One bad article must not cost the chunk's others: store them one at a time.
                log.warning("chunk of %d not stored (%s); one article at a time", len(tagged), exc)
                for one in tagged:
                    try:
                        write([one])
                    except Exception as exc_one:
                        log.exception("article=%s not stored", one[0].url)
                        article = one[0]
                        item_failed(article.feed_id, article.url, f"not stored: {failure(exc_one)}")

    def write(tagged: list[tuple[Article, list[Match]]]) -> None:
        nonlocal index
        try:
            with db.transaction(factory) as session:
                written = store.articles.save_articles(
                    session,
                    tagged,
                    clock.now(),
                    similarity=settings.story_similarity,
                    window=timedelta(days=settings.story_window_days),
                    index=index,
                )
            counts.update(written)
        except Exception:
            # The index learnt signatures of articles that were rolled back: start it afresh
            # from what the store holds.
            index = stories.StoryIndex(settings.story_similarity)
            raise

    async def run() -> list[FeedPoll]:
        async with CpuPool(settings.extract_workers) as pool:
            try:
                return await stream_articles(settings, feeds, pool, save_chunk, watch)
            finally:
                watch.add("extract", pool.seconds["extract"])

    polls = asyncio.run(run())
    for poll in polls:
        if poll.feed_id in unstored:
            poll.unstored = unstored[poll.feed_id]
        counts[FEED_OUTCOMES[poll.status]] += 1
        counts[Outcome.ITEMS_SEEN] += len(poll.items)
        if poll.empty_items:
            counts[Outcome.ITEMS_EMPTY] += poll.empty_items
        log.info(
            "feed=%r status=%s http=%s items=%d error=%r",
            names[poll.feed_id],
            poll.status,
            poll.http_status,
            len(poll.items),
            poll.error or poll.warning,
        )
        if poll.error or poll.warning:
            errors.append(f"feed {names[poll.feed_id]!r}: {poll.error or poll.warning}")
    at = clock.now()
    with watch.stage("store"):
        errors.extend(record_all(factory, polls, at, settings, names))
        try:
            with db.transaction(factory) as session:
                # Every (article, feed) pair seen, including items another feed or run stored first.
                every = [item for poll in polls for item in poll.items]
                stored = store.articles.known_urls(session, [item.url for item in every])
                store.articles.add_sources(
                    session,
                    [(stored[i.url], i.feed_id, i.guid, None) for i in every if i.url in stored],
                    at,
                )
        except Exception as exc:
            log.exception("sources not recorded")
            errors.append(f"sources not recorded: {failure(exc)}")
    return StageReport(
        counts=dict(counts), durations=watch.durations(), errors=errors, batch=list(feed_ids)
    )


def record_all(
    factory: sessionmaker[Session],
    polls: list[FeedPoll],
    at: datetime,
    settings: Settings,
    names: dict[int, str],
) -> list[str]:
    """Store every poll's outcome in one transaction, each under a savepoint of its own, so one
    cannot undo another; a feed whose outcome fails is then recorded alone by `record`, and all
    of them are when the transaction itself fails. The notes worth reporting.

    A transaction per feed waited for a commit each: 0.85 s for 500 feeds at the end of a run,
    while the extraction workers had nothing left to do."""
    notes: list[str] = []
    alone: list[FeedPoll] = []
    try:
        with db.transaction(factory) as session:
            # Held to the end: the session keeps only the feeds something refers to.
            loaded = store.feeds.load_feeds(session, [poll.feed_id for poll in polls])
            for poll in polls:
                try:
                    with session.begin_nested():
                        note = store.feeds.record_poll(session, poll, at, settings)
                except Exception:
                    log.exception(
                        "feed=%r poll outcome not stored with the others", names[poll.feed_id]
                    )
                    alone.append(poll)
                    continue
                if note:
                    notes.append(note)
            del loaded
    except Exception:
        log.exception("poll outcomes not stored together; one feed at a time")
        notes, alone = [], polls
    for poll in alone:
        notes.extend(record(factory, poll, at, settings, names[poll.feed_id]))
    return notes


def record(
    factory: sessionmaker[Session], poll: FeedPoll, at: datetime, settings: Settings, name: str
) -> list[str]:
    """Store one feed's poll outcome; if that fails, record the failure on the feed instead, so
    it backs off like any failing feed. The notes worth reporting."""
    try:
        with db.transaction(factory) as session:
            note = store.feeds.record_poll(session, poll, at, settings)
        return [note] if note else []
    except Exception as exc:
        log.exception("feed=%r poll outcome not stored", name)
        reason = f"poll outcome not stored: {failure(exc)}"
    failed = FeedPoll(feed_id=poll.feed_id, status="error", error=reason)
    try:
        with db.transaction(factory) as session:
            store.feeds.record_poll(session, failed, at, settings)
    except Exception as exc:
        log.exception("feed=%r failure not stored either", name)
        reason += f"; nor its failure: {failure(exc)}"
    return [f"feed {name!r}: {reason}"]
