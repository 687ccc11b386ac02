"""The one place that knows the order: open run -> apply edited topics, batch feeds -> process
batches -> deliver -> finish.

Airflow tasks and `newswatch run` call these same functions; only ids and counts pass between them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newswatch import clock, store
from newswatch.config.load import ConfigError, load_config
from newswatch.delivery import channels, send, transports
from newswatch.outcomes import Outcome, RunSummary, StageReport, failure
from newswatch.settings import Settings
from newswatch.store import db
from newswatch.timing import Stopwatch, summed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def open_run(settings: Settings, trigger: str = "cli") -> int:
    """Validate config (stops here on any error), migrate, sync config to the store, open a run."""
    with sync_store(settings) as session:
        return store.runs.start_run(session, trigger, clock.now())


@contextmanager
def sync_store(settings: Settings) -> Iterator[Session]:
    """Validate config (raising on any error), migrate, and write the config to the store in a
    transaction that the caller may go on using."""
    config = load_config(settings.config_dir)
    db.upgrade(db.database_url(settings))
    with db.transaction(db.session_factory(settings)) as session:
        store.config.sync_config(session, config)
        yield session


def apply_changed_topics(settings: Settings) -> StageReport:
    """Apply each new or edited topic (its synced rule differs from the one last applied) to the
    articles of the last `story_window_days`, without alerts; each topic is its own failure
    domain, and one not applied is tried again by the next run."""
    from newswatch import retag

    factory = db.session_factory(settings)
    topics = {topic.name: topic for topic in load_config(settings.config_dir).topics}
    with db.transaction(factory) as session:
        names = store.config.unapplied_topics(session)
    since = clock.now() - timedelta(days=settings.story_window_days)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    for name in names:
        topic = topics.get(name)
        if topic is None or not topic.enabled:
            continue  # topics.yaml changed since the sync; the next run syncs and applies it
        try:
            done = retag.apply_topic(factory, topic.rule, since, alert=False, at=clock.now())
            with db.transaction(factory) as session:
                store.config.mark_applied(session, name, store.config.stored_rule(topic))
        except Exception as exc:
            log.exception("topic=%r not applied to stored articles", name)
            errors.append(f"topic {name!r} not applied to stored articles: {failure(exc)}")
            continue
        log.info(
            "topic=%r applied since %s: %d examined, %d added, %d updated, %d removed",
            name,
            since.isoformat(timespec="seconds"),
            done.examined,
            done.added,
            done.updated,
            done.removed,
        )
        counts[Outcome.TOPICS_APPLIED] += 1
        counts[Outcome.MATCHES_RETAGGED] += done.changed
        counts[Outcome.ALERTS_WITHDRAWN] += done.alerts_cancelled
    return StageReport(counts={k: n for k, n in counts.items() if n}, errors=errors)


def feed_batches(
    settings: Settings, force: bool | Collection[int | str] = False, shards: int | None = None
) -> list[list[int]]:
    """The feeds due now, split into at most `shards` (default `feed_shards`) batches, one
    mapped task each.

    With `force`, the schedule is skipped: True polls every enabled feed, a collection of feed
    ids or names polls those (ValueError when one is unknown or disabled). Politeness still holds.
    A host's feeds share a batch, so the per-host politeness limits of one worker hold for it;
    hosts go, largest first, to the batch with the fewest feeds so far, so batches stay even.
    """
    slack = timedelta(minutes=settings.poll_slack_minutes)
    with db.transaction(db.session_factory(settings)) as session:
        if isinstance(force, bool) and not force:
            due = store.feeds.due_feeds(session, clock.now(), slack)
        else:
            due = _forced(
                store.feeds.feeds_by_key(session, None if force is True else force), force
            )
    by_host: dict[str, list[int]] = {}
    for feed_id, url in due:
        by_host.setdefault(urlsplit(url).hostname or "", []).append(feed_id)
    batches: list[list[int]] = [[] for _ in range(max(1, shards or settings.feed_shards))]
    for host in sorted(by_host, key=lambda h: (-len(by_host[h]), h)):
        min(batches, key=len).extend(by_host[host])
    return [sorted(batch) for batch in batches if batch]


def _forced(
    feeds: list[store.feeds.FeedRef], force: bool | Collection[int | str]
) -> list[tuple[int, str]]:
    """(id, url) of the feeds a forced poll takes; refuses a named feed it cannot poll."""
    if not isinstance(force, bool):
        found = {feed.id for feed in feeds} | {feed.name for feed in feeds}
        unknown = sorted((key for key in force if key not in found), key=str)
        if unknown:
            raise ValueError(f"no feed {', '.join(map(repr, unknown))} in the store")
        disabled = sorted(feed.name for feed in feeds if not feed.enabled)
        if disabled:
            raise ValueError(f"feed {', '.join(map(repr, disabled))} is disabled")
    return [(feed.id, feed.url) for feed in feeds if feed.enabled]


def watch_feeds(settings: Settings) -> StageReport:
    """Hold every enabled feed against its baseline (watchdog.py) and store what is found; from
    the digest time on, queue the day's report to the operator when there is news in it."""
    from newswatch import watchdog

    now = clock.now()
    with db.transaction(db.session_factory(settings)) as session:
        histories = store.findings.histories(session, now)
        found = [
            finding
            for history in histories
            for finding in watchdog.findings(history, now, settings.max_consecutive_failures)
        ]
        changes = store.findings.record(session, found, [h.feed_id for h in histories], now)
        queued = queue_watch_report(session, settings, now)
    counts = {
        Outcome.FINDINGS_OPENED: changes.opened,
        Outcome.FINDINGS_RESOLVED: changes.resolved,
        Outcome.WATCH_REPORTS_QUEUED: queued,
    }
    return StageReport(counts={name: n for name, n in counts.items() if n})


