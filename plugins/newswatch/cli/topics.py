"""`newswatch topics`: check topics.yaml, try a topic or a query on a text, backtest either on
stored articles, apply a topic to them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newswatch.cli.options import (
    ConfigOption,
    JsonOption,
    file_problem,
    get_settings,
    settings_for,
)

SinceOption = Annotated[
    str | None,
    typer.Option(
        help="how far back from now: 30d, 12h, 2w (default: the 30 days up to the newest "
        "stored article)"
    ),
]


class StemmingChoice(StrEnum):
    """records.Stemming as a command-line choice."""

    none = "none"
    plural = "plural"
    full = "full"


StemmingOption = Annotated[
    StemmingChoice | None,
    typer.Option(
        "--stemming",
        help="how a term's last word may vary: none, plural (a topic's default) or full "
        "(Snowball); overrides the topic's own to try another",
    ),
]

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from newswatch.backtest import Window
    from newswatch.config.models import TopicConfig
    from newswatch.query import Node
    from newswatch.records import FeedItem, Match, Page, Stemming
    from newswatch.retag import Progress, RetagSummary
    from newswatch.settings import Settings
    from newswatch.topics import TopicMatcher

# What config.models.TopicConfig allows as a name: only such an argument is looked up as a topic.
_TOPIC_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
# A rule shown on one line: a query may be up to 20,000 characters.
_RULE_CHARS = 300
TOPICS_SHOWN = 10  # names listed after an unknown topic; a long topics.yaml is cut, not pasted

topics_app = typer.Typer(help="Write and try topic queries.", no_args_is_help=True)


@topics_app.command("check")
def check(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate topics.yaml (and feeds.yaml): each bad query with its topic and position."""
    from newswatch.config.load import ConfigError, load_config

    settings = settings_for(config)
    try:
        loaded = load_config(settings.config_dir)
    except ConfigError as exc:
        if as_json:
            typer.echo(json.dumps({"valid": False, "errors": str(exc).splitlines()}, indent=2))
        else:
            typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    rows = [
        {
            "name": topic.name,
            "enabled": topic.enabled,
            "rule": topic.query if topic.query is not None else " OR ".join(topic.keywords),
        }
        for topic in loaded.topics
    ]
    if as_json:
        typer.echo(json.dumps({"valid": True, "topics": rows}, indent=2, ensure_ascii=False))
        return
    for row in rows:
        state = "" if row["enabled"] else " (disabled)"
        typer.echo(f"ok  {row['name']}{state}: {row['rule']}")
    typer.echo(f"{len(loaded.topics)} topics, all valid")


