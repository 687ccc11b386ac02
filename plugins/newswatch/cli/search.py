"""`newswatch search`: the dashboard's full-text search over stored articles, on the command line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newswatch.cli.options import JsonOption, get_settings

if TYPE_CHECKING:
    from newswatch.store.search import SearchHit

MAX_LIMIT = 500  # the dashboard's largest page


def search_command(
    query: Annotated[
        str,
        typer.Argument(
            help='websearch syntax: words (all of them), "a phrase", -word (not it), a or b (either)'
        ),
    ],
    topic: Annotated[str | None, typer.Option(help="only articles that matched this topic")] = None,
    since: Annotated[
        str | None, typer.Option(help="only articles of the last 30d, 12h, 2w …")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="most articles to list")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Full-text search over stored articles, best ranked first, each hit in [brackets]."""
    from newswatch import clock
    from newswatch.backtest import parse_duration
    from newswatch.store import db
    from newswatch.store.search import check_search, search_articles

    try:
        start = clock.now() - parse_duration(since) if since else None
        if not any(char.isalnum() for char in query):
            raise ValueError("a search needs at least one word, e.g. newswatch search 'rare earth'")
        check_search(query)  # the dashboard's limits, refused before a connection is taken
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    with db.read(get_settings()) as session:  # a timeout: one line, exit 1 (cli/errors.py)
        hits = search_articles(session, query, limit, topic=topic, since=start)
    rows = [hit_row(hit) for hit in hits]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    typer.echo(format_hits(rows))


def hit_row(hit: SearchHit) -> dict[str, Any]:
    """One hit as plain data: the headline without marks, and the marked spans as offsets in it."""
    headline, highlights = unmark(" ".join(hit.headline.split()))
    return {
        "id": hit.id,
        "title": hit.title,
        "url": hit.url,
        "feed": hit.feed,
        "at": hit.at.isoformat(timespec="seconds"),
        "rank": round(hit.rank, 4),
        "headline": headline,
        "highlights": highlights,
    }


def unmark(marked: str) -> tuple[str, list[list[int]]]:
    """Split ts_headline's MARK_START/MARK_END out of the text: (text, [[start, end], …])."""
    from newswatch.store.search import MARK_END, MARK_START

    text: list[str] = []
    spans: list[list[int]] = []
    length = 0
    for char in marked:
        if char == MARK_START:
            spans.append([length, length])
        elif char == MARK_END and spans:
            spans[-1][1] = length
        else:
            text.append(char)
            length += 1
    return "".join(text), spans


def bracketed(text: str, spans: list[list[int]]) -> str:
    from newswatch.delivery.messages.common import mark_spans

    return mark_spans(text, [(start, end) for start, end in spans], "[", "]", str)


def format_hits(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no article matches"
    lines = []
    for number, row in enumerate(rows, 1):
        lines += [
            f"{number:>3}. {row['title']}",
            f"     {row['at'][:16].replace('T', ' ')}  {row['feed']}  rank {row['rank']}",
            f"     {row['url']}",
            f"     {bracketed(row['headline'], row['highlights'])}",
            "",
        ]
    return "\n".join(lines).rstrip()
