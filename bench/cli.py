"""How long `newswatch` commands take as whole processes: the median of 5 runs of each.

Run: .venv/bin/python bench/cli.py [--runs 5]
A scratch database on PostgreSQL at 127.0.0.1 (NEWSWATCH_BENCH_DATABASE_URL names another
server) holds the bundled sample news day, stored by one `newswatch run` beforehand, so the
read-only commands have rows to read and a second `run` finds no feed due. Start-up is most of
what a person waits for at a terminal; the targets are issue 18's. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdb import scratch_database

from newswatch import sample_day

REPO = Path(__file__).resolve().parents[1]
NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
COMMANDS: list[tuple[str, list[str], float]] = [  # label, arguments, target seconds
    ("newswatch --help", ["--help"], 0.5),
    ("newswatch alerts", ["alerts"], 1.5),
    ("newswatch feeds list", ["feeds", "list"], 1.5),
    ("newswatch stats", ["stats"], 1.5),
    ("newswatch topics test … --text …", ["topics", "test", "tariff*", "--text", "Tariffs"], 1.5),
    ("newswatch run (nothing due)", ["run"], 2.0),
]


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([NEWSWATCH, *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # `topics test` answers 1 for "no match"
        raise SystemExit(f"newswatch {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with scratch_database() as url, sample_day.serve() as day, tempfile.TemporaryDirectory() as tmp:
        config = day.write_config(Path(tmp) / "config", REPO / "config" / "topics.yaml")
        env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSWATCH_")}
        env |= {
            "NEWSWATCH_DATABASE_URL": url,
            "NEWSWATCH_CONFIG_DIR": str(config),
            "NEWSWATCH_VAR_DIR": str(Path(tmp) / "var"),
            "NEWSWATCH_ALLOW_HOSTS": "127.0.0.1",
            "NEWSWATCH_PER_HOST_INTERVAL": "0",
        }
        subprocess.run([NEWSWATCH, "run"], env=env, check=True, capture_output=True)
        rows = []
        for label, args, target in COMMANDS:
            seconds = [timed(args, env) for _ in range(runs)]
            median = statistics.median(seconds)
            verdict = "yes" if median <= target else "no"
            rows.append(
                f"| {label} | {median:.2f} s | {min(seconds):.2f} s | {target} s | {verdict} |"
            )
    print(f"median of {runs} whole-process runs, {os.cpu_count()} cores\n")
    print("| command | median | fastest | target | met |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
