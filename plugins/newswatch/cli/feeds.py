"""`newswatch feeds …`: what each feed is doing, and adding, enabling, disabling or re-pointing
feeds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newswatch.cli.options import ConfigOption, JsonOption, settings_for, shown_path

if TYPE_CHECKING:
    from newswatch.config.opml import Fate
    from newswatch.http_client import Download, Downloader
    from newswatch.settings import Settings

feeds_app = typer.Typer(
    help="Feeds: list, health, add, enable, disable, discover, import, export.",
    no_args_is_help=True,
)

NOT_POLLED = "not yet polled"


def feed_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every feed: feeds.yaml says which feeds there are and which are on (what the next run
    polls, even before any run has), the store what each one did."""
    from newswatch import store
    from newswatch.store import db

    feeds = []
    if db.current_revision(db.database_url(settings)) is not None:
        with db.read(settings) as session:
            feeds = store.reads.feed_health(session, failing_first=False)
    rows: dict[str, dict[str, Any]] = {
        f.name: {
            "name": f.name,
            "url": f.url,
            "enabled": f.enabled,
            "last_status": f.status,
            "last_polled_at": _iso(f.last_polled_at),
            "last_success_at": _iso(f.last_success_at),
            "consecutive_failures": f.consecutive_failures,
            "next_poll_at": _iso(f.next_poll_at),
            "items_per_day": f.items_per_day,
            "last_error": f.last_error,
            "last_item_at": _iso(f.last_item_at),
            "items_28d": list(f.daily),
            "findings": [
                {"kind": x.kind, "reason": x.reason, "since": _iso(x.since)} for x in f.findings
            ],
        }
        for f in feeds
    }
    configured = _configured(settings)
    if configured is not None:
        for name, row in rows.items():
            # feeds.yaml decides: a feed taken out of it is off, like the next run will have it.
            row["enabled"] = name in configured and configured[name][1]
        for name, (url, enabled) in configured.items():
            rows.setdefault(name, _unpolled(name, url, enabled))
    return [rows[name] for name in sorted(rows)]


def _configured(settings: Settings) -> dict[str, tuple[str, bool]] | None:
    """name -> (url, enabled) as feeds.yaml says; None (and a note on stderr) when the config
    cannot be read, so the listing still shows what the store knows."""
    from newswatch.config.load import ConfigError, load_config

    try:
        config = load_config(settings.config_dir)
    except ConfigError as exc:
        first = str(exc).splitlines()[0]
        typer.echo(f"config not read, showing the store only: {first}", err=True)
        return None
    return {feed.name: (feed.url, feed.enabled) for feed in config.feeds}


