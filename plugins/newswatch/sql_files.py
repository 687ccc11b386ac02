"""The SQL shipped with the package: the Alembic migrations.

The repository's top-level sql/ folder installs as the package `newswatch_sql` (pyproject.toml):
an editable install reads sql/ itself, a wheel its own copy, whether newswatch was imported
from site-packages or, as Airflow does, from plugins/ on sys.path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path

PACKAGE = "newswatch_sql"


@contextmanager
def migrations_dir() -> Iterator[Path]:
    """sql/migrations as a real folder, which Alembic needs to read its scripts by path."""
    with as_file(files(PACKAGE) / "migrations") as path:
        yield path
