"""The SQL shipped with the package: the Alembic migrations, and which one is the newest.

The repository's top-level sql/ folder installs as the package `newswatch_sql` (pyproject.toml):
an editable install reads sql/ itself, a wheel its own copy, whether newswatch was imported
from site-packages or, as Airflow does, from plugins/ on sys.path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path

PACKAGE = "newswatch_sql"


@contextmanager
def migrations_dir() -> Iterator[Path]:
    """sql/migrations as a real folder, which Alembic needs to read its scripts by path."""
    with as_file(files(PACKAGE) / "migrations") as path:
        yield path


_REVISION = re.compile(r'^(down_revision|revision) = "([^"]+)"$', re.M)


@cache
def head_revision() -> str | None:
    """The newest migration's revision id, read from the scripts without importing Alembic;
    None when the scripts do not name exactly one head (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    with migrations_dir() as folder:
        for script in (folder / "versions").glob("*.py"):
            for kind, revision in _REVISION.findall(script.read_text(encoding="utf-8")):
                (revisions if kind == "revision" else parents).add(revision)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
