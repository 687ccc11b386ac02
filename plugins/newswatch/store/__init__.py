"""The news store in PostgreSQL, one module per aggregate.

db (engine, transactions, migrations, advisory locks) · config (feeds.yaml and topics.yaml
written to their tables) · feeds (scheduling, poll outcomes) · topics · articles (known URLs
and GUIDs, sources, saving a batch into stories with matches and alerts) · copies (which new
articles are copies) · outbox (alerts, digests and notices queued, claimed, settled, requeued) · runs ·
robots · retention · reads (what the CLI and dashboard list) · views (what one alert or
digest shows) · search (full text).
"""

from newswatch.store import (
    articles,
    config,
    copies,
    db,
    feeds,
    outbox,
    reads,
    retention,
    robots,
    runs,
    search,
    topics,
    views,
)

__all__ = [
    "articles",
    "config",
    "copies",
    "db",
    "feeds",
    "outbox",
    "reads",
    "retention",
    "robots",
    "runs",
    "search",
    "topics",
    "views",
]
