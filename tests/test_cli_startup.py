"""`newswatch --help` answers at once: the CLI loads what a command needs only when it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from newswatch.cli.main import batch_progress

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


def entry_with(app_body: str, tmp: Path, **run: Any) -> subprocess.CompletedProcess[str]:
    """The `newswatch` entry point, in a process of its own, with `app` doing app_body."""
    probe = (
        "import atexit, sys\n"
        "import newswatch.cli.entry as entry, newswatch.cli.main as cli\n"
        "def app():\n"
        + "".join(f"    {line}\n" for line in app_body.splitlines())
        + "cli.app = app\n"
        "entry.main()\n"
    )
    if "stdout" not in run:
        run["capture_output"] = True
    return subprocess.run([sys.executable, "-c", probe], text=True, timeout=120, cwd=tmp, **run)


def test_the_executable_exits_with_the_commands_code_its_whole_output_and_exit_handlers(
    tmp_path: Path,
) -> None:
    """It skips the interpreter's teardown, not what a command wrote or registered."""
    done = entry_with(
        "atexit.register(lambda: open('handler-ran', 'w').write('yes'))\n"
        "sys.stdout.write('x' * 300_000)\n"
        "sys.exit(3)",
        tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == "x" * 300_000
    assert (tmp_path / "handler-ran").read_text() == "yes"


def test_the_executable_leaves_an_uncaught_exception_to_python(tmp_path: Path) -> None:
    done = entry_with("raise RuntimeError('a bug')", tmp_path)
    assert done.returncode == 1
    assert "RuntimeError: a bug" in done.stderr


def test_the_executable_started_without_a_standard_output_exits_quietly(tmp_path: Path) -> None:
    """Python leaves sys.stdout None when descriptor 1 is closed (`newswatch run >&-`)."""
    done = entry_with(
        "sys.exit(3)", tmp_path, stdout=None, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1)
    )
    assert done.returncode == 3
    assert done.stderr == ""


def test_output_the_executable_cannot_write_is_reported_as_python_reports_it(
    tmp_path: Path,
) -> None:
    """A full disk under the last buffered line: Python's message and exit status 120, as
    before, never a silent success."""
    quiet = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        done = entry_with(
            "print('summary line')\nsys.exit(0)",
            tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            env=quiet,
        )
    assert done.returncode == 120
    assert "No space left on device" in done.stderr


def test_the_installed_executable_answers_help_and_bad_input() -> None:
    newswatch = str(Path(sys.executable).with_name("newswatch"))
    helped = subprocess.run([newswatch, "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "Follow topics across news feeds" in helped.stdout
    refused = subprocess.run([newswatch, "nosuch"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "newswatch: No such command 'nosuch'. (see --help)"


def test_run_without_a_standard_output_shows_no_progress_bar() -> None:
    """`newswatch run >&-` failed with "'NoneType' object has no attribute 'isatty'"."""
    assert batch_progress(None, as_json=False) is None
