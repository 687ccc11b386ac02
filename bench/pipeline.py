"""End-to-end benchmark against the extraction floor.

Generates a news web (bench/newsweb.py) on 127.0.0.1, runs the real pipeline on a fresh
database, and in the same run times the floor: plain `trafilatura.extract(html)` with default
options over the same pages on both cores (it does not move with our code). Prints articles/s, MB/s, stage times, rows/s, peak
memory, the ratio end-to-end / floor (target <= 1.25) and a second run over the unchanged web
against the first (target < 0.10).

The pipeline runs in its own process, so its memory is measured apart from the generated web
this process holds: every 0.1 s the resident memory of the pipeline process and of its worker
processes is read from /proc; the table gives the peak of their sum and of the largest one.

    .venv/bin/python bench/pipeline.py [--articles 1000] [--feeds 50]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import trafilatura
from benchdb import bench_config, scratch_database
from newsweb import generate, serve_elsewhere
from sqlalchemy import func, select

from newswatch import clock, models, pipeline
from newswatch.settings import get_settings
from newswatch.store import db

TABLES = (models.Article, models.ArticleSource, models.Match, models.Alert, models.Story)


def extract_one(page: tuple[str, bytes]) -> int:
    _, html = page
    return len(trafilatura.extract(html) or "")


def floor_seconds(pages: list[tuple[str, bytes]]) -> float:
    """Plain `trafilatura.extract(html)` (default options, no URL) over the pages, on both cores
    in worker processes started beforehand: a floor that does not move with our code."""
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(extract_one, pages[:2])  # start-up is not extraction: warm both workers first
        started = time.perf_counter()
        pool.map(extract_one, pages, chunksize=8)
        return time.perf_counter() - started


def rows_written() -> int:
    with db.transaction(db.session_factory(get_settings())) as session:
        return sum(session.scalar(select(func.count()).select_from(table)) or 0 for table in TABLES)


def run_pipeline(env: dict[str, str], results: Connection) -> None:
    """In the child: the first run, then a second one a day later over the unchanged web."""
    os.environ.update(env)
    logging.getLogger("newswatch").setLevel(logging.ERROR)  # the failing pages are planned
    settings = get_settings()
    db.upgrade(db.database_url(settings))  # a deployment migrates once, not per run
    cpu, postgres = cpu_seconds(), postgres_cpu_seconds()
    started = time.perf_counter()
    first = pipeline.run_once(settings).to_xcom()
    first_s = time.perf_counter() - started
    cpu, postgres = cpu_seconds() - cpu, postgres_cpu_seconds() - postgres
    rows = rows_written()
    clock.freeze(clock.now() + timedelta(days=1))
    started = time.perf_counter()
    pipeline.run_once(settings)
    second_s = time.perf_counter() - started
    results.send(
        {
            "first": first,
            "first_s": first_s,
            "second_s": second_s,
            "rows": rows,
            "cpu": cpu,
            "postgres": postgres,
        }
    )


def processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, name, the /proc/PID/stat fields after the name) of every running process."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue  # it ended meanwhile
            name, rest = stat.split(" (", 1)[1].rsplit(")", 1)
            yield int(entry), name, rest.split()


def postgres_cpu_seconds() -> float:
    """CPU of the local PostgreSQL's processes so far, exited backends included (they are in
    the postmaster's children's time); 0 when PostgreSQL runs elsewhere."""
    ticks = sum(
        sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
        for _, name, fields in processes()
        if name == "postgres"
    )
    return ticks / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """User and system CPU of this process so far (not its worker processes)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def descendants(root: int) -> list[int]:
    """root and every process under it, from a walk of all of /proc (~4 ms)."""
    children: dict[int, list[int]] = {}
    for pid, _, fields in processes():
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def rss_mb(pids: list[int]) -> tuple[float, float]:
    """(sum, largest) resident MB of these processes, those still running."""
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sum(sizes), max(sizes, default=0.0)


