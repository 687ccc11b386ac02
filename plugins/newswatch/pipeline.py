"""The one place that knows the order: open run -> batch feeds -> process batches -> deliver -> finish.

Airflow tasks and `newswatch run` call these same functions; only ids and counts pass between them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import cast
from urllib.parse import urlsplit

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from newswatch import clock, database, mailer, store, stories
from newswatch.config import ConfigError, load_config
from newswatch.extract import extract_article
from newswatch.feeds import poll_feed
from newswatch.fetch import fetch_page
from newswatch.http_client import Downloader
from newswatch.records import Article, FeedItem, FeedPoll, FeedState, Match
from newswatch.sanitize import ERROR_CHARS, clean_line
from newswatch.settings import Settings
from newswatch.timing import Stopwatch, summed
from newswatch.topics import compile_topics, match_text
from newswatch.workers import CpuPool, JobFailed

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Who ran a stage: NEWSWATCH_WORKER_NAME when set (two workers on one host), else the host."""
    return os.environ.get("NEWSWATCH_WORKER_NAME") or socket.gethostname()


@dataclass
class StageReport:
    """Counts, seconds per stage and error lines of one stage call; plain data for an XCom."""

    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    batch: list[int] | None = None
    delivered_to: str | None = None
    worker: str = field(default_factory=worker_name)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def open_run(settings: Settings, trigger: str = "cli") -> int:
    """Validate config (stops here on any error), migrate, sync config to the store, open a run."""
    config = load_config(settings.config_dir)
    database.upgrade(database.database_url(settings))
    with database.transaction(database.session_factory(settings)) as session:
        store.sync_config(session, config)
        return store.start_run(session, trigger, clock.now())


def feed_batches(settings: Settings) -> list[list[int]]:
    """The feeds due now, split into at most `feed_shards` batches (one mapped task each).

    A host's feeds share a batch, so the per-host politeness limits of one worker hold for it;
    hosts go, largest first, to the batch with the fewest feeds so far, so batches stay even.
    """
    slack = timedelta(minutes=settings.poll_slack_minutes)
    with database.transaction(database.session_factory(settings)) as session:
        due = store.due_feeds(session, clock.now(), slack)
    by_host: dict[str, list[int]] = {}
    for feed_id, url in due:
        by_host.setdefault(urlsplit(url).hostname or "", []).append(feed_id)
    batches: list[list[int]] = [[] for _ in range(max(1, settings.feed_shards))]
    for host in sorted(by_host, key=lambda h: (-len(by_host[h]), h)):
        min(batches, key=len).extend(by_host[host])
    return [sorted(batch) for batch in batches if batch]


@dataclass
class Extracted:
    """An item after its page was fetched and extracted; the page body is already dropped.
    No article when not even the feed's own text could make one (the error says why)."""

    item: FeedItem
    page_error: str | None
    article: Article | None


