"""A scratch news-store database and config folder for one benchmark run (PostgreSQL at
127.0.0.1 by default)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from newswatch.store import db


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new empty database's URL, dropped afterwards (NEWSWATCH_BENCH_DATABASE_URL names the server)."""
    server = os.environ.get(
        "NEWSWATCH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"newswatch_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        for engine in db._engines.values():
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def bench_config(folder: Path, feed_urls: list[str]) -> Path:
    """`folder` as a config folder: one feed per URL ("Site 0", "Site 1", …) and the project's
    own topics.yaml."""
    repo = Path(__file__).resolve().parents[1]
    folder.mkdir(parents=True, exist_ok=True)
    feeds = "".join(f"  - {{name: 'Site {k}', url: '{url}'}}\n" for k, url in enumerate(feed_urls))
    (folder / "feeds.yaml").write_text("feeds:\n" + feeds)
    (folder / "topics.yaml").write_text((repo / "config" / "topics.yaml").read_text())
    return folder
