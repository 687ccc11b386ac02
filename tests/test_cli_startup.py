"""`newswatch --help` answers at once: the CLI loads what a command needs only when it runs."""

from __future__ import annotations

import subprocess
import sys

# What cost `newswatch --help` 4.4 s before (datasketch pulled in scipy; alembic, SQLAlchemy and
# trafilatura were imported by every command module at its top).
HEAVY = ("sqlalchemy", "alembic", "trafilatura", "airflow", "datasketch", "httpx", "feedparser")
HELPS = [
    ["--help"],
    ["run", "--help"],
    ["demo", "--help"],
    ["run", "--now", "--help"],
    ["db", "--help"],
    ["db", "url", "--help"],
    ["alerts", "--help"],
    ["alerts", "resend", "--help"],
    ["readers", "--help"],
    ["readers", "list", "--help"],
    ["readers", "resubscribe", "--help"],
    ["feeds", "--help"],
    ["feeds", "add", "--help"],
    ["feeds", "list", "--help"],
    ["feeds", "health", "--help"],
    ["feeds", "enable", "--help"],
    ["feeds", "disable", "--help"],
    ["feeds", "import", "--help"],
    ["feeds", "export", "--help"],
    ["topics", "--help"],
    ["topics", "test", "--help"],
    ["topics", "backtest", "--help"],
    ["topics", "apply", "--help"],
    ["search", "--help"],
    ["stats", "--help"],
]
PROBE = f"""
import sys
from newswatch.cli.main import app
for args in {HELPS!r}:
    try:
        app(args)
    except SystemExit:
        pass
print("LOADED:", *[m for m in {HEAVY!r} if m in sys.modules])
"""


def test_help_of_every_command_imports_no_database_extraction_or_airflow_code() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert "Follow topics across news feeds" in probe.stdout
    assert probe.stdout.splitlines()[-1] == "LOADED:"


def test_a_database_at_the_newest_migration_is_checked_without_alembic(database_url: str) -> None:
    probe = (
        "import sys; from newswatch.store import db; "
        f"db.upgrade({database_url!r}); print('alembic' in sys.modules)"
    )
    checked = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert checked.stdout.split() == ["False"]


def test_the_process_that_downloads_and_stores_leaves_trafilatura_to_its_workers() -> None:
    """Only the workers extract pages, and their forkserver preloads trafilatura while the run
    imports the rest: the main process never pays for it."""
    probe = (
        "import sys, multiprocessing.forkserver as fs; import newswatch.ingest, newswatch.pipeline;"
        " from newswatch.workers import start_forkserver; start_forkserver();"
        " print('trafilatura' in sys.modules, fs._forkserver._forkserver_pid is not None)"
    )
    checked = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert checked.stdout.split() == ["False", "True"]
