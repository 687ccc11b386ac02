"""The watchdog's judgement of one feed against its own baseline (pure: no store, no network)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from newswatch.watchdog import FeedHistory, Kind, PageRead, findings, sparkline

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def weekday_feed(**changes: object) -> FeedHistory:
    """A feed that publishes every 2 hours on weekdays and nothing at weekends, healthy."""
    base = FeedHistory(
        feed_id=1,
        name="kyodo",
        last_status="ok 200",
        consecutive_failures=0,
        last_error=None,
        items=200,
        median_gap=2 * HOUR,
        long_gap=14 * HOUR,  # the nights
        longest_gap=62 * HOUR,  # the weekends
        last_item_at=NOW - HOUR,
        pages_before=180,
        read_before=171,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def kinds(history: FeedHistory, now: datetime = NOW) -> dict[Kind, str]:
    return {f.kind: f.reason for f in findings(history, now, dormant_after=10)}


def test_a_healthy_feed_has_no_finding() -> None:
    assert kinds(weekday_feed()) == {}


def test_a_weekend_silence_like_every_weekend_is_not_quiet() -> None:
    assert Kind.QUIET not in kinds(weekday_feed(last_item_at=NOW - 60 * HOUR))


def test_silence_beyond_the_longest_gap_and_twice_the_long_gap_is_quiet() -> None:
    reason = kinds(weekday_feed(last_item_at=NOW - 3 * DAY))[Kind.QUIET]
    assert reason == "no new item for 3 days; usually one every 2 h"


def test_a_busy_feed_is_quiet_only_after_a_day() -> None:
    busy = weekday_feed(median_gap=HOUR / 6, long_gap=HOUR, longest_gap=3 * HOUR)
    assert Kind.QUIET not in kinds(replace(busy, last_item_at=NOW - 20 * HOUR))
    assert Kind.QUIET in kinds(replace(busy, last_item_at=NOW - 25 * HOUR))


def test_too_little_history_says_nothing_about_quiet() -> None:
    assert Kind.QUIET not in kinds(weekday_feed(items=4, last_item_at=NOW - 20 * DAY))


def test_failures_in_a_row_and_dormancy_are_failing_with_the_error() -> None:
    three = kinds(weekday_feed(consecutive_failures=3, last_error="HTTP 503", last_status="error"))
    assert three[Kind.FAILING] == "3 failed polls in a row: HTTP 503"
    dormant = kinds(weekday_feed(consecutive_failures=12, last_error="timed out"))
    assert dormant[Kind.FAILING].startswith("dormant after 12 failed polls in a row")
    assert Kind.FAILING not in kinds(weekday_feed(consecutive_failures=2, last_error="HTTP 503"))


def test_a_410_is_gone_not_failing() -> None:
    found = kinds(weekday_feed(last_status="gone 410", consecutive_failures=10))
    assert set(found) == {Kind.GONE}


def test_a_redirect_onto_another_feeds_url_is_moved() -> None:
    found = kinds(weekday_feed(moved_onto="nikkei"))
    assert "feed 'nikkei'" in found[Kind.MOVED] and "feeds.yaml" in found[Kind.MOVED]


def test_a_warning_on_a_good_poll_is_a_parse_finding() -> None:
    found = kinds(weekday_feed(last_error="malformed XML recovered; 3 items cut at the cap"))
    assert found[Kind.PARSE] == "read, but malformed XML recovered; 3 items cut at the cap"


def pages(read: int, unread: int = 0, walls: int = 0) -> list[PageRead]:
    at = NOW - HOUR
    return (
        [PageRead(at, True)] * read
        + [PageRead(at, False, why="HTTP 403")] * unread
        + [PageRead(at, False, wall=True, why="verify you are human")] * walls
    )


def test_walls_on_half_the_days_pages_are_blocked_pages() -> None:
    reason = kinds(weekday_feed(recent=pages(read=2, walls=2)))[Kind.BLOCKED]
    assert reason == (
        "2 of the 4 pages fetched in the last day were a cookie, login, paywall or bot-check "
        "page, not the article (one said 'verify you are human'); alerts use the feed's own "
        "text instead"
    )


def test_pages_read_far_below_the_feeds_normal_are_blocked_pages() -> None:
    reason = kinds(weekday_feed(recent=pages(read=1, unread=5)))[Kind.BLOCKED]
    assert reason == (
        "only 17% of its pages in the last day gave their article text, against 95% before; "
        "the latest: HTTP 403"
    )


def test_a_feed_whose_pages_never_read_well_is_not_judged_on_them() -> None:
    paywalled = weekday_feed(read_before=40, recent=pages(read=0, unread=6))
    assert Kind.BLOCKED not in kinds(paywalled)
    assert Kind.BLOCKED not in kinds(weekday_feed(recent=pages(read=0, unread=2)))  # too few


def test_a_sparkline_keeps_empty_days_as_the_lowest_bar() -> None:
    assert sparkline([0, 1, 2, 5, 10, 0, 3]) == "▁▃▃▅█▁▄"
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([]) == ""