def _unpolled(name: str, url: str, enabled: bool) -> dict[str, Any]:
    """The row of a feed in feeds.yaml that no run has stored yet."""
    return {
        "name": name,
        "url": url,
        "enabled": enabled,
        "last_status": None,
        "last_polled_at": None,
        "last_success_at": None,
        "consecutive_failures": 0,
        "next_poll_at": None,
        "items_per_day": None,
        "last_error": None,
        "last_item_at": None,
        "items_28d": [],
        "findings": [],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value else None  # RFC 3339


def _print_rows(
    settings: Settings,
    as_json: bool,
    line: Callable[[dict[str, Any]], str],
    header: str | None = None,
) -> None:
    """The feed rows as JSON, or one line each (after the header, if any)."""
    rows = feed_rows(settings)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if header is not None:
        typer.echo(header)
    for row in rows:
        typer.echo(line(row))


@feeds_app.command("list")
def list_feeds(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Every feed in feeds.yaml or the store, on or off, with its last status and URL."""

    def line(row: dict[str, Any]) -> str:
        state = "on " if row["enabled"] else "off"
        status = row["last_status"] or NOT_POLLED
        return f"{state} {_fit(row['name'], 24)} {_fit(status, 16)} {row['url']}"

    _print_rows(settings_for(config), as_json, line)


# Each `feeds health` column but the last (the problem): heading, width in cells, right-aligned.
# Times are UTC to the minute ("2026-12-04 22:35").
HEALTH_COLUMNS = (
    ("feed", 24, False),
    ("status", 16, False),
    ("last item UTC", 16, False),
    ("fails", 5, True),
    ("next poll UTC", 16, False),
    ("items/d", 7, True),
    ("items per day, 28 d", 28, False),
)
UNKNOWN = "—"


@feeds_app.command("health")
def health(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Per feed: last status, when its newest item came, failures in a row, next poll, items
    per day (from the dates of the items it lists) and a 28-day sparkline of the items that
    reached us; then what the watchdog finds wrong, in plain words, else the last error."""
    from newswatch.watchdog import KIND_LABELS, sparkline

    def problem(r: dict[str, Any]) -> str:
        found = [f"{KIND_LABELS.get(f['kind'], f['kind'])}: {f['reason']}" for f in r["findings"]]
        return "; ".join(found) or r["last_error"] or ""

    def line(r: dict[str, Any]) -> str:
        if not r["enabled"]:
            next_poll = "disabled"
        else:
            next_poll = _minute(r["next_poll_at"]) if r["next_poll_at"] else "next run"
        rate = r["items_per_day"]
        cells = [
            r["name"],
            r["last_status"] or NOT_POLLED,
            _minute(r["last_item_at"]) if r["last_item_at"] else UNKNOWN,
            str(r["consecutive_failures"]),
            next_poll,
            UNKNOWN if rate is None else f"{rate:.1f}",
            sparkline(r["items_28d"]) if r["last_item_at"] else UNKNOWN,
        ]
        return _health_line(cells, problem(r))

    header = _health_line([title for title, _, _ in HEALTH_COLUMNS], "problem")
    _print_rows(settings_for(config), as_json, line, header)


def _health_line(cells: list[str], problem: str) -> str:
    fitted = [
        _fit(cell, width, right)
        for cell, (_, width, right) in zip(cells, HEALTH_COLUMNS, strict=True)
    ]
    return " ".join([*fitted, problem]).rstrip()


def _minute(iso: str) -> str:
    """An ISO time from the rows, as the text listings show it: UTC, to the minute."""
    from datetime import UTC, datetime

    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _fit(text: str, width: int, right: bool = False) -> str:
    """text in exactly `width` terminal cells: padded, or cut with an ellipsis (wide CJK
    characters count two cells, so a Japanese feed name keeps the columns aligned)."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) > width:
        # Cropped to whole characters; a wide one that does not fit leaves padding, stripped.
        text = set_cell_size(text, width - 1).rstrip() + "…"
    padding = " " * (width - cell_len(text))
    return padding + text if right else text + padding


@feeds_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="the feed's URL, or a web page that links one")],
    name: Annotated[
        str | None, typer.Option(help="display name (default: the feed's own title)")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a feed to feeds.yaml; a web page is replaced by the feed it links. Private and
    loopback addresses are refused unless NEWSWATCH_ALLOW_HOSTS names them."""
    from newswatch.config.edit import check_feed
    from newswatch.config.models import feed_name

    settings = settings_for(config)
    _refuse_unless_valid(lambda: check_feed(name, url))
    feed_url, title = asyncio.run(_resolve(settings, url))
    label = name or feed_name(title, feed_url)  # the feed's own title is the publisher's text

    def append(entries: list[dict[str, Any]]) -> None:
        entries.append({"name": label, "url": feed_url})

    _edit(settings, append)
    if as_json:
        typer.echo(json.dumps({"name": label, "url": feed_url}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"added {label!r}: {feed_url}")


@feeds_app.command("disable")
def disable(url_or_name: str, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Stop polling a feed (by URL or name); what it stored stays."""
    switched = _switch(settings_for(config), url_or_name, on=False)
    if as_json:
        typer.echo(json.dumps({"disabled": switched}, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"disabled {url_or_name}"
        if any(feed["changed"] for feed in switched)
        else f"{url_or_name} was disabled already"
    )


@feeds_app.command("enable")
def enable(url_or_name: str, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Poll a disabled feed (by URL or name) again, from its next scheduled poll."""
    import shlex

    switched = _switch(settings_for(config), url_or_name, on=True)
    if as_json:
        typer.echo(json.dumps({"enabled": switched}, indent=2, ensure_ascii=False))
        return
    names = " ".join(f"--feed {shlex.quote(str(feed['name']))}" for feed in switched)
    done = "enabled" if any(feed["changed"] for feed in switched) else "already enabled:"
    typer.echo(f"{done} {url_or_name} (`newswatch run {names}` polls it now)")


def _switch(settings: Settings, url_or_name: str, on: bool) -> list[dict[str, Any]]:
    """Turn the feeds.yaml entries named or at url_or_name on or off; the entries switched."""
    switched: list[dict[str, Any]] = []

    def change(entries: list[dict[str, Any]]) -> None:
        matches = [e for e in entries if url_or_name in (e.get("url"), e.get("name"))]
        if not matches:
            raise typer.BadParameter(f"no feed named or at {url_or_name!r} in feeds.yaml")
        for entry in matches:
            changed = (entry.get("enabled", True) is False) == on
            if on:
                entry.pop("enabled", None)  # on is the default: the entry reads as it was
            else:
                entry["enabled"] = False
            switched.append(
                {"name": entry.get("name"), "url": entry.get("url"), "changed": changed}
            )

    _edit(settings, change)
    return switched


@feeds_app.command("discover")
def discover(
    url: str,
    update: Annotated[
        str | None, typer.Option(help="point this feed (name) at the feed found")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the feeds a web page links; with --update NAME, re-point that feed in feeds.yaml."""
    settings = settings_for(config)
    found = asyncio.run(_discover(settings, url))
    if not found:
        if as_json:
            typer.echo(json.dumps({"url": url, "feeds": [], "updated": None}, indent=2))
        else:
            typer.echo(f"{url} links no RSS, Atom or JSON feed", err=True)
        raise typer.Exit(1)
    if not as_json:
        for feed_url in found:
            typer.echo(feed_url)
    if update:

        def repoint(entries: list[dict[str, Any]]) -> None:
            matches = [e for e in entries if e.get("name") == update]
            if not matches:
                raise typer.BadParameter(f"no feed named {update!r} in feeds.yaml")
            matches[0]["url"] = found[0]

        _edit(settings, repoint)
        if not as_json:
            typer.echo(f"{update!r} now polls {found[0]}")
    if as_json:
        result = {"url": url, "feeds": found, "updated": update}
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


@feeds_app.command("import")
def import_opml(
    file: Annotated[
        Path,
        typer.Argument(
            help="an OPML file, as feed readers export their subscriptions",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would change and write nothing")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add the feeds of an OPML file to feeds.yaml (folders flattened, their names not kept),
    one line per outline: added, already there (same address), or skipped and why. Private and
    loopback addresses are skipped unless NEWSWATCH_ALLOW_HOSTS names them."""
    from urllib.parse import urlsplit

    from newswatch.cli.options import file_problem
    from newswatch.config.edit import edit_feeds
    from newswatch.config.opml import MAX_OPML_BYTES, OpmlError, parse_opml, plan_import
    from newswatch.http_client import AddressGuard

    settings = settings_for(config)
    problem = file_problem(file, MAX_OPML_BYTES)
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    try:
        with file.open("rb") as opened:
            outlines = parse_opml(opened.read(MAX_OPML_BYTES + 1))
    except OpmlError as exc:
        typer.echo(f"{shown_path(file)}: {exc}", err=True)
        raise typer.Exit(2) from None
    guard = AddressGuard(settings.allow_hosts)
    fates: list[Fate] = []

    def add(entries: list[dict[str, Any]]) -> None:
        there = [(e.get("name"), e.get("url")) for e in entries if isinstance(e, dict)]
        fates[:] = plan_import(
            outlines,
            [(str(name), str(url)) for name, url in there],
            lambda url: guard.literal_refusal(urlsplit(url).hostname or ""),
        )
        for fate in fates:
            if fate.action == "added":
                off = {"enabled": False} if fate.outline.commented else {}
                entries.append({"name": fate.name, "url": fate.url, **off})

    _refuse_unless_valid(lambda: edit_feeds(settings.config_dir, add, dry_run=dry_run))
    counts = {action: sum(f.action == action for f in fates) for action in IMPORT_ACTIONS}
    if counts["added"] and not dry_run:
        _sync_store(settings)
    if as_json:
        rows = [_fate_row(fate) for fate in fates]
        result = {"file": str(file), "dry_run": dry_run, "counts": counts, "outlines": rows}
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for fate in fates:
        typer.echo(_fate_line(fate, dry_run))
    added = f"{counts['added']} {'would be added' if dry_run else 'added'}"
    summary = f"{added}, {counts['already_there']} already there, {counts['skipped']} skipped"
    typer.echo(f"dry run, feeds.yaml not changed: {summary}" if dry_run else summary)


IMPORT_ACTIONS = ("added", "already_there", "skipped")


def _fate_line(fate: Fate, dry_run: bool) -> str:
    """One outline's fate as the import reports it."""
    from newswatch.config.models import feed_name, shown
    from newswatch.sanitize import ERROR_CHARS, clean_line

    if fate.action == "added":
        notes = [fate.note] if fate.note else []
        notes += ["disabled, as the file marks it"] if fate.outline.commented else []
        told = f" ({'; '.join(notes)})" if notes else ""
        return f"{'would add' if dry_run else 'added'} {fate.name!r}: {fate.url}{told}"
    if fate.action == "already_there":
        repeat = f" ({fate.note})" if fate.note else ""
        return f"already there as {fate.name!r}{repeat}: {fate.url}"
    label = feed_name(fate.outline.label, "")
    which = f"outline {fate.outline.number}" + (f" ({shown(label)})" if label else "")
    return f"skipped {which}: {clean_line(fate.note, ERROR_CHARS)}"


def _fate_row(fate: Fate) -> dict[str, Any]:
    from newswatch.config.models import feed_name

    return {
        "outline": fate.outline.number,
        "label": feed_name(fate.outline.label, ""),
        "folder": fate.outline.folder,
        "result": fate.action,
        "name": fate.name or None,
        "url": fate.url or None,
        "enabled": not fate.outline.commented if fate.action == "added" else None,
        "note": fate.note or None,
    }


@feeds_app.command("export")
def export_opml(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="write to this file (replaced in one step) instead of standard output",
            dir_okay=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write every feed in feeds.yaml as OPML 2.0, for another feed reader; a disabled feed is
    kept, marked isComment="true" (which `feeds import` reads back as disabled)."""
    from newswatch import clock
    from newswatch.config.edit import replace_file
    from newswatch.config.load import load_config
    from newswatch.config.opml import write_opml

    feeds = load_config(settings_for(config).config_dir).feeds
    document = write_opml(feeds, clock.now())
    if output is None:
        typer.echo(document, nl=False)  # bytes, as they are: UTF-8, as the document declares
        return
    try:
        replace_file(output, document)
    except OSError as exc:
        typer.echo(f"{shown_path(output)}: cannot write: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{len(feeds)} feeds written to {output}")


def _edit(settings: Settings, change: Any) -> None:
    """Change feeds.yaml (only when the result is valid), then tell the store at once, so
    `feeds list`, `feeds health` and the dashboard show the change before the next run."""
    from newswatch.config.edit import edit_feeds

    _refuse_unless_valid(lambda: edit_feeds(settings.config_dir, change))
    _sync_store(settings)


def _sync_store(settings: Settings) -> None:
    """The config written to the store, as a run starts by doing. The file is what counts: when
    the database cannot be reached, the next run learns the change, and this says so."""
    from sqlalchemy.exc import SQLAlchemyError

    from newswatch.cli.errors import describe
    from newswatch.pipeline import sync_store

    try:
        with sync_store(settings):
            pass
    except (SQLAlchemyError, OSError) as exc:
        why = describe(exc)[1].removeprefix("newswatch: ")
        typer.echo(f"feeds.yaml changed; the store learns it at the next run ({why})", err=True)


def _refuse_unless_valid(attempt: Callable[[], object]) -> None:
    from newswatch.config.load import ConfigError

    try:
        attempt()
    except ConfigError as exc:
        problems = str(exc)
        sep = "\n" if "\n" in problems else " "  # one line per problem
        typer.echo(f"feeds.yaml left unchanged:{sep}{problems}", err=True)
        raise typer.Exit(2) from None


async def _discover(settings: Settings, url: str) -> list[str]:
    from newswatch import feeds
    from newswatch.http_client import Downloader

    async with Downloader(settings) as downloader:
        got = await _fetch(downloader, url, settings.max_page_bytes)
    return feeds.discover_feeds(got.body, got.final_url)


async def _resolve(settings: Settings, url: str) -> tuple[str, str | None]:
    """The feed URL to store for url (itself, or the feed its page links) and the feed's title."""
    from newswatch import feeds
    from newswatch.http_client import Downloader

    async with Downloader(settings) as downloader:
        got = await _fetch(downloader, url, settings.max_feed_bytes)
        try:
            return _feed_url_and_title(got, url)
        except feeds.FeedParseError:
            linked = feeds.discover_feeds(got.body, got.final_url)
            if not linked:
                raise typer.BadParameter(f"{url} is not a feed and links none") from None
        got = await _fetch(downloader, linked[0], settings.max_feed_bytes)
        try:
            return _feed_url_and_title(got, linked[0])
        except feeds.FeedParseError as exc:
            raise typer.BadParameter(f"{linked[0]}: {exc}") from None


async def _fetch(downloader: Downloader, url: str, max_bytes: int) -> Download:
    import httpx

    from newswatch.http_client import FetchError

    try:
        got = await downloader.get(url, max_bytes=max_bytes)
    except (FetchError, httpx.HTTPError, httpx.InvalidURL) as exc:
        raise typer.BadParameter(f"cannot fetch {url}: {exc}") from None
    if got.status != 200:
        raise typer.BadParameter(f"cannot fetch {url}: HTTP {got.status}")
    return got


def _feed_url_and_title(got: Download, requested: str) -> tuple[str, str | None]:
    from newswatch import feeds

    parsed = feeds.parse_feed(0, got.body, got.final_url, got.headers)
    return got.moved_to or requested, parsed.title
