"""The one place that knows the order: open run -> batch feeds -> process batches -> deliver -> finish.

Airflow tasks and `newswatch run` call these same functions; only ids and counts pass between them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import cast

from newswatch import clock, database, mailer, store
from newswatch.config import load_config
from newswatch.extract import extract_article
from newswatch.feeds import poll_feed
from newswatch.fetch import fetch_pages
from newswatch.http_client import make_client
from newswatch.records import Article, FeedItem, Match
from newswatch.settings import Settings
from newswatch.topics import compile_topics, match_text

log = logging.getLogger(__name__)


@dataclass
class StageReport:
    """Counts and error lines of one stage call; plain data so it can travel as an XCom."""

    counts: dict[str, int] = field(default_factory=dict)
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
    """The enabled feeds' ids, in batches of `feeds_per_batch` (one mapped task each)."""
    with database.transaction(database.session_factory(settings)) as session:
        feed_ids = store.enabled_feed_ids(session)
    size = max(1, settings.feeds_per_batch)
    return [feed_ids[i : i + size] for i in range(0, len(feed_ids), size)]


def process_feeds(settings: Settings, feed_ids: list[int]) -> StageReport:
    """Poll the feeds, fetch and extract the new articles, tag them, store them: one batch."""
    report = StageReport(batch=list(feed_ids))
    counts: Counter[str] = Counter()
    factory = database.session_factory(settings)
    config = load_config(settings.config_dir)
    topics = compile_topics(config.topics)
    with database.transaction(factory) as session:
        feeds = store.feed_states(session, feed_ids)
    with make_client(settings) as client:
        polls = [poll_feed(client, feed, max_bytes=settings.max_feed_bytes) for feed in feeds]
        names = {feed.id: feed.name for feed in feeds}
        items: dict[str, FeedItem] = {}
        for poll in polls:
            counts[f"feeds_{poll.status}"] += 1
            log.info(
                "feed=%r status=%s http=%s items=%d error=%r",
                names[poll.feed_id],
                poll.status,
                poll.http_status,
                len(poll.items),
                poll.error,
            )
            if poll.status == "error":
                report.errors.append(f"feed {names[poll.feed_id]!r}: {poll.error}")
            for item in poll.items:
                items.setdefault(item.url, item)
            counts["items_seen"] += len(poll.items)
        with database.transaction(factory) as session:
            known = store.known_urls(session, items)
        new_items = [item for url, item in items.items() if url not in known]
        pages = fetch_pages(
            client,
            [item.link for item in new_items if item.link],
            max_bytes=settings.max_page_bytes,
            concurrency=settings.fetch_concurrency,
        )
    tagged: list[tuple[Article, list[Match]]] = []
    for item in new_items:
        page = pages.get(item.link) if item.link else None
        article = extract_article(item, page)
        counts["pages_fetched"] += page is not None and page.error is None
        if page is not None and page.error:
            counts["pages_failed"] += 1
            report.errors.append(f"page {item.link}: {page.error}")
            log.warning("page=%s error=%r fallback=%s", item.link, page.error, article.text_source)
        counts["fallback_used"] += article.text_source != "page"
        tagged.append((article, match_text(article.title, article.text, topics)))
    at = clock.now()
    with database.transaction(factory) as session:
        for poll in polls:
            store.record_poll(session, poll, at)
        counts.update(store.save_articles(session, tagged, at))
        # Every (article, feed) pair seen, including items another feed or run stored first.
        stored = store.known_urls(session, [item.url for poll in polls for item in poll.items])
        store.add_sources(
            session,
            [
                (stored[item.url], item.feed_id, item.guid)
                for poll in polls
                for item in poll.items
                if item.url in stored
            ],
        )
    report.counts = dict(counts)
    return report


def deliver(settings: Settings) -> StageReport:
    """Send every pending alert that is due."""
    factory = database.session_factory(settings)
    result = mailer.deliver_pending(factory, mailer.make_transport(settings), settings)
    counts = result.counts()
    with database.transaction(factory) as session:
        counts["alerts_pending"] = len(mailer.list_alerts(session, "pending", limit=100_000))
    return StageReport(counts=counts, errors=result.errors, delivered_to=result.where)


def finish_run(
    settings: Settings, run_id: int, reports: Iterable[dict[str, object]], expected_batches: int
) -> dict[str, object]:
    """Record the run's totals; raise after recording if a batch is missing, so the DAG run fails."""
    totals: Counter[str] = Counter()
    errors: list[str] = []
    seen = 0
    reports_list = list(reports)
    for report in reports_list:
        if report.get("batch") is not None:
            seen += 1
        totals.update(cast(dict[str, int], report.get("counts") or {}))
        errors.extend(cast(list[str], report.get("errors") or []))
    missing = expected_batches - seen
    if missing > 0:
        errors.append(f"{missing} feed batch(es) did not finish")
    factory = database.session_factory(settings)
    with database.transaction(factory) as session:
        store.finish_run(session, run_id, dict(totals), errors, clock.now())
    delivered_to = [r["delivered_to"] for r in reports_list if r.get("delivered_to")]
    summary = {
        "run_id": run_id,
        "counts": dict(totals),
        "errors": errors,
        "delivered_to": delivered_to,
    }
    if missing > 0:
        raise RuntimeError(f"run {run_id}: {missing} feed batch(es) did not finish")
    return summary


def run_once(settings: Settings, trigger: str = "cli") -> dict[str, object]:
    """One full pass without Airflow, through the same functions the DAG calls."""
    run_id = open_run(settings, trigger)
    batches = feed_batches(settings)
    reports = [process_feeds(settings, batch).as_dict() for batch in batches]
    reports.append(deliver(settings).as_dict())
    return finish_run(settings, run_id, reports, len(batches))
