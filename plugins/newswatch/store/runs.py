"""The runs table: one row per pipeline run, opened and finished with its totals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from newswatch import models
from newswatch.sanitize import ERROR_CHARS, clean_line


def start_run(session: Session, trigger: str, at: datetime) -> int:
    run = models.Run(started_at=at, trigger=trigger, counts={}, errors=[])
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    counts: dict[str, int],
    errors: list[str],
    at: datetime,
    durations: dict[str, float] | None = None,
) -> models.Run:
    run = session.get_one(models.Run, run_id)
    run.counts = counts
    run.durations = durations or {}
    run.errors = [clean_line(error, ERROR_CHARS) for error in errors]
    run.finished_at = at
    return run