@topics_app.command("test")
def test(
    query: Annotated[
        str,
        typer.Argument(
            help="a topic name from topics.yaml, or a query, e.g. 'tariff* AND (Japan OR Korea)'"
        ),
    ],
    text: Annotated[str | None, typer.Option("--text", help="the text to match")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="a text file, or an .html page",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="a page to download and extract")] = None,
    title: Annotated[str, typer.Option("--title", help="a title to match as well")] = "",
    as_query: Annotated[
        bool,
        typer.Option("--query", help="read QUERY as a query even when it names a topic"),
    ] = False,
    stemming: StemmingOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what a topic's rule (QUERY is its name) or QUERY hits in a text, a file or a page:
    terms, counts, the words they matched, offsets, snippet."""
    from newswatch.topics import match_text

    if sum(source is not None for source in (text, file, url)) != 1:
        typer.echo("give exactly one of --text, --file or --url", err=True)
        raise typer.Exit(2)
    topic = None if as_query else _configured_topic(query, config)
    topic = _with_stemming(topic, stemming)
    matcher = (
        _topic_matcher(topic)
        if topic is not None
        else _query_matcher(_parse_or_exit(query), _stemming(stemming))
    )
    lang = None
    problem = file_problem(file, MAX_FILE_BYTES) if file is not None else None
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    if file is not None and file.suffix.lower() not in (".html", ".htm"):
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            typer.echo(f"{file}: not UTF-8 text (byte {exc.start}); an .html page may be", err=True)
            raise typer.Exit(2) from None
    elif file is not None or url is not None:
        page = _page(file, url)
        if page.error:
            where = str(url if file is None else file)
            where = where if len(where) <= 100 else where[:99] + "…"
            typer.echo(f"cannot read {where}: {page.error}", err=True)
            # A URL we will not fetch is bad input; a site that fails (or says no) is a failure.
            raise typer.Exit(2 if page.error.startswith("refus") else 1)
        from newswatch.extract import extract_article

        article = extract_article(_bare_item(page.url), page)
        title, text, lang = title or article.title, article.text, article.language
    matches = match_text(title, text or "", matcher, lang=lang)
    if as_json:
        found = {"match": match_row(matches[0]) if matches else None}
        if topic is not None:
            found = {"topic": rule_row(topic), **found}
        typer.echo(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        if topic is not None:
            typer.echo(rule_line(topic))
            typer.echo(f"(to test {query!r} as a query rather than this topic, add --query)")
        body = f"{title}\n\n{text}" if title else text or ""
        typer.echo(format_match(matches[0], body) if matches else "no match")
    if not matches:
        raise typer.Exit(1)


@topics_app.command("backtest")
def backtest(
    topic: Annotated[str, typer.Argument(help="a topic name from topics.yaml, or a draft query")],
    since: SinceOption = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="most candidates to examine")
    ] = 10_000,
    as_query: Annotated[
        bool,
        typer.Option("--query", help="read TOPIC as a draft query even when it names a topic"),
    ] = False,
    stemming: StemmingOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the stored articles TOPIC (or a draft query) would have matched."""
    from newswatch import clock
    from newswatch.backtest import run_backtest
    from newswatch.store import db
    from newswatch.topics import topic_query

    settings = settings_for(config)
    window, topics = _window_and_topics(settings, since)
    known = _with_stemming(None if as_query else topics.get(topic), stemming)
    if known is not None:
        node, matcher, stems = topic_query(known.rule), _topic_matcher(known), known.stemming
    else:
        node, stems = _parse_or_exit(topic), _stemming(stemming)
        matcher = _query_matcher(node, stems)
    start = clock.now() - window if window is not None else None
    with db.transaction(db.session_factory(settings)) as session:
        result = run_backtest(session, matcher, node, start, limit, stems)
    if as_json:
        summary = {
            "topic": topic if known is not None else None,
            "query": None if known is not None else topic,
            "rule": rule_row(known) if known is not None else None,
            "since": since,
            "window": {
                "from": result.window.start.isoformat(timespec="seconds"),
                "articles": result.window.articles,
                "oldest": _iso(result.window.oldest),
                "newest": _iso(result.window.newest),
            },
            "candidates": result.candidates,
            "tsquery": result.tsquery,
            "hits": [
                {
                    "article_id": hit.article_id,
                    "title": hit.title,
                    "url": hit.url,
                    "at": hit.at.isoformat(timespec="seconds"),
                    **match_row(hit.match),
                }
                for hit in result.hits
            ],
        }
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    typer.echo(rule_line(known) if known is not None else f"draft query: {_shortened(topic)}")
    typer.echo(_window_line(len(result.hits), result.window, since))
    if result.candidates >= limit:
        typer.echo(f"only the newest {limit} candidate articles were examined; raise --limit")
    for hit in result.hits:
        typer.echo(f"\n{hit.at:%Y-%m-%d %H:%M}  {hit.title}\n  {hit.url}")
        typer.echo("  " + format_match(hit.match).replace("\n", "\n  "))