def queue_watch_report(session: Session, settings: Settings, now: datetime) -> int:
    """Queue today's feed-watch report (one per channel) unless it is before the digest time,
    today's is queued already, nobody is there to tell, or nothing changed since the last one."""
    from zoneinfo import ZoneInfo

    from newswatch.delivery.messages.watch import REPORT_KIND, REPORT_LINES, watch_key

    local = now.astimezone(ZoneInfo(settings.digest_timezone))
    due = datetime.combine(local.date(), time.fromisoformat(settings.digest_time), local.tzinfo)
    routes = ([("email", [settings.operator_email])] if settings.operator_email else []) + [
        (f"apprise:{name}", [name]) for name in settings.operator_apprise_names
    ]
    day = local.date().isoformat()
    keys = {
        channel: watch_key(day) if channel == "email" else f"{watch_key(day)}\n{channel}"
        for channel, _ in routes
    }
    if local < due or not routes:
        return 0
    if any(store.outbox.notice_queued(session, key) for key in keys.values()):
        return 0  # today's report is queued: what is new since waits for tomorrow's
    opened, resolved = store.findings.untold(session)
    if not opened and not resolved:
        return 0  # silence on a day without change

    def row(item: store.findings.Told) -> dict[str, str | None]:
        return {
            "feed": item.feed,
            "kind": item.kind,
            "reason": item.reason,
            "since": item.since.isoformat(),
            "resolved": item.resolved.isoformat() if item.resolved else None,
        }

    report = {
        "kind": REPORT_KIND,
        "day": day,
        "zone": settings.digest_timezone,
        # The first REPORT_LINES of each, and how many in all: a DNS outage fails every feed.
        "opened": [row(item) for item in opened[:REPORT_LINES]],
        "resolved": [row(item) for item in resolved[:REPORT_LINES]],
        "opened_count": len(opened),
        "resolved_count": len(resolved),
        "feeds_opened": len({item.feed for item in opened}),
        "still_open": store.findings.still_open(session),
        "health_url": f"{settings.public_url.rstrip('/')}/feeds" if settings.public_url else None,
    }
    queued = 0
    for channel, recipients in routes:
        queued += store.outbox.queue_notice(
            session, keys[channel], report, recipients, now, channel
        )
    store.findings.mark_told(session, [*opened, *resolved], now)
    return queued


