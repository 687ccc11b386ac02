"""`newswatch` command line: one pass without Airflow, listings, database chores, the demo."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from newswatch.cli import search, stats
from newswatch.cli.alerts import alerts_app
from newswatch.cli.digest import digest_app
from newswatch.cli.errors import INTERRUPTED, NewswatchGroup
from newswatch.cli.feeds import feeds_app
from newswatch.cli.options import ConfigOption, JsonOption, get_settings, settings_for
from newswatch.cli.readers import readers_app
from newswatch.cli.tokens import tokens_app
from newswatch.cli.topics import topics_app

if TYPE_CHECKING:
    from newswatch.settings import Settings

# NewswatchGroup is the error boundary: bad input one line and exit 2, a failure exit 1.
app = typer.Typer(
    cls=NewswatchGroup,
    help="Follow topics across news feeds; alert by email, chat or webhook, or as Atom and JSON.",
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
app.add_typer(tokens_app, name="tokens")
app.command("stats")(stats.stats_command)
app.command("search")(search.search_command)


NowOption = Annotated[
    bool, typer.Option("--now", help="poll every enabled feed now, whatever its schedule")
]
FeedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--feed", metavar="<name>", help="poll this feed now (feeds.yaml name; repeat for more)"
    ),
]


@app.command()
def run(
    config: ConfigOption = None,
    now: NowOption = False,
    feed: FeedOption = None,
    as_json: JsonOption = False,
) -> None:
    """Poll the feeds that are due (all enabled ones with --now, or each --feed NAME), store and
    tag new articles, send pending alerts."""
    from newswatch import pipeline

    settings = settings_for(config)
    force: bool | set[str] = now
    if feed:
        force = set(feed)
        check_feed_names(settings, force)
    # A ConfigError (exit 2) or a database failure (exit 1) is reported by the error boundary.
    try:
        summary = pipeline.run_once(
            settings, track=batch_progress(sys.stdout, as_json), force=force
        )
    except KeyboardInterrupt:  # Ctrl-C: typer would exit 130 without a word
        typer.echo(
            "newswatch: interrupted; what was stored is kept, and the next run polls the rest "
            "and sends the alerts",
            err=True,
        )
        raise typer.Exit(INTERRUPTED) from None
    if as_json:
        typer.echo(json.dumps(summary.to_xcom(), default=str, indent=2))
        return
    typer.echo(f"run {summary.run_id} finished")
    for key, value in sorted(summary.counts.items()):
        typer.echo(f"  {key:<22} {value}")
    for error in summary.errors:
        typer.echo(f"  ! {error}")
    sent = ("alerts_sent", "overflow_sent", "digests_sent", "notices_sent")
    if any(summary.counts.get(key) for key in sent):
        for where in dict.fromkeys(summary.delivered_to):
            typer.echo(f"  emails went to {where}")


KNOWN_SHOWN = 10  # names listed after an unknown --feed; a long feeds.yaml is cut, not pasted


def check_feed_names(settings: Settings, names: set[str]) -> None:
    """Refuse a --feed that feeds.yaml does not name, or names disabled, before the run opens."""
    import shlex

    from newswatch.config.load import load_config
    from newswatch.config.models import shown

    feeds = {entry.name: entry for entry in load_config(settings.config_dir).feeds}
    unknown = sorted(names - feeds.keys())
    if unknown:
        known = sorted(feeds)
        listed = ", ".join(known[:KNOWN_SHOWN]) + (
            f" … ({len(known) - KNOWN_SHOWN} more: newswatch feeds list)"
            if len(known) > KNOWN_SHOWN
            else ""
        )
        raise typer.BadParameter(
            f"no feed named {', '.join(map(shown, unknown[:3]))} in feeds.yaml; "
            f"known: {listed or 'none'}",
            param_hint="--feed",
        )
    disabled = sorted(name for name in names if not feeds[name].enabled)
    if disabled:
        which = "feed " if len(disabled) == 1 else "feeds "
        which += ", ".join(map(shown, disabled)) + (" is" if len(disabled) == 1 else " are")
        enable = "; ".join(f"newswatch feeds enable {shlex.quote(name)}" for name in disabled)
        raise typer.BadParameter(
            f"{which} disabled in feeds.yaml; to poll again: {enable}", param_hint="--feed"
        )


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
def db_url(
    as_sqlalchemy: Annotated[
        bool,
        typer.Option("--sqlalchemy", help="the SQLAlchemy form (postgresql+psycopg://…)"),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the database URL for psql and libpq (starting the embedded server when none is
    configured): psql "$(newswatch db url)"."""
    from newswatch.store import db

    url = db.database_url(get_settings())
    if not as_sqlalchemy:
        url = db.libpq_url(url)
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
    stream: TextIO | None, as_json: bool
) -> Callable[[list[list[int]]], Iterable[list[int]]] | None:
    """A progress bar over the feed batches, only for a person at a terminal (never in --json;
    never without a standard output, which Python leaves None when it starts with it closed)."""
    if as_json or stream is None or not stream.isatty():
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
