"""`newswatch feeds …`: what each feed is doing, and adding, disabling or re-pointing feeds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newswatch.cli.options import JsonOption, get_settings

if TYPE_CHECKING:
    from newswatch.http_client import Download, Downloader
    from newswatch.settings import Settings

feeds_app = typer.Typer(help="Feeds: health, add, disable, discover.", no_args_is_help=True)


def feed_rows(settings: Settings) -> list[dict[str, Any]]:
    from newswatch import store
    from newswatch.store import db

    with db.read(settings) as session:
        feeds = store.reads.feed_health(session, failing_first=False)
    return [
        {
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
        }
        for f in feeds
    ]


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="minutes") if value else None


def _print_rows(
    as_json: bool, line: Callable[[dict[str, Any]], str], header: str | None = None
) -> None:
    """The feed rows as JSON, or one line each (after the header, if any)."""
    rows = feed_rows(get_settings())
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if header is not None:
        typer.echo(header)
    for row in rows:
        typer.echo(line(row))


@feeds_app.command("list")
def list_feeds(as_json: JsonOption = False) -> None:
    """Every feed with its URL and last status."""

    def line(row: dict[str, Any]) -> str:
        state = "on " if row["enabled"] else "off"
        return f"{state} {row['name']:<24} {row['last_status'] or 'never polled':<18} {row['url']}"

    _print_rows(as_json, line)


@feeds_app.command("health")
def health(as_json: JsonOption = False) -> None:
    """Per feed: last status, last success, failures in a row, next poll, items per day, last error."""

    def line(r: dict[str, Any]) -> str:
        return (
            f"{r['name'][:22]:<22} {(r['last_status'] or 'never polled')[:18]:<18} "
            f"{r['last_success_at'] or '-':<17} {r['consecutive_failures']:>5} "
            f"{r['next_poll_at'] or 'now':<17} {r['items_per_day'] if r['items_per_day'] is not None else '-':>7}  "
            f"{r['last_error'] or ''}"
        )

    header = f"{'feed':<22} {'status':<18} {'last success':<17} {'fails':>5} {'next poll':<17} {'items/d':>7}  problem"
    _print_rows(as_json, line, header)


@feeds_app.command("add")
def add(
    url: str,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a feed to feeds.yaml; a web page is replaced by the feed it links."""
    from newswatch.config.edit import check_feed
    from newswatch.config.models import FEED_NAME_CHARS
    from newswatch.sanitize import clean_line

    settings = get_settings()
    _refuse_unless_valid(lambda: check_feed(name, url))
    feed_url, title = asyncio.run(_resolve(settings, url))
    # The feed's own title is the publisher's text: one clean line that fits feeds.name.
    label = name or clean_line(title or "", FEED_NAME_CHARS) or feed_url[:FEED_NAME_CHARS]

    def append(entries: list[dict[str, Any]]) -> None:
        entries.append({"name": label, "url": feed_url})

    _edit(settings, append)
    if as_json:
        typer.echo(json.dumps({"name": label, "url": feed_url}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"added {label!r}: {feed_url}")


@feeds_app.command("disable")
def disable(url_or_name: str, as_json: JsonOption = False) -> None:
    """Stop polling a feed (by URL or name); what it stored stays."""
    settings = get_settings()
    disabled: list[dict[str, Any]] = []

    def switch_off(entries: list[dict[str, Any]]) -> None:
        matches = [e for e in entries if url_or_name in (e.get("url"), e.get("name"))]
        if not matches:
            raise typer.BadParameter(f"no feed named or at {url_or_name!r} in feeds.yaml")
        for entry in matches:
            entry["enabled"] = False
        disabled.extend({"name": e.get("name"), "url": e.get("url")} for e in matches)

    _edit(settings, switch_off)
    if as_json:
        typer.echo(json.dumps({"disabled": disabled}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"disabled {url_or_name}")


@feeds_app.command("discover")
def discover(
    url: str,
    update: Annotated[
        str | None, typer.Option(help="point this feed (name) at the feed found")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the feeds a web page links; with --update NAME, re-point that feed in feeds.yaml."""
    settings = get_settings()
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


def _edit(settings: Settings, change: Any) -> None:
    from newswatch.config.edit import edit_feeds

    _refuse_unless_valid(lambda: edit_feeds(settings.config_dir, change))


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