def deliver(settings: Settings) -> StageReport:
    """Watch the feeds (watch_feeds); send every pending alert that is due; then one "N more
    stories" message to each reader who went past the hourly cap and has no digest to carry the
    rest; then any notice to the operator still pending (the day's feed-watch report, or one
    written while the mail server was down)."""
    factory = db.session_factory(settings)
    chat, config_errors = config_channels(settings)
    watch = Stopwatch()
    try:
        watched = watch_feeds(settings)
    except Exception as exc:  # its own failure domain: alerts go out all the same
        log.exception("watching the feeds failed")
        watched = StageReport(errors=[f"feed watch: {failure(exc)}"])
    with watch.stage("deliver"):
        result = send.deliver_pending(factory, transports.make_transport(settings), settings, chat)
        with db.transaction(factory) as session:
            overflow = store.alerts.plan_overflow(session, clock.now())
        extra = [send.deliver_notices(factory, transports.make_transport(settings), settings)]
        if overflow or result.skipped["held"]:
            extra.append(
                send.deliver_digests(factory, transports.make_transport(settings), settings, chat)
            )
    counts: dict[str, int] = {
        Outcome.ALERTS_SENT: result.sent,
        Outcome.ALERTS_RETRYING: result.retrying,
        Outcome.ALERTS_FAILED: result.failed,
    }
    # Rare outcomes (the cap, an unsubscribe, a failed run told while the mail server was
    # down): counted when there were any.
    notices = extra[0]
    rare = {
        Outcome.ALERTS_HELD: result.skipped["held"],
        Outcome.ALERTS_CANCELLED: result.skipped["cancelled"],
        Outcome.OVERFLOW_SENT: extra[1].sent if len(extra) > 1 else 0,
        Outcome.NOTICES_SENT: notices.sent,
        Outcome.NOTICES_RETRYING: notices.retrying,
        Outcome.NOTICES_FAILED: notices.failed,
    }
    counts |= {outcome: n for outcome, n in rare.items() if n}
    with db.transaction(factory) as session:
        counts[Outcome.ALERTS_PENDING] = store.outbox.count_pending_alerts(session)
    return StageReport(
        counts=counts | watched.counts,
        durations=watch.durations(),
        errors=watched.errors
        + config_errors
        + result.errors
        + [e for r in extra for e in r.errors],
        delivered_to=result.where,
    )


def config_channels(settings: Settings) -> tuple[channels.Channels, list[str]]:
    """The config's Apprise and webhook channels, and why there are none. Messages already
    stored must go out even when today's config file is broken: then only the channels it
    names are unknown, and their messages wait, with the reason recorded."""
    try:
        return channels.Channels(settings, load_config(settings.config_dir).channel_env()), []
    except ConfigError as exc:
        return channels.Channels(settings), [f"config: {exc}"]


def plan_digests(settings: Settings, period_end: datetime | None = None) -> StageReport:
    """Queue one digest per digest subscriber and channel for the day ending at period_end
    (default now)."""
    config = load_config(settings.config_dir)
    end = (period_end or clock.now()).astimezone(UTC)
    queued = 0
    with db.transaction(db.session_factory(settings)) as session:
        for subscriber in config.digest_subscribers():
            queued += store.outbox.plan_digest(
                session, subscriber, end - timedelta(days=1), end, clock.now()
            )
    return StageReport(counts={Outcome.DIGESTS_QUEUED: queued})


