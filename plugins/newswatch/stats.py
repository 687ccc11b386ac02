"""Run statistics from the `runs` table: per run and per UTC day, as records, a table or JSON.

Seconds per stage (`seconds_fetch`, …) add up the work of every batch, as `runs.durations` holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime
from typing import Any

from newswatch import models
from newswatch.outcomes import Outcome
from newswatch.timing import STAGES, summed


@dataclass(frozen=True)
class Totals:
    """The counters a run records; `alerts_pending` is a snapshot, so adding keeps the later one."""

    feeds_polled: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    pages_failed: int = 0
    articles_new: int = 0
    fallback_used: int = 0
    matches_new: int = 0
    topics_applied: int = 0  # new or edited topics applied to stored articles
    matches_retagged: int = 0  # matches they added, rewrote or removed
    alerts_withdrawn: int = 0  # unsent alerts of stories they no longer match
    findings_opened: int = 0  # the feed watchdog's
    alerts_sent: int = 0
    alerts_pending: int = 0
    alerts_failed: int = 0

    @classmethod
    def from_counts(cls, counts: Mapping[str, Any]) -> Totals:
        """Read a run's `counts` JSON; keys a run did not record count as zero."""

        def get(key: Outcome) -> int:
            return int(counts.get(key) or 0)

        return cls(
            feeds_polled=get(Outcome.FEEDS_OK)
            + get(Outcome.FEEDS_NOT_MODIFIED)
            + get(Outcome.FEEDS_ERROR),
            feeds_not_modified=get(Outcome.FEEDS_NOT_MODIFIED),
            feeds_failed=get(Outcome.FEEDS_ERROR),
            pages_failed=get(Outcome.PAGES_FAILED),
            articles_new=get(Outcome.ARTICLES_NEW),
            fallback_used=get(Outcome.FALLBACK_USED),
            matches_new=get(Outcome.MATCHES_NEW),
            topics_applied=get(Outcome.TOPICS_APPLIED),
            matches_retagged=get(Outcome.MATCHES_RETAGGED),
            alerts_withdrawn=get(Outcome.ALERTS_WITHDRAWN),
            findings_opened=get(Outcome.FINDINGS_OPENED),
            alerts_sent=get(Outcome.ALERTS_SENT),
            alerts_pending=get(Outcome.ALERTS_PENDING),
            alerts_failed=get(Outcome.ALERTS_FAILED),
        )

    def __add__(self, later: Totals) -> Totals:
        summed = {f.name: getattr(self, f.name) + getattr(later, f.name) for f in fields(self)}
        return replace(self, **{**summed, "alerts_pending": later.alerts_pending})


@dataclass(frozen=True)
class RunStats:
    run_id: int
    started_at: datetime
    trigger: str
    finished: bool
    errors: int
    totals: Totals
    durations: dict[str, float]


@dataclass(frozen=True)
class DayStats:
    day: date
    runs: int
    errors: int
    totals: Totals
    durations: dict[str, float]


def stage_seconds(durations: Mapping[str, Any]) -> dict[str, float]:
    """Every stage's `seconds_<stage>`, zero for a stage the run did not time."""
    return {f"seconds_{stage}": float(durations.get(f"seconds_{stage}") or 0) for stage in STAGES}


def run_stats(runs: Iterable[models.Run]) -> list[RunStats]:
    """The stats of each run (store.reads.runs_since), in the order given."""
    return [
        RunStats(
            run_id=run.id,
            started_at=run.started_at.astimezone(UTC),
            trigger=run.trigger,
            finished=run.finished_at is not None,
            errors=len(run.errors),
            totals=Totals.from_counts(run.counts),
            durations=stage_seconds(run.durations),
        )
        for run in runs
    ]


def daily(runs: Sequence[RunStats]) -> list[DayStats]:
    """Runs summed per UTC day of their start, oldest day first (runs given oldest first)."""
    days: dict[date, DayStats] = {}
    for run in runs:
        day = run.started_at.date()
        if day not in days:
            days[day] = DayStats(
                day=day,
                runs=1,
                errors=run.errors,
                totals=run.totals,
                durations=run.durations,
            )
            continue
        seen = days[day]
        days[day] = DayStats(
            day=day,
            runs=seen.runs + 1,
            errors=seen.errors + run.errors,
            totals=seen.totals + run.totals,
            durations=summed([seen.durations, run.durations]),
        )
    return [days[day] for day in sorted(days)]


def as_json(runs: Sequence[RunStats], days: Sequence[DayStats]) -> dict[str, list[dict[str, Any]]]:
    """Flat rows (counters beside the row's own fields), ready for json.dumps."""

    def flat(row: RunStats | DayStats) -> dict[str, Any]:
        values = {k: v for k, v in asdict(row).items() if k not in ("totals", "durations")}
        values.update(asdict(row.totals))
        values.update(row.durations)
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}

    return {"runs": [flat(r) for r in runs], "days": [flat(d) for d in days]}


# Column header and counter, in the order the table shows them.
COLUMNS = [
    ("feeds", "feeds_polled"),
    ("304", "feeds_not_modified"),
    ("feed_err", "feeds_failed"),
    ("page_err", "pages_failed"),
    ("new", "articles_new"),
    ("fallback", "fallback_used"),
    ("matches", "matches_new"),
    ("sent", "alerts_sent"),
    ("pending", "alerts_pending"),
    ("failed", "alerts_failed"),
]


def format_table(
    runs: Sequence[RunStats], days: Sequence[DayStats], durations: bool = False
) -> str:
    """Two plain-text tables: one line per run, then one line per day; with `durations`, the
    seconds per stage follow the counters."""
    if not runs:
        return "no runs in this period"
    counters = "".join(f"{header:>{_width(header)}}" for header, _ in COLUMNS)
    if durations:
        counters += "".join(f"{'s_' + stage:>{_width('s_' + stage)}}" for stage in STAGES)
    lines = [f"{'run':>6}  {'started (UTC)':<16}  {'trigger':<8}{counters}  errors"]
    for run in runs:
        started = run.started_at.strftime("%Y-%m-%d %H:%M")
        state = "" if run.finished else "  (unfinished)"
        lines.append(
            f"{run.run_id:>6}  {started:<16}  {run.trigger[:8]:<8}"
            f"{_counters(run.totals)}{_seconds(run.durations, durations)}  {run.errors:>6}{state}"
        )
    lines += ["", f"{'day':<10}  {'runs':>4}{counters}  errors"]
    for day in days:
        lines.append(
            f"{day.day.isoformat():<10}  {day.runs:>4}{_counters(day.totals)}"
            f"{_seconds(day.durations, durations)}  {day.errors:>6}"
        )
    return "\n".join(lines)


def _width(header: str) -> int:
    return max(len(header), 4) + 2


def _counters(totals: Totals) -> str:
    return "".join(f"{getattr(totals, attr):>{_width(header)}}" for header, attr in COLUMNS)


def _seconds(durations: Mapping[str, float], shown: bool) -> str:
    if not shown:
        return ""
    return "".join(
        f"{durations[f'seconds_{stage}']:>{_width('s_' + stage)}.2f}" for stage in STAGES
    )
