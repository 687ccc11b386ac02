"""`newswatch stats`: per-run and per-day counts and seconds per stage, from the runs table."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer

from newswatch.cli.options import JsonOption, get_settings


def stats_command(
    days: Annotated[
        int, typer.Option("--days", min=1, max=36_500, help="runs started in the last N days")
    ] = 7,
    durations: Annotated[
        bool, typer.Option("--durations", help="add seconds per stage (fetch … deliver)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Per-run and per-day counts: feeds polled, 304s, failures, new articles, matches, alerts;
    --json always includes the seconds per stage."""
    from newswatch import clock, stats, store
    from newswatch.store import db

    settings = get_settings()
    since = clock.now() - timedelta(days=days)
    with db.read(settings) as session:
        runs = stats.run_stats(store.reads.runs_since(session, since))
    per_day = stats.daily(runs)
    if as_json:
        typer.echo(json.dumps(stats.as_json(runs, per_day), indent=2))
        return
    typer.echo(stats.format_table(runs, per_day, durations=durations))