def send_digests(settings: Settings) -> StageReport:
    """Send every pending digest that is due."""
    factory = db.session_factory(settings)
    chat, config_errors = config_channels(settings)
    result = send.deliver_digests(factory, transports.make_transport(settings), settings, chat)
    counts: dict[str, int] = {
        Outcome.DIGESTS_SENT: result.sent,
        Outcome.DIGESTS_RETRYING: result.retrying,
        Outcome.DIGESTS_FAILED: result.failed,
    }
    return StageReport(
        counts=counts, errors=config_errors + result.errors, delivered_to=result.where
    )


def finish_run(
    settings: Settings,
    run_id: int,
    reports: Iterable[StageReport],
    planned: list[list[int]],
    interrupted: bool = False,
) -> RunSummary:
    """Record the run's totals and seconds per stage (summed over batches); raise after
    recording if a batch is missing, so the DAG run fails, unless the run was `interrupted`
    (its KeyboardInterrupt is on its way)."""
    totals: Counter[str] = Counter({Outcome.FEEDS_DUE: sum(len(batch) for batch in planned)})
    errors: list[str] = []
    done = list(reports)
    for report in done:
        totals.update(report.counts)
        errors.extend(report.errors)
    missing = len(planned) - sum(report.batch is not None for report in done)
    if interrupted:
        errors.append("interrupted: the rest is polled and delivered by the next run")
    elif missing > 0:
        errors.append(f"{missing} feed batch(es) did not finish")
    summary = RunSummary(
        run_id=run_id,
        counts={str(name): count for name, count in totals.items()},
        durations=summed(report.durations for report in done),
        errors=errors,
        delivered_to=[report.delivered_to for report in done if report.delivered_to],
    )
    with db.transaction(db.session_factory(settings)) as session:
        store.runs.finish_run(
            session, run_id, summary.counts, errors, clock.now(), summary.durations
        )
    if missing > 0 and not interrupted:
        raise RuntimeError(f"run {run_id}: {missing} feed batch(es) did not finish")
    return summary


def run_once(
    settings: Settings,
    trigger: str = "cli",
    track: Callable[[list[list[int]]], Iterable[list[int]]] | None = None,
    force: bool | Collection[int | str] = False,
) -> RunSummary:
    """One full pass without Airflow, through the same functions the DAG calls; `track` wraps
    the feed batches as they are processed (the CLI's progress bar); `force` polls feeds
    whatever their schedule, as `feed_batches` takes it."""
    run_id = open_run(settings, trigger)
    batches: list[list[int]] = []
    reports: list[StageReport] = []
    interrupted = False
    try:
        try:
            reports.append(apply_changed_topics(settings))
        except Exception as exc:  # its own failure domain: the feeds are polled all the same
            log.exception("applying edited topics failed")
            reports.append(StageReport(errors=[f"applying edited topics: {failure(exc)}"]))
        # One batch: the shards are for Airflow's mapped tasks, which may run side by side; one
        # after another here, each waited on its own sites' politeness while the next batch's
        # sites could have been fetched.
        batches = feed_batches(settings, force, shards=1)
        if batches:  # the workers' forkserver imports trafilatura while this imports ingest
            from newswatch.workers import start_forkserver

            start_forkserver()
        for batch in (track or iter)(batches):
            try:
                from newswatch.ingest import process_feeds  # only when a feed is due

                reports.append(process_feeds(settings, batch))
            except Exception as exc:  # a batch that dies costs its feeds, not delivery or the run
                log.exception("batch %s failed", batch)
                reports.append(StageReport(errors=[f"batch {batch}: {failure(exc)}"]))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        # Alerts stored by this or an earlier run go out, and the run row finishes, whatever
        # happened above (finish_run raises afterwards when a batch did not finish). Not after
        # Ctrl-C: whoever pressed it wants the run to stop, not to start mailing; the outbox
        # keeps every alert for the next run.
        if not interrupted:
            try:
                reports.append(deliver(settings))
            except Exception as exc:
                log.exception("delivery failed")
                reports.append(StageReport(errors=[f"delivery: {failure(exc)}"]))
        summary = finish_run(settings, run_id, reports, batches, interrupted)
    return summary
