"""Commands on the embedded PostgreSQL (no NEWSWATCH_DATABASE_URL) print their answer and nothing
on stderr, also where XDG_RUNTIME_DIR is unset (cron, sudo, containers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_commands_on_the_embedded_server_print_nothing_on_stderr_without_xdg_runtime_dir(
    tmp_path: Path,
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("NEWSWATCH_") and name != "XDG_RUNTIME_DIR"
    }
    env |= {
        "NEWSWATCH_VAR_DIR": str(tmp_path / "var"),
        "NEWSWATCH_CONFIG_DIR": str(REPO / "config"),
    }
    newswatch = str(Path(sys.executable).with_name("newswatch"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [newswatch, *args], env=env, capture_output=True, text=True, timeout=180
        )

    try:
        answers = [run("db", "upgrade"), run("alerts"), run("db", "stop")]
    finally:
        run("db", "stop")  # never leave a server behind, whatever failed
    assert [(done.returncode, done.stderr) for done in answers] == [(0, "")] * 3
    assert [done.stdout.strip() for done in answers] == [
        "database is at the newest migration",
        "no alerts stored",
        "embedded PostgreSQL stopped",
    ]
