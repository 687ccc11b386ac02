"""Issue 18's yardstick: `newswatch run` on real pages against plain trafilatura and a serial script.

The 110 real pages of shared/corpus/realpages, copied to N distinct articles and served on H
loopback hosts behind one RSS feed each (bench/realweb.py, in a process of its own at nice 10).
In the same run, on the same copies:

- **floor**: plain `trafilatura.extract(html)`, default options, no URL, on 2 worker processes
  started and warmed beforehand. It does not move when newswatch changes.
- **newswatch**: `newswatch run` as a whole process (start-up included) on a fresh, migrated
  database, default settings (politeness included), the project's topics.yaml.
- **serial script**: bench/serial.py, what a user might write instead (feedparser, urllib,
  `trafilatura.extract`, one INSERT per article, one core), as a whole process.

Also: body quality on the pages that have snippets (share of body snippets kept and boilerplate
snippets dropped, trafilatura's own scoring) for the floor and for what newswatch stored, and the
peak resident memory of newswatch's process tree.

    .venv/bin/python bench/realpages.py --copies 1000 5000 [--rounds 3]     # ~10 minutes a round

H defaults to max(50, N / 5): at the default politeness (a second between two requests to one
host), a host's pages take a second each after its feed whatever the machine does, so fewer
hosts would measure the politeness, not the pipeline. Ten pages a host (N / 10, the default
until 2026-12-06) took 10 s: more than 1.5 times a floor of 6.3 s at N = 1,000, which the
faster machine of that day measured, so no pipeline could meet that target there.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import trafilatura
from benchdb import bench_config, scratch_database
from pipeline import sample_peak
from realweb import REPO, RealPage, RealWeb, corpus, serve_forever
from sqlalchemy import create_engine, text

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))


def plain_extract(job: tuple[int, bytes]) -> tuple[int, str]:
    i, page = job
    return i, trafilatura.extract(page) or ""


def floor_seconds(web: RealWeb) -> tuple[float, dict[int, str]]:
    """Plain trafilatura over every copy on 2 warmed worker processes; the texts of the first
    copy of each page, for quality."""
    originals = len(web.pages)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(plain_extract, [(0, web.copy(0)), (1, web.copy(1))])  # warm both
        started = time.perf_counter()
        texts = {
            i: body
            for i, body in pool.imap_unordered(plain_extract, web.every_copy(), chunksize=4)
            if i < originals
        }
        return time.perf_counter() - started, texts


def score(body: str, page: RealPage) -> float | None:
    """trafilatura's snippet score: body snippets kept and boilerplate snippets dropped."""
    checks = [s in body for s in page.body] + [s not in body for s in page.boilerplate]
    return sum(checks) / len(checks) if checks else None


def mean_score(texts: dict[int, str], web: RealWeb) -> float:
    scores = [score(texts.get(i, ""), page) for i, page in enumerate(web.pages)]
    found = [s for s in scores if s is not None]
    return sum(found) / len(found)


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_web(copies: int, hosts: int, port: int) -> multiprocessing.Process:
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(
        target=serve_forever, args=(copies, hosts, port, send), daemon=True
    )
    server.start()
    receive.recv()
    return server


