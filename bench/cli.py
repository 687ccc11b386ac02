"""How long `newswatch` commands take as whole processes: the median of 5 runs of each.

Run: .venv/bin/python bench/cli.py [--runs 5]
A scratch database on PostgreSQL at 127.0.0.1 (NEWSWATCH_BENCH_DATABASE_URL names another
server) holds the bundled sample news day, stored by one `newswatch run` beforehand, so the
read-only commands have rows to read and a second `run` finds no feed due. Start-up is most of
what a person waits for at a terminal; the targets are issue 18's. Prints a Markdown table.

The last row is a user who adds a feed with two new pages: each timed run gets a feed of its
own in feeds.yaml (the previous one leaves) whose two items are real pages of
shared/corpus/realpages on one loopback host, fetched at the default politeness (a second between
two requests to a host). In the first of those rows the host's robots.txt is remembered from
the first run; in the second every run's site is one never seen before (a port of its own), so
robots.txt is read too, a politeness interval after the feed (the page it cleared follows it at
once).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

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
TWO_PAGES = [  # label, a new site for every run, target seconds
    ("newswatch run (a new feed, 2 new pages on a known host)", False, 5.0),
    ("newswatch run (a new feed, 2 new pages on a host never seen)", True, 5.0),
]
PAGES = sorted((REPO.parent / "shared" / "corpus" / "realpages" / "html").glob("*.html.gz"))[:2]


@contextmanager
def two_page_site() -> Iterator[str]:
    """A loopback site whose feed /n.xml lists two pages of its own, /n/0.html and /n/1.html:
    real pages, each with a sentence naming n, so every n is two new articles."""
    pages = [gzip.decompress(page.read_bytes()) for page in PAGES]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.strip("/")
            if path == "robots.txt":
                body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
            elif path.endswith(".xml"):
                n = path.removesuffix(".xml")
                items = "".join(
                    f"<item><title>Page {k} of feed {n}</title><link>{base}/{n}/{k}.html</link>"
                    f"<pubDate>Sat, 05 Dec 2026 06:0{k}:00 +0000</pubDate></item>"
                    for k in range(2)
                )
                body = f'<rss version="2.0"><channel><title>{n}</title>{items}</channel></rss>'.encode()
                kind = "application/rss+xml"
            else:
                n, _, k = path.removesuffix(".html").partition("/")
                own = f"<p>Feed {n} page {k} has a sentence of its own.</p>".encode()
                body, kind = pages[int(k)].replace(b"<body", own + b"<body", 1), "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield base
    finally:
        server.shutdown()


def two_new_pages(config: Path, env: dict[str, str], runs: int, new_site: bool) -> list[float]:
    """`newswatch run` after a feed with two new pages was added, at default politeness, on one
    site for all runs or on a new one for each."""
    polite = {key: value for key, value in env.items() if key != "NEWSWATCH_PER_HOST_INTERVAL"}
    feeds = config / "feeds.yaml"
    sample = feeds.read_text()
    seconds = []
    with ExitStack() as stack:
        base = stack.enter_context(two_page_site())
        for n in range(runs):
            if new_site and n:
                base = stack.enter_context(two_page_site())
            # The previous run's feed leaves feeds.yaml: it would be due again within the run's
            # slack, and each run would poll one feed more than the last.
            name = f"two pages {n}{' new' if new_site else ''}"
            feeds.write_text(f"{sample}- name: {name}\n  url: {base}/{n}{'n' * new_site}.xml\n")
            seconds.append(timed(["run"], polite))
    feeds.write_text(sample)
    return seconds


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([NEWSWATCH, *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # `topics test` answers 1 for "no match"
        raise SystemExit(f"newswatch {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def row(label: str, seconds: list[float], target: float) -> str:
    """The table's line for one command: median, fastest, target, and whether it is met."""
    median = statistics.median(seconds)
    verdict = "yes" if median <= target else "no"
    return f"| {label} | {median:.2f} s | {min(seconds):.2f} s | {target} s | {verdict} |"


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
        rows = [
            row(label, [timed(args, env) for _ in range(runs)], target)
            for label, args, target in COMMANDS
        ]
        rows += [
            row(label, two_new_pages(config, env, runs, new_site), target)
            for label, new_site, target in TWO_PAGES
        ]
    print(f"median of {runs} whole-process runs, {os.cpu_count()} cores\n")
    print("| command | median | fastest | target | met |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