@topics_app.command("apply")
def apply(
    topic: Annotated[str, typer.Argument(help="a topic name from topics.yaml")],
    since: SinceOption = None,
    alert: Annotated[
        bool,
        typer.Option(
            "--alert",
            help="tell readers of the stories the topic now hits that they were not told of "
            "(default: no mail for old news)",
        ),
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tag the stored articles with TOPIC as topics.yaml now reads it: matches it now makes are
    added or rewritten, matches it no longer makes removed. Running it again changes nothing."""
    from datetime import timedelta

    from newswatch import clock, retag, store
    from newswatch.backtest import default_start
    from newswatch.config.models import shown
    from newswatch.pipeline import sync_store
    from newswatch.store import db

    settings = settings_for(config)
    window, topics = _window_and_topics(settings, since)
    known = topics.get(topic)
    if known is None:
        names = ", ".join(list(topics)[:TOPICS_SHOWN])
        names += " …" if len(topics) > TOPICS_SHOWN else ""
        typer.echo(f"no topic {shown(topic)} in topics.yaml; known: {names or 'none'}", err=True)
        raise typer.Exit(2)
    if not known.enabled:
        typer.echo(
            f"topic {topic} is disabled in topics.yaml (enabled: false): it tags nothing; "
            "enable it first",
            err=True,
        )
        raise typer.Exit(2)
    with sync_store(settings) as session:  # the store gets the topic as the file now reads
        newest = store.search.article_dates(session, None)[2]
    now = clock.now()
    start = now - window if window is not None else default_start(newest, now)
    factory = db.session_factory(settings)
    with _retag_progress(topic, as_json) as progress:
        summary = retag.apply_topic(
            factory, known.rule, start, alert=alert, at=now, progress=progress
        )
    if start <= now - timedelta(days=settings.story_window_days):
        # This covered what the next run would apply for an edited topic: it need not.
        with db.transaction(factory) as session:
            store.config.mark_applied(session, topic, store.config.stored_rule(known))
    if as_json:
        typer.echo(json.dumps(retag_row(summary, alert), indent=2, ensure_ascii=False))
        return
    typer.echo(retag_line(summary, alert))


def retag_row(summary: RetagSummary, alert: bool) -> dict[str, Any]:
    """What `topics apply` did, as plain data."""
    return {
        "topic": summary.topic,
        "since": summary.since.isoformat(timespec="seconds"),
        "alert": alert,
        "articles_examined": summary.examined,
        "matches_added": summary.added,
        "matches_updated": summary.updated,
        "matches_removed": summary.removed,
        "matches_unchanged": summary.unchanged,
        "alerts_queued": summary.alerts_queued,
        "alerts_cancelled": summary.alerts_cancelled,
    }


def retag_line(summary: RetagSummary, alert: bool) -> str:
    """`taiwan: 412 articles examined since 2026-10-26; 7 matches added, 2 updated, 1 removed;
    no alerts (add --alert to send them)`."""
    examined = _count(summary.examined, "article")
    line = (
        f"{summary.topic}: {examined} examined since {summary.since:%Y-%m-%d}; "
        f"{_count(summary.added, 'match', 'matches')} added, {summary.updated} updated, "
        f"{summary.removed} removed; "
    )
    if alert:
        queued = _count(summary.alerts_queued, "alert")
        line += f"{queued} queued" + (" (the next run sends them)" if summary.alerts_queued else "")
    else:
        hits = summary.added + summary.updated + summary.unchanged
        line += "no alerts" + (" (add --alert to send them)" if hits else "")
    if summary.alerts_cancelled:
        line += f"; {_count(summary.alerts_cancelled, 'unsent alert')} withdrawn"
    return line


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


@contextmanager
def _retag_progress(topic: str, as_json: bool) -> Iterator[Progress | None]:
    """A progress bar on stderr over the articles examined, only for a person at a terminal."""
    import sys

    if as_json or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as Bar

    with Bar(console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(f"{topic}: articles", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _window_line(hits: int, window: Window, since: str | None) -> str:
    """How many of the articles the backtest covered match, and which articles those were."""
    from newswatch.backtest import DEFAULT_WINDOW

    default = f"the {DEFAULT_WINDOW.days} days up to the newest"
    dates = ""
    if window.oldest is not None and window.newest is not None:
        first, last = f"{window.oldest:%Y-%m-%d}", f"{window.newest:%Y-%m-%d}"
        dates = f" dated {first}" + (f" – {last}" if last != first else "")
    if since is not None:
        if not window.articles:
            return (
                f"no stored articles in the last {since}; without --since the backtest covers "
                f"{default} stored article"
            )
        return f"{hits} of the {window.articles} articles in the last {since}{dates} match"
    if not window.articles:
        return "no stored articles yet: nothing to backtest"
    return (
        f"{hits} of the {window.articles} stored articles{dates} match ({default}; "
        f"--since {DEFAULT_WINDOW.days}d counts back from now)"
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at is not None else None


def _configured_topic(name: str, config: Path | None) -> TopicConfig | None:
    """The topic called `name` in topics.yaml, if any; None when the config cannot be read, after
    a one-line note (a query being tried must not fail because topics.yaml is half edited)."""
    if not _TOPIC_NAME.fullmatch(name):
        return None
    from newswatch.config.load import ConfigError, load_config

    try:
        topics = load_config(settings_for(config).config_dir).topics
    except ConfigError as exc:
        problem = _shortened(str(exc).splitlines()[0])
        typer.echo(f"note: topics not read ({problem}); {name!r} is tested as a query", err=True)
        return None
    return next((topic for topic in topics if topic.name == name), None)


def _topic_matcher(topic: TopicConfig) -> TopicMatcher:
    """The topic's rule compiled as the pipeline compiles it; a disabled topic is tested too."""
    from dataclasses import replace

    from newswatch.topics import compile_topics

    return compile_topics([replace(topic.rule, enabled=True)])


def _stemming(choice: StemmingChoice | None) -> Stemming:
    return "plural" if choice is None else choice.value


def _window_and_topics(
    settings: Settings, since: str | None
) -> tuple[timedelta | None, dict[str, TopicConfig]]:
    """--since as a duration and the configured topics by name; exit 2 with one line when
    either cannot be read."""
    from newswatch.backtest import parse_duration
    from newswatch.config.load import ConfigError, load_config

    try:
        window = parse_duration(since) if since is not None else None
        return window, {t.name: t for t in load_config(settings.config_dir).topics}
    except (ValueError, ConfigError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _with_stemming(topic: TopicConfig | None, choice: StemmingChoice | None) -> TopicConfig | None:
    """The topic as --stemming would make it, to try another setting before writing it."""
    if topic is None or choice is None:
        return topic
    return topic.model_copy(update={"stemming": _stemming(choice)})


def _query_matcher(node: Node, stemming: Stemming = "plural") -> TopicMatcher:
    from newswatch.topics import compile_queries

    return compile_queries([("query", node, 1, stemming)])


def rule_line(topic: TopicConfig) -> str:
    """The topic and its rule on one line: `topic taiwan (Taiwan): query Taiwan OR Taipei`."""
    name = f"topic {topic.name}" + (f" ({topic.title})" if topic.title else "")
    if topic.query is not None:
        rule = "query " + " ".join(topic.query.split())
    else:
        rule = "keywords " + ", ".join(topic.keywords)
        if topic.exclude:
            rule += "; exclude " + ", ".join(topic.exclude)
    if topic.min_hits > 1:
        rule += f"; at least {topic.min_hits} hits"
    if topic.stemming != "plural":
        rule += f"; stemming {topic.stemming}"
    if not topic.enabled:
        rule += "; disabled"
    return f"{name}: {_shortened(rule)}"


def rule_row(topic: TopicConfig) -> dict[str, Any]:
    """The topic's rule as plain data, as topics.yaml gives it."""
    return {
        "name": topic.name,
        "title": topic.title,
        "query": topic.query,
        "keywords": list(topic.keywords),
        "exclude": list(topic.exclude),
        "min_hits": topic.min_hits,
        "stemming": topic.stemming,
        "enabled": topic.enabled,
    }


def _shortened(text: str) -> str:
    return text if len(text) <= _RULE_CHARS else text[: _RULE_CHARS - 1] + "…"


def match_row(match: Match) -> dict[str, Any]:
    """A match as plain data: terms and counts, offsets per term, the snippet and its hit spans."""
    return {
        "terms": dict(match.terms),
        "offsets": {term: [list(span) for span in spans] for term, spans in match.offsets.items()},
        "snippet": match.snippet,
        "highlights": [list(span) for span in sorted(match.highlights)],
    }


def format_match(match: Match, body: str | None = None) -> str:
    """Terms with counts and offsets, then the snippet with each hit in [brackets]. Given the
    body matched (title, blank line, text), each term also shows the words it matched there:
    `election ×2 ("elections", "Election's") at 0-9, 40-48`."""
    from newswatch.delivery.messages.common import mark_spans

    lines = []
    for term, count in sorted(match.terms.items()):
        found = match.offsets.get(term, [])
        spans = ", ".join(f"{a}-{b}" for a, b in found)
        words = list(dict.fromkeys(body[a:b] for a, b in found)) if body is not None else []
        shown = " (" + ", ".join(json.dumps(w, ensure_ascii=False) for w in words[:5]) + ")"
        line = f"{term} ×{count}" + (shown if words and words != [term] else "")
        lines.append(line + (f"  at {spans}" if spans else ""))
    return "\n".join(lines + [mark_spans(match.snippet, match.highlights, "[", "]", str)])


def _parse_or_exit(query: str) -> Node:
    from newswatch.query import QueryError, parse_query

    try:
        return parse_query(query)
    except QueryError as exc:
        # The query with a caret under the problem, when it fits a terminal line.
        shown = (
            f"{query}\n{' ' * exc.position}^\n" if len(query) <= 120 and query.isprintable() else ""
        )
        typer.echo(f"{shown}{exc}", err=True)
        raise typer.Exit(2) from None


MAX_FILE_BYTES = 20 * 1024 * 1024


def _page(file: Path | None, url: str | None) -> Page:
    from newswatch.records import Page

    if file is not None:
        return Page(url=file.resolve().as_uri(), final_url=None, status=200, html=file.read_bytes())
    assert url is not None
    return asyncio.run(_download(get_settings(), url))


async def _download(settings: Settings, url: str) -> Page:
    from newswatch.fetch import fetch_page
    from newswatch.http_client import Downloader

    async with Downloader(settings) as downloader:
        return await fetch_page(downloader, url, max_bytes=settings.max_page_bytes)


def _bare_item(url: str) -> FeedItem:
    """A feed item with nothing but a link, so extraction uses the page alone."""
    from newswatch.records import FeedItem

    return FeedItem(
        feed_id=0,
        url=url,
        link=url,
        guid=None,
        title="",
        author=None,
        published_at=None,
        summary="",
        content="",
    )