def failure(exc: BaseException) -> str:
    """An unexpected exception as one bounded line for a feed's, an item's or a run's errors
    (a database error by the database's own first line, not the statement and its data)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    first = next((line for line in str(exc).splitlines() if line.strip()), "")
    return clean_line(f"{type(exc).__name__}: {first}", ERROR_CHARS)


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
    async with Downloader(settings, remember_robots=True) as downloader:

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
        new_items = await asyncio.to_thread(unseen_items, settings, polls)
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


def unseen_items(settings: Settings, polls: list[FeedPoll]) -> list[FeedItem]:
    """Items of the polls not stored yet (by URL, feed link or feed GUID), one per URL."""
    items: dict[str, FeedItem] = {}
    for poll in polls:
        for item in poll.items:
            items.setdefault(item.url, item)
    with database.transaction(database.session_factory(settings)) as session:
        known = store.known_urls(session, items)
        seen = store.known_guids(session, [(i.feed_id, i.guid) for i in items.values() if i.guid])
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
    report = StageReport(batch=list(feed_ids))
    counts: Counter[str] = Counter()
    watch = Stopwatch()
    factory = database.session_factory(settings)
    config = load_config(settings.config_dir)
    topics = compile_topics(config.topics)
    channels = {topic.name: config.channels_for(topic.name) for topic in config.topics}
    with database.transaction(factory) as session:
        feeds = store.feed_states(session, feed_ids)
    names = {feed.id: feed.name for feed in feeds}
    index = stories.StoryIndex(settings.story_similarity)  # grows chunk by chunk
    unstored: dict[int, list[str]] = {}  # feed id -> why some of its items could not be stored

    def item_failed(feed_id: int, url: str, reason: str) -> None:
        counts["items_failed"] += 1
        unstored.setdefault(feed_id, []).append(reason)
        report.errors.append(f"item {url}: {reason}")

    def save_chunk(chunk: list[Extracted]) -> None:
        tagged: list[tuple[Article, list[Match]]] = []
        for done in chunk:
            article = done.article
            counts["pages_fetched"] += done.item.link is not None and done.page_error is None
            if article is None:
                item_failed(done.item.feed_id, done.item.url, done.page_error or "no article")
                continue
            if done.page_error:
                counts["pages_failed"] += 1
                report.errors.append(f"page {done.item.link or done.item.url}: {done.page_error}")
                log.warning(
                    "page=%s error=%r fallback=%s",
                    done.item.link,
                    done.page_error,
                    article.text_source,
                )
            counts["fallback_used"] += article.text_source != "page"
            with watch.stage("tag"):
                matches = match_text(
                    article.title,
                    article.text,
                    topics,
                    source=names.get(article.feed_id, ""),
                    lang=article.language,
                )
            with watch.stage("cluster"):
                if stories.identifies(article.text, article.text_source):
                    minhash = stories.to_bytes(stories.signature(article.text))
                    article = replace(article, minhash=minhash)
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
            with database.transaction(factory) as session:
                written = store.save_articles(
                    session,
                    tagged,
                    clock.now(),
                    similarity=settings.story_similarity,
                    window=timedelta(days=settings.story_window_days),
                    channels=channels,
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
        counts[f"feeds_{poll.status}"] += 1
        counts["items_seen"] += len(poll.items)
        log.info(
            "feed=%r status=%s http=%s items=%d error=%r",
            names[poll.feed_id],
            poll.status,
            poll.http_status,
            len(poll.items),
            poll.error or poll.warning,
        )
        if poll.error or poll.warning:
            report.errors.append(f"feed {names[poll.feed_id]!r}: {poll.error or poll.warning}")
    at = clock.now()
    with watch.stage("store"):
        for poll in polls:  # each feed's outcome in its own transaction: one cannot undo another
            report.errors.extend(record(factory, poll, at, settings, names[poll.feed_id]))
        try:
            with database.transaction(factory) as session:
                # Every (article, feed) pair seen, including items another feed or run stored first.
                every = [item for poll in polls for item in poll.items]
                stored = store.known_urls(session, [item.url for item in every])
                store.add_sources(
                    session,
                    [(stored[i.url], i.feed_id, i.guid, None) for i in every if i.url in stored],
                )
        except Exception as exc:
            log.exception("sources not recorded")
            report.errors.append(f"sources not recorded: {failure(exc)}")
    report.counts = dict(counts)
    report.durations = watch.durations()
    return report


def record(
    factory: sessionmaker[Session], poll: FeedPoll, at: datetime, settings: Settings, name: str
) -> list[str]:
    """Store one feed's poll outcome; if that fails, record the failure on the feed instead, so
    it backs off like any failing feed. The notes worth reporting."""
    try:
        with database.transaction(factory) as session:
            note = store.record_poll(session, poll, at, settings)
        return [note] if note else []
    except Exception as exc:
        log.exception("feed=%r poll outcome not stored", name)
        reason = f"poll outcome not stored: {failure(exc)}"
    failed = FeedPoll(feed_id=poll.feed_id, status="error", error=reason)
    try:
        with database.transaction(factory) as session:
            store.record_poll(session, failed, at, settings)
    except Exception as exc:
        log.exception("feed=%r failure not stored either", name)
        reason += f"; nor its failure: {failure(exc)}"
    return [f"feed {name!r}: {reason}"]


def deliver(settings: Settings) -> StageReport:
    """Send every pending alert that is due."""
    factory = database.session_factory(settings)
    # Alerts already stored must go out even when today's config file is broken: then only the
    # Apprise channels it names are unknown, and those alerts wait, with the reason recorded.
    config_errors: list[str] = []
    try:
        apprise_env = load_config(settings.config_dir).apprise_env()
    except ConfigError as exc:
        apprise_env, config_errors = {}, [f"config: {exc}"]
    watch = Stopwatch()
    with watch.stage("deliver"):
        result = mailer.deliver_pending(
            factory, mailer.make_transport(settings), settings, mailer.AppriseChannels(apprise_env)
        )
    counts = result.counts()
    with database.transaction(factory) as session:
        counts["alerts_pending"] = len(mailer.list_alerts(session, "pending", limit=100_000))
    return StageReport(
        counts=counts,
        durations=watch.durations(),
        errors=config_errors + result.errors,
        delivered_to=result.where,
    )


def plan_digests(settings: Settings, period_end: datetime | None = None) -> StageReport:
    """Queue one digest per digest subscriber and channel for the day ending at period_end
    (default now)."""
    config = load_config(settings.config_dir)
    end = (period_end or clock.now()).astimezone(UTC)
    queued = 0
    with database.transaction(database.session_factory(settings)) as session:
        for subscriber in config.digest_subscribers():
            queued += store.plan_digest(
                session, subscriber, end - timedelta(days=1), end, clock.now()
            )
    return StageReport(counts={"digests_queued": queued})


def send_digests(settings: Settings) -> StageReport:
    """Send every pending digest that is due."""
    factory = database.session_factory(settings)
    result = mailer.deliver_digests(factory, mailer.make_transport(settings), settings)
    counts = {
        "digests_sent": result.sent,
        "digests_retrying": result.retrying,
        "digests_failed": result.failed,
    }
    return StageReport(counts=counts, errors=result.errors, delivered_to=result.where)


def finish_run(
    settings: Settings,
    run_id: int,
    reports: Iterable[dict[str, object]],
    planned: list[list[int]],
) -> dict[str, object]:
    """Record the run's totals and seconds per stage (summed over batches); raise after
    recording if a batch is missing, so the DAG run fails."""
    totals: Counter[str] = Counter({"feeds_due": sum(len(batch) for batch in planned)})
    errors: list[str] = []
    durations: list[dict[str, float]] = []
    seen = 0
    reports_list = list(reports)
    for report in reports_list:
        if report.get("batch") is not None:
            seen += 1
        totals.update(cast(dict[str, int], report.get("counts") or {}))
        durations.append(cast(dict[str, float], report.get("durations") or {}))
        errors.extend(cast(list[str], report.get("errors") or []))
    missing = len(planned) - seen
    if missing > 0:
        errors.append(f"{missing} feed batch(es) did not finish")
    seconds = summed(durations)
    factory = database.session_factory(settings)
    with database.transaction(factory) as session:
        store.finish_run(session, run_id, dict(totals), errors, clock.now(), seconds)
    delivered_to = [r["delivered_to"] for r in reports_list if r.get("delivered_to")]
    summary = {
        "run_id": run_id,
        "counts": dict(totals),
        "durations": seconds,
        "errors": errors,
        "delivered_to": delivered_to,
    }
    if missing > 0:
        raise RuntimeError(f"run {run_id}: {missing} feed batch(es) did not finish")
    return summary


def run_once(
    settings: Settings,
    trigger: str = "cli",
    track: Callable[[list[list[int]]], Iterable[list[int]]] | None = None,
) -> dict[str, object]:
    """One full pass without Airflow, through the same functions the DAG calls; `track` wraps
    the feed batches as they are processed (the CLI's progress bar)."""
    run_id = open_run(settings, trigger)
    batches: list[list[int]] = []
    reports: list[dict[str, object]] = []
    try:
        batches = feed_batches(settings)
        for batch in (track or iter)(batches):
            try:
                reports.append(process_feeds(settings, batch).as_dict())
            except Exception as exc:  # a batch that dies costs its feeds, not delivery or the run
                log.exception("batch %s failed", batch)
                reports.append(StageReport(errors=[f"batch {batch}: {failure(exc)}"]).as_dict())
    finally:
        # Alerts stored by this or an earlier run go out, and the run row finishes, whatever
        # happened above (finish_run raises afterwards when a batch did not finish).
        try:
            reports.append(deliver(settings).as_dict())
        except Exception as exc:
            log.exception("delivery failed")
            reports.append(StageReport(errors=[f"delivery: {failure(exc)}"]).as_dict())
        summary = finish_run(settings, run_id, reports, batches)
    return summary
