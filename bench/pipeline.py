"""End-to-end benchmark against the extraction floor.

Generates a news web (bench/newsweb.py) on 127.0.0.1, runs the real pipeline on a fresh
database, and in the same run times the floor: trafilatura extracting the same pages with the
same options in a plain loop on both cores. Prints articles/s, MB/s, stage times, rows/s, peak
RSS, the ratio end-to-end / floor (target <= 1.25) and a second run over the unchanged web
against the first (target < 0.10).

    .venv/bin/python bench/pipeline.py [--articles 1000] [--feeds 50]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import trafilatura
from benchdb import scratch_database
from newsweb import generate, serve
from sqlalchemy import func, select

from newswatch import clock, database, models, pipeline
from newswatch.extract import EXTRACT_OPTIONS
from newswatch.settings import PROJECT_ROOT, get_settings


def extract_one(html: bytes) -> int:
    doc = trafilatura.bare_extraction(html, **EXTRACT_OPTIONS)
    return len(getattr(doc, "text", "") or "")


def floor_seconds(pages: list[bytes]) -> float:
    """trafilatura alone over the pages, on both cores (spawned workers, like the pipeline's)."""
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(extract_one, pages[:2])  # start-up is not extraction: warm both workers first
        started = time.perf_counter()
        pool.map(extract_one, pages, chunksize=8)
        return time.perf_counter() - started


def rows_written(settings: object) -> int:
    with database.transaction(database.session_factory(get_settings())) as session:
        return sum(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (
                models.Article,
                models.ArticleSource,
                models.Match,
                models.Alert,
                models.Story,
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--feeds", type=int, default=50)
    args = parser.parse_args()
    logging.getLogger("newswatch").setLevel(logging.WARNING)
    web = generate(args.feeds, args.articles)
    ok_pages = [web.pages[web.page_path(a)] for a in web.articles if not a.fails]
    megabytes = sum(len(p) for p in ok_pages) / 1e6
    floor = floor_seconds(ok_pages)

    server, base = serve(web)
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp)
        feeds = "".join(
            f"  - {{name: 'Site {k}', url: '{base}/feed/{k}'}}\n" for k in range(args.feeds)
        )
        (config / "feeds.yaml").write_text("feeds:\n" + feeds)
        (config / "topics.yaml").write_text((PROJECT_ROOT / "config" / "topics.yaml").read_text())
        os.environ.update(
            {
                "NEWSWATCH_DATABASE_URL": url,
                "NEWSWATCH_CONFIG_DIR": str(config),
                "NEWSWATCH_VAR_DIR": str(config / "var"),
                "NEWSWATCH_ALLOW_HOSTS": "127.0.0.1",
                # One loopback host stands for many sites: pace per site, not per address.
                "NEWSWATCH_PER_HOST_INTERVAL": "0",
            }
        )
        settings = get_settings()
        started = time.perf_counter()
        first = pipeline.run_once(settings)
        first_s = time.perf_counter() - started
        rows = rows_written(settings)
        clock.freeze(clock.now() + timedelta(days=1))
        started = time.perf_counter()
        pipeline.run_once(settings)
        second_s = time.perf_counter() - started
        clock.freeze(None)
        server.shutdown()
    counts = first["counts"]
    assert isinstance(counts, dict)
    rss = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    stages = {k: v for k, v in counts.items() if k.startswith("seconds_")}
    table = [
        (
            "articles (pages ok)",
            f"{args.articles} ({len(ok_pages)}), {args.feeds} feeds, {megabytes:.0f} MB of HTML",
        ),
        ("floor: trafilatura, 2 cores", f"{floor:.1f} s"),
        ("end to end, first run", f"{first_s:.1f} s"),
        ("ratio end to end / floor", f"{first_s / floor:.2f} (target <= 1.25)"),
        ("articles/s", f"{counts.get('articles_new', 0) / first_s:.1f}"),
        ("MB/s of HTML", f"{megabytes / first_s:.2f}"),
        ("rows written/s", f"{rows / first_s:.0f} ({rows} rows)"),
        *[(f"stage {k.removeprefix('seconds_')}", f"{v:.1f} s") for k, v in sorted(stages.items())],
        ("peak RSS (largest process)", f"{rss:,.0f} MB"),
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
