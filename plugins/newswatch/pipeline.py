"""The one place that knows the order: open run -> batch feeds -> process batches -> deliver -> finish.

Airflow tasks and `newswatch run` call these same functions; only ids and counts pass between them.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import cast
from urllib.parse import urlsplit

from newswatch import clock, database, mailer, store, stories
from newswatch.config import ConfigError, load_config
from newswatch.extract import extract_all
from newswatch.feeds import poll_feed
from newswatch.fetch import fetch_pages
from newswatch.http_client import Downloader
from newswatch.records import Article, FeedItem, FeedPoll, FeedState, Match, Page
from newswatch.settings import Settings
from newswatch.timing import Stopwatch, summed
from newswatch.topics import compile_topics, match_text

log = logging.getLogger(__name__)


@dataclass
class StageReport:
    """Counts, seconds per stage and error lines of one stage call; plain data for an XCom."""

    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    batch: list[int] | None = None
    delivered_to: str | None = None

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

    A host's feeds share a shard, so the per-host politeness limits of one worker hold for it.
    """
    slack = timedelta(minutes=settings.poll_slack_minutes)
    with database.transaction(database.session_factory(settings)) as session:
        due = store.due_feeds(session, clock.now(), slack)
    shards: dict[int, list[int]] = {}
    count = max(1, settings.feed_shards)
    for feed_id, url in due:
        host = (urlsplit(url).hostname or "").encode()
        shards.setdefault(zlib.crc32(host) % count, []).append(feed_id)
    return [shards[key] for key in sorted(shards)]


@dataclass
class Collected:
    """What one batch brought in from the network: every poll, the new items and their pages."""

    polls: list[FeedPoll]
    new_items: list[FeedItem]
    pages: dict[str, Page]


async def collect(settings: Settings, feeds: list[FeedState]) -> Collected:
    """Poll the feeds concurrently, then fetch the pages of items not stored yet."""
    factory = database.session_factory(settings)
    full_after = timedelta(days=settings.full_poll_after_days)
    now = clock.now()
    async with Downloader(settings) as downloader:
        polls = list(
            await asyncio.gather(
                *(
                    poll_feed(
                        downloader,
                        feed,
                        max_bytes=settings.max_feed_bytes,
                        conditional=feed.last_full_poll_at is not None
                        and now - feed.last_full_poll_at < full_after,
                    )
                    for feed in feeds
                )
            )
        )
        items: dict[str, FeedItem] = {}
        for poll in polls:
            for item in poll.items:
                items.setdefault(item.url, item)
        with database.transaction(factory) as session:
            known = store.known_urls(session, items)
            seen = store.known_guids(
                session, [(i.feed_id, i.guid) for i in items.values() if i.guid]
            )
        new_items = [
            item
            for url, item in items.items()
            if url not in known and (item.feed_id, item.guid) not in seen
        ]
        links = [item.link for item in new_items if item.link]
        pages = await fetch_pages(downloader, links, max_bytes=settings.max_page_bytes)
    return Collected(polls=polls, new_items=new_items, pages=pages)


def process_feeds(settings: Settings, feed_ids: list[int]) -> StageReport:
    """Poll the feeds, fetch and extract the new articles, tag them, store them: one batch."""
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
    with watch.stage("fetch"):
        got = asyncio.run(collect(settings, feeds))
    for poll in got.polls:
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
    tagged: list[tuple[Article, list[Match]]] = []
    jobs = [(item, got.pages.get(item.link) if item.link else None) for item in got.new_items]
    with watch.stage("extract"):
        articles = extract_all(
            jobs, workers=settings.extract_workers, timeout=settings.extract_timeout
        )
    for (item, page), article in zip(jobs, articles, strict=True):
        counts["pages_fetched"] += page is not None and page.error is None
        if page is not None and page.error:
            counts["pages_failed"] += 1
            report.errors.append(f"page {item.link}: {page.error}")
            log.warning("page=%s error=%r fallback=%s", item.link, page.error, article.text_source)
        counts["fallback_used"] += article.text_source != "page"
        with watch.stage("tag"):
            matches = match_text(
                article.title,
                article.text,
                topics,
                source=names.get(article.feed_id, ""),
                lang=article.language,
            )
        with watch.stage("store"):  # the story signature serves storing only
            if article.text_source != "title":  # a bare title is too short to compare stories by
                minhash = stories.to_bytes(stories.signature(article.text))
                article = replace(article, minhash=minhash)
        tagged.append((article, matches))
    at = clock.now()
    with watch.stage("store"), database.transaction(factory) as session:
        for poll in got.polls:
            note = store.record_poll(session, poll, at, settings)
            if note:
                report.errors.append(note)
        counts.update(
            store.save_articles(
                session,
                tagged,
                at,
                similarity=settings.story_similarity,
                window=timedelta(days=settings.story_window_days),
                channels=channels,
            )
        )
        # Every (article, feed) pair seen, including items another feed or run stored first.
        every = [item for poll in got.polls for item in poll.items]
        stored = store.known_urls(session, [item.url for item in every])
        store.add_sources(
            session,
            [(stored[i.url], i.feed_id, i.guid) for i in every if i.url in stored],
        )
    report.counts = dict(counts)
    report.durations = watch.durations()
    return report


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
    """Queue one digest per digest subscriber for the day ending at period_end (default now)."""
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
    batches = feed_batches(settings)
    reports = [process_feeds(settings, batch).as_dict() for batch in (track or iter)(batches)]
    reports.append(deliver(settings).as_dict())
    return finish_run(settings, run_id, reports, batches)
