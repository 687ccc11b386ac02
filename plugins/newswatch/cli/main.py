"""`newswatch` command line: one pass without Airflow, listings, database chores, the demo."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

import typer

from newswatch.cli import search, stats
from newswatch.cli.alerts import alerts_app
from newswatch.cli.digest import digest_app
from newswatch.cli.errors import NewswatchGroup
from newswatch.cli.feeds import feeds_app
from newswatch.cli.options import ConfigOption, JsonOption, get_settings, settings_for
from newswatch.cli.readers import readers_app
from newswatch.cli.topics import topics_app

# NewswatchGroup is the error boundary: bad input one line and exit 2, a failure exit 1.
app = typer.Typer(
    cls=NewswatchGroup,
    help="Follow topics across news feeds; alert by email.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The news store.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
app.add_typer(feeds_app, name="feeds")
app.add_typer(alerts_app, name="alerts")
app.add_typer(digest_app, name="digest")
app.add_typer(readers_app, name="readers")
app.command("stats")(stats.stats_command)
app.command("search")(search.search_command)


@app.command()
def run(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Poll every feed once, store and tag new articles, send pending alerts."""
    from newswatch import pipeline

    settings = settings_for(config)
    # A ConfigError (exit 2) or a database failure (exit 1) is reported by the error boundary.
    summary = pipeline.run_once(settings, track=batch_progress(sys.stdout, as_json))
    if as_json:
        typer.echo(json.dumps(summary.to_xcom(), default=str, indent=2))
        return
    typer.echo(f"run {summary.run_id} finished")
    for key, value in sorted(summary.counts.items()):
        typer.echo(f"  {key:<22} {value}")
    for error in summary.errors:
        typer.echo(f"  ! {error}")
    for where in summary.delivered_to:
        typer.echo(f"  emails went to {where}")


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOption = False) -> None:
    """Apply the Alembic migrations to the configured (or embedded) database."""
    from newswatch.store import db

    url = db.database_url(get_settings())
    db.upgrade(url)
    if as_json:
        typer.echo(json.dumps({"upgraded": True}))
        return
    typer.echo("database is at the newest migration")


@db_app.command("url")
def db_url(as_json: JsonOption = False) -> None:
    """Print the database URL (starting the embedded server when none is configured)."""
    from newswatch.store import db

    url = db.database_url(get_settings())
    typer.echo(json.dumps({"url": url}) if as_json else url)


@db_app.command("stop")
def db_stop(as_json: JsonOption = False) -> None:
    """Stop the embedded PostgreSQL server if it runs."""
    from newswatch.store import db

    stopped = db.stop_embedded(get_settings())
    if as_json:
        typer.echo(json.dumps({"stopped": stopped}))
        return
    typer.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


def batch_progress(
    stream: TextIO, as_json: bool
) -> Callable[[list[list[int]]], Iterable[list[int]]] | None:
    """A progress bar over the feed batches, only for a person at a terminal (never in --json)."""
    if as_json or not stream.isatty():
        return None
    from rich.console import Console
    from rich.progress import track

    console = Console(file=stream)

    def tracked(batches: list[list[int]]) -> Iterable[list[int]]:
        return track(batches, description="feed batches", console=console, transient=True)

    return tracked


@app.command()
def demo() -> None:
    """Run the DAG once on the bundled sample news day (what `make demo` does)."""
    from newswatch.cli.demo import run_demo

    sys.exit(run_demo(get_settings()))
