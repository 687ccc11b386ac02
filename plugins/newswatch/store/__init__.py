"""The news store in PostgreSQL, one module per aggregate.

db (engine, transactions, migrations, advisory locks) · config (feeds.yaml and topics.yaml
written to their tables, readers among them) · feeds (scheduling, poll outcomes) · findings
(the watchdog's, with each feed's history aggregated for it) · topics ·
articles (known URLs and GUIDs, sources, saving a batch into stories with matches) · matches
(one topic's matches as a re-tag rewrites them) · alerts (a story per reader, the hourly cap,
held alerts) · copies (which new articles are copies) · outbox (alerts, digests and notices
queued, claimed, settled, requeued) · readers (unsubscribes) · runs · robots · retention · reads
(what the CLI and dashboard list) · views (what one alert or digest shows) · search (full text) · published (what
the Atom feeds and read API show) · tokens (their access tokens).
"""

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newswatch.store import (
        alerts,
        articles,
        config,
        copies,
        db,
        feeds,
        findings,
        matches,
        outbox,
        published,
        readers,
        reads,
        retention,
        robots,
        runs,
        search,
        tokens,
        topics,
        views,
    )

__all__ = [
    "alerts",
    "articles",
    "config",
    "copies",
    "db",
    "feeds",
    "findings",
    "matches",
    "outbox",
    "published",
    "readers",
    "reads",
    "retention",
    "robots",
    "runs",
    "search",
    "tokens",
    "topics",
    "views",
]


def __getattr__(name: str) -> ModuleType:
    """`store.reads` and the others load on first use: a listing command must not pay for
    story clustering (numpy) or migrations (alembic) it never runs."""
    if name in __all__:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