def sample_peak(pid: int, stop: threading.Event) -> Callable[[], tuple[float, float]]:
    """Peak resident MB of pid's process tree (sum, largest), sampled every 0.1 s. The tree is
    walked once a second: walking /proc ten times a second cost ~4 % of a core, charged to the
    run being measured and not to the floor it is compared with."""
    peak = [0.0, 0.0]

    def loop() -> None:
        pids: list[int] = []
        for tick in itertools.count():
            if stop.wait(0.1):
                return
            if tick % 10 == 0:
                pids = descendants(pid)
            total, largest = rss_mb(pids)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def result() -> tuple[float, float]:
        stop.set()
        thread.join()
        return peak[0], peak[1]

    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--feeds", type=int, default=50)
    args = parser.parse_args()
    web = generate(args.feeds, args.articles)
    ok_pages = [web.pages[web.page_path(a)] for a in web.articles if not a.fails]
    megabytes = sum(len(p) for p in ok_pages) / 1e6
    floor = floor_seconds(
        [
            (f"http://127.0.0.1{web.page_path(a)}", web.pages[web.page_path(a)])
            for a in web.articles
            if not a.fails
        ]
    )

    server, base = serve_elsewhere(args.feeds, args.articles)
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        config = bench_config(Path(tmp), [f"{base}/feed/{k}" for k in range(args.feeds)])
        env = {
            "NEWSWATCH_DATABASE_URL": url,
            "NEWSWATCH_CONFIG_DIR": str(config),
            "NEWSWATCH_VAR_DIR": str(config / "var"),
            "NEWSWATCH_ALLOW_HOSTS": "127.0.0.1",
            # One loopback host stands for many sites: pace per site, not per address.
            "NEWSWATCH_PER_HOST_INTERVAL": "0",
        }
        receive, send = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("spawn").Process(target=run_pipeline, args=(env, send))
        assert server.pid is not None
        server_cpu = process_cpu_seconds(server.pid)
        child.start()
        assert child.pid is not None
        peak = sample_peak(child.pid, threading.Event())
        got = receive.recv()
        server_cpu = process_cpu_seconds(server.pid) - server_cpu
        child.join()
        peak_total, peak_largest = peak()
        server.terminate()
    first, first_s, second_s, rows = got["first"], got["first_s"], got["second_s"], got["rows"]
    counts, stages = first["counts"], first["durations"]
    new = counts.get("articles_new", 0)
    table = [
        (
            "articles (pages ok)",
            f"{args.articles} ({len(ok_pages)}), {args.feeds} feeds, {megabytes:.0f} MB of HTML",
        ),
        ("floor: trafilatura, 2 cores", f"{floor:.1f} s"),
        ("end to end, first run", f"{first_s:.1f} s"),
        ("ratio end to end / floor", f"{first_s / floor:.2f} (target <= 1.25)"),
        ("articles stored/s", f"{new / first_s:.1f} ({new} articles)"),
        ("MB/s of HTML", f"{megabytes / first_s:.2f}"),
        ("rows written/s", f"{rows / first_s:.0f} ({rows} rows)"),
        *[(f"stage {k.removeprefix('seconds_')}", f"{v:.1f} s") for k, v in stages.items()],
        ("CPU: pipeline's main process", f"{got['cpu']:.1f} s (fetch, tag, store, send)"),
        ("CPU: PostgreSQL", f"{got['postgres']:.1f} s (first run)"),
        (
            "CPU: the loopback web server",
            f"{server_cpu:.1f} s (both runs, at nice 10; not in the floor)",
        ),
        (
            "peak RSS, pipeline and workers",
            f"{peak_total:,.0f} MB (largest process {peak_largest:,.0f} MB)",
        ),
        (
            "second run, unchanged web",
            f"{second_s:.2f} s = {second_s / first_s:.3f} of the first (target < 0.10)",
        ),
    ]
    width = max(len(name) for name, _ in table)
    print(
        f"\nbench/pipeline.py --articles {args.articles} --feeds {args.feeds}, {os.cpu_count()} cores\n"
    )
    print(f"| {'measure':<{width}} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in table:
        print(f"| {name:<{width}} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
