"""What a run produced, as typed records: the fixed outcome names its counts use, one stage's
report and the run's summary, each with an explicit XCom form.

No Airflow or database imports, so the DAG files, the pipeline, the store and stats share them;
the outcome strings are the keys `runs.counts` has always held, so stored rows still read.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

from newswatch.sanitize import ERROR_CHARS, clean_line


class Outcome(StrEnum):
    """Every name a stage counts under; the value is the key stored in `runs.counts`."""

    FEEDS_DUE = "feeds_due"
    FEEDS_OK = "feeds_ok"
    FEEDS_NOT_MODIFIED = "feeds_not_modified"
    FEEDS_GONE = "feeds_gone"
    FEEDS_ERROR = "feeds_error"
    ITEMS_SEEN = "items_seen"
    ITEMS_FAILED = "items_failed"
    ITEMS_EMPTY = "items_empty"  # no title, no link and no text: never stored
    PAGES_FETCHED = "pages_fetched"
    PAGES_FAILED = "pages_failed"
    FALLBACK_USED = "fallback_used"
    ARTICLES_NEW = "articles_new"
    DUPLICATES = "duplicates"
    STORIES_NEW = "stories_new"
    STORY_COPIES = "story_copies"
    MATCHES_NEW = "matches_new"
    TOPICS_APPLIED = "topics_applied"  # new or edited topics applied to the story window
    MATCHES_RETAGGED = "matches_retagged"  # stored matches they added, rewrote or removed
    ALERTS_WITHDRAWN = "alerts_withdrawn"  # unsent alerts of stories they no longer match
    ALERTS_NEW = "alerts_new"
    ALERTS_SENT = "alerts_sent"
    ALERTS_RETRYING = "alerts_retrying"
    ALERTS_FAILED = "alerts_failed"
    ALERTS_PENDING = "alerts_pending"
    ALERTS_HELD = "alerts_held"  # past the reader's hourly cap: their digest carries them
    ALERTS_CANCELLED = "alerts_cancelled"  # the reader unsubscribed or left the config
    OVERFLOW_SENT = "overflow_sent"  # "N more stories" messages to readers without a digest
    DIGESTS_QUEUED = "digests_queued"
    DIGESTS_SENT = "digests_sent"
    DIGESTS_RETRYING = "digests_retrying"
    DIGESTS_FAILED = "digests_failed"
    NOTICES_SENT = "notices_sent"
    NOTICES_RETRYING = "notices_retrying"
    NOTICES_FAILED = "notices_failed"
    FINDINGS_OPENED = "findings_opened"  # the watchdog found something new wrong with a feed
    FINDINGS_RESOLVED = "findings_resolved"
    WATCH_REPORTS_QUEUED = "watch_reports_queued"  # the day's report to the operator


# A feed poll's status (records.FeedPoll.status) and the outcome it is counted under.
FEED_OUTCOMES: Mapping[str, Outcome] = {
    "ok": Outcome.FEEDS_OK,
    "not_modified": Outcome.FEEDS_NOT_MODIFIED,
    "gone": Outcome.FEEDS_GONE,
    "error": Outcome.FEEDS_ERROR,
}


def failure(exc: BaseException) -> str:
    """An unexpected exception as one bounded line for a feed's, an item's or a run's errors
    (a database error by the database's own first line, not the statement and its data)."""
    # Only a loaded SQLAlchemy can have raised a DBAPIError: this module stays light.
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    first = next((line for line in str(exc).splitlines() if line.strip()), "")
    return clean_line(f"{type(exc).__name__}: {first}", ERROR_CHARS)


def worker_name() -> str:
    """Who ran a stage: NEWSWATCH_WORKER_NAME when set (two workers on one host), else the host."""
    return os.environ.get("NEWSWATCH_WORKER_NAME") or socket.gethostname()


class StageReportXCom(TypedDict):
    counts: dict[str, int]
    durations: dict[str, float]
    errors: list[str]
    batch: list[int] | None
    delivered_to: str | None
    worker: str


class RunSummaryXCom(TypedDict):
    run_id: int
    counts: dict[str, int]
    durations: dict[str, float]
    errors: list[str]
    delivered_to: list[str]


def _counts(data: Mapping[str, Any], key: str) -> dict[str, int]:
    return {str(name): int(value) for name, value in (data.get(key) or {}).items()}


def _seconds(data: Mapping[str, Any], key: str) -> dict[str, float]:
    return {str(name): float(value) for name, value in (data.get(key) or {}).items()}


def _lines(data: Mapping[str, Any], key: str) -> list[str]:
    return [str(line) for line in data.get(key) or []]


@dataclass(frozen=True)
class StageReport:
    """Counts (by `Outcome`), seconds per stage and error lines of one stage call."""

    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    batch: list[int] | None = None
    delivered_to: str | None = None
    worker: str = field(default_factory=worker_name)

    def to_xcom(self) -> StageReportXCom:
        """Plain JSON types only (outcome keys as their strings)."""
        return {
            "counts": {str(name): value for name, value in self.counts.items()},
            "durations": dict(self.durations),
            "errors": list(self.errors),
            "batch": None if self.batch is None else list(self.batch),
            "delivered_to": self.delivered_to,
            "worker": self.worker,
        }

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> StageReport:
        """Read `to_xcom`'s dict back; a key it lacks takes its default."""
        batch = data.get("batch")
        return cls(
            counts=_counts(data, "counts"),
            durations=_seconds(data, "durations"),
            errors=_lines(data, "errors"),
            batch=None if batch is None else [int(feed_id) for feed_id in batch],
            delivered_to=data.get("delivered_to"),
            worker=str(data.get("worker") or worker_name()),
        )


@dataclass(frozen=True)
class RunSummary:
    """A finished run's totals (by `Outcome`), seconds per stage, errors and where mail went."""

    run_id: int
    counts: dict[str, int]
    durations: dict[str, float]
    errors: list[str]
    delivered_to: list[str]

    def to_xcom(self) -> RunSummaryXCom:
        """Plain JSON types only; also what `newswatch run --json` prints."""
        return {
            "run_id": self.run_id,
            "counts": {str(name): value for name, value in self.counts.items()},
            "durations": dict(self.durations),
            "errors": list(self.errors),
            "delivered_to": list(self.delivered_to),
        }

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> RunSummary:
        return cls(
            run_id=int(data["run_id"]),
            counts=_counts(data, "counts"),
            durations=_seconds(data, "durations"),
            errors=_lines(data, "errors"),
            delivered_to=_lines(data, "delivered_to"),
        )