def run_newswatch(web: RealWeb, folder: Path, url: str) -> dict[str, object]:
    config = bench_config(folder / "config", [web.feed_url(k) for k in range(web.hosts)])
    env = {
        **os.environ,
        "NEWSWATCH_DATABASE_URL": url,
        "NEWSWATCH_CONFIG_DIR": str(config),
        "NEWSWATCH_VAR_DIR": str(folder / "var"),
        "NEWSWATCH_ALLOW_HOSTS": "127.0.0.0/8",
    }
    subprocess.run([NEWSWATCH, "db", "upgrade"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [NEWSWATCH, "run", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = sample_peak(process.pid, threading.Event())
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    peak_total, _ = peak()
    print(f"newswatch run {seconds:.1f} s", file=sys.stderr)
    if process.returncode != 0:
        raise SystemExit(f"newswatch run failed ({process.returncode}):\n{err.decode()[-3000:]}")
    engine = create_engine(url)
    with engine.connect() as conn:
        # A page's own relative canonical link renames the article: the feed's link stays.
        rows = conn.execute(
            text(
                "select coalesce(s.url, a.url), a.text from article_sources s "
                "join articles a on a.id = s.article_id"
            )
        ).all()
    engine.dispose()
    by_copy = {int(u.rsplit("/", 1)[1].split(".")[0]): body or "" for u, body in rows}
    summary = json.loads(out)
    return {"seconds": seconds, "texts": by_copy, "peak_mb": peak_total, "summary": summary}


def run_serial(web: RealWeb, folder: Path, url: str) -> tuple[float, int]:
    feeds = folder / "serial-feeds.txt"
    feeds.write_text("\n".join(web.feed_url(k) for k in range(web.hosts)))
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "serial.py"), str(feeds), libpq],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, int(done.stdout.split()[-1])


def spread(values: list[float]) -> str:
    """The median of the rounds, with their range when there were several."""
    middle = statistics.median(values)
    if len(values) == 1:
        return f"{middle:.1f} s"
    return f"{middle:.1f} s ({min(values):.1f}–{max(values):.1f})"


def measure(pages: list[RealPage], copies: int, hosts: int, rounds: int) -> dict[str, str]:
    """The floor and newswatch `rounds` times, in turns (this machine's speed drifts by 20 % over
    minutes, so a ratio is taken within each round and the median of those reported), then the
    serial script once."""
    port = free_port("127.0.0.2")
    web = RealWeb(pages, copies, hosts, port)
    megabytes = sum(len(page) for _, page in web.every_copy()) / 1e6
    floors: list[float] = []
    runs: list[dict[str, object]] = []
    server = start_web(copies, hosts, port)
    try:
        for _ in range(rounds):
            floor, floor_texts = floor_seconds(web)
            floors.append(floor)
            print(f"floor {floor:.1f} s", file=sys.stderr)
            with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
                runs.append(run_newswatch(web, Path(tmp), url))
        with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
            serial, serial_stored = run_serial(web, Path(tmp), url)
        print(f"serial {serial:.1f} s", file=sys.stderr)
    finally:
        server.terminate()
    seconds = [float(run["seconds"]) for run in runs]  # type: ignore[arg-type]
    ours = runs[seconds.index(statistics.median_low(seconds))]  # the median round's details
    texts = ours["texts"]
    assert isinstance(texts, dict)
    summary = ours["summary"]
    assert isinstance(summary, dict)
    durations = summary.get("durations", {})
    ratio = statistics.median(one / floor for one, floor in zip(seconds, floors, strict=True))
    return {
        "articles (copies of 110 real pages), hosts": f"{copies:,}, {hosts}",
        "HTML": f"{megabytes:,.0f} MB",
        "rounds (floor and newswatch in turns)": f"{rounds}",
        "floor: trafilatura.extract, 2 warm workers": spread(floors),
        "serial script, one core": f"{serial:.1f} s ({serial_stored:,} stored)",
        "newswatch run, whole process": f"{spread(seconds)} ({len(texts):,} stored)",
        "**newswatch / floor** (median of the rounds' ratios)": f"**{ratio:.2f}**",
        "**serial script / newswatch**": f"**{serial / statistics.median(seconds):.2f}**",
        "body quality: floor": f"{mean_score(floor_texts, web):.3f}",
        "body quality: newswatch": f"{mean_score(texts, web):.3f}",
        "peak RSS, newswatch and workers": f"{max(float(r['peak_mb']) for r in runs):,.0f} MB",  # type: ignore[arg-type]
        **{
            f"stage {name.removeprefix('seconds_')}": f"{value:.1f} s"
            for name, value in durations.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--hosts", type=int, help="default: max(50, copies / 5)")
    parser.add_argument("--rounds", type=int, default=1, help="floor and newswatch, in turns")
    args = parser.parse_args()
    pages = corpus()
    columns = {}
    for copies in args.copies:
        hosts = args.hosts or max(50, copies // 5)
        columns[f"N = {copies:,}"] = measure(pages, copies, hosts, args.rounds)
        print(f"N = {copies:,} done", file=sys.stderr)
    names = list(dict.fromkeys(name for column in columns.values() for name in column))
    width = max(len(name) for name in names)
    print(f"\nbench/realpages.py, {os.cpu_count()} cores\n")
    print(f"| {'measure':<{width}} | " + " | ".join(columns) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("---:" for _ in columns) + "|")
    for name in names:
        cells = [column.get(name, "") for column in columns.values()]
        print(f"| {name:<{width}} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
