"""Fetching benchmark: K feeds of M items and their pages on a loopback server.

Prints feeds/s and pages/s for the network layer (poll + page download, no extraction), the
whole first run and an all-304 second run through the real pipeline, their ratio (target
<= 0.10), and peak RSS. All simulated sites share 127.0.0.1, so the per-host interval is set
to 0 (with one real host per site it would pace each site, not the run); everything else is at
its defaults.

    .venv/bin/python bench/fetch.py [--feeds 100] [--items 10]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import resource
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchdb import scratch_database

from newswatch import clock, ingest, pipeline, store
from newswatch.fetch import fetch_page
from newswatch.http_client import Downloader
from newswatch.poll import poll_feed
from newswatch.records import FeedState, Page
from newswatch.settings import Settings, get_settings
from newswatch.store import db

PARAGRAPH = (
    "Officials in Tokyo said talks on tariffs and rare earth supply chains would resume. " * 6
)


def feed_xml(base: str, k: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {k}-{m} on tariffs</title><link>{base}/page/{k}/{m}</link>"
        f"<guid>{k}-{m}</guid><pubDate>Wed, 17 Dec 2025 0{m % 10}:00:00 +0000</pubDate>"
        f"<description>Summary {k}-{m}.</description></item>"
        for m in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {k}</title>{entries}'
        "</channel></rss>"
    ).encode()


def page_html(k: int, m: int) -> bytes:
    nav = "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(40))
    body = "".join(f"<p>{PARAGRAPH} ({k}-{m}-{i})</p>" for i in range(30))
    return (
        f"<html><head><title>Story {k}-{m}</title></head><body><nav><ul>{nav}</ul></nav>"
        f"<article><h1>Story {k}-{m}</h1>{body}</article><footer>© Bench</footer></body></html>"
    ).encode()


def serve(items: int) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if parts[0] == "feed":
                body, kind = feed_xml(base, int(parts[1]), items), "application/rss+xml"
            elif parts[0] == "page":
                body, kind = page_html(int(parts[1]), int(parts[2])), "text/html"
            else:
                self.send_response(404)
                self.end_headers()
                return
            etag = '"' + hashlib.md5(body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--items", type=int, default=10)
    args = parser.parse_args()
    logging.getLogger("newswatch").setLevel(logging.WARNING)
    server, base = serve(args.items)
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp)
        feeds = "".join(
            f"  - {{name: 'Feed {k}', url: '{base}/feed/{k}'}}\n" for k in range(args.feeds)
        )
        (config / "feeds.yaml").write_text("feeds:\n" + feeds)
        (config / "topics.yaml").write_text(
            "recipients: [desk@example.com]\ntopics:\n  - name: tariffs\n    keywords: [tariff]\n"
        )
        os.environ.update(
            {
                "NEWSWATCH_DATABASE_URL": url,
                "NEWSWATCH_CONFIG_DIR": str(config),
                "NEWSWATCH_VAR_DIR": str(config / "var"),
                "NEWSWATCH_ALLOW_HOSTS": "127.0.0.1",
                "NEWSWATCH_PER_HOST_INTERVAL": "0",
            }
        )
        settings = get_settings()
        try:
            rows = run(settings, args.feeds, args.items)
        finally:
            server.shutdown()
    print_table(rows, args.feeds, args.items, settings)
    return 0


async def network_only(settings: Settings, states: list[FeedState]) -> list[Page]:
    """What a run downloads, without extracting: every feed, then every new item's page."""
    async with Downloader(settings) as downloader:
        polls = await asyncio.gather(
            *(poll_feed(downloader, state, max_bytes=settings.max_feed_bytes) for state in states)
        )
        items = ingest.unseen_items(settings, list(polls))
        return list(
            await asyncio.gather(
                *(
                    fetch_page(downloader, item.link, max_bytes=settings.max_page_bytes)
                    for item in items
                    if item.link
                )
            )
        )


def run(settings: Settings, feeds: int, items: int) -> list[tuple[str, str]]:
    pipeline.open_run(settings)
    with db.transaction(db.session_factory(settings)) as session:
        states = store.feeds.feed_states(
            session,
            [feed_id for feed_id, _ in store.feeds.due_feeds(session, clock.now(), timedelta(0))],
        )
    started = time.perf_counter()
    fetched = asyncio.run(network_only(settings, states))
    network = time.perf_counter() - started
    pages = sum(1 for p in fetched if p.error is None)
    mb = sum(len(p.html or b"") for p in fetched) / 1e6

    started = time.perf_counter()
    first = pipeline.run_once(settings).to_xcom()
    first_s = time.perf_counter() - started
    clock.freeze(clock.now() + timedelta(days=1))
    started = time.perf_counter()
    second = pipeline.run_once(settings).to_xcom()
    second_s = time.perf_counter() - started
    clock.freeze(None)
    counts1, counts2 = first["counts"], second["counts"]
    assert isinstance(counts1, dict) and isinstance(counts2, dict)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        (
            "network only: feeds polled",
            f"{feeds} in {network:.2f} s = {feeds / network:,.0f} feeds/s",
        ),
        ("network only: pages fetched", f"{pages} ({mb:.1f} MB) = {pages / network:,.0f} pages/s"),
        (
            "first run, whole pipeline",
            f"{first_s:.2f} s ({counts1.get('articles_new', 0)} articles stored)",
        ),
        (
            "second run, all 304",
            f"{second_s:.2f} s ({counts2.get('feeds_not_modified', 0)} feeds 304)",
        ),
        ("second / first", f"{second_s / first_s:.3f} (target <= 0.10)"),
        ("peak RSS", f"{peak_mb:,.0f} MB"),
    ]


def print_table(rows: list[tuple[str, str]], feeds: int, items: int, settings: Settings) -> None:
    print(
        f"\nbench/fetch.py: {feeds} feeds x {items} items on 127.0.0.1, fetch_concurrency="
        f"{settings.fetch_concurrency}, per_host_concurrency={settings.per_host_concurrency}, "
        f"per_host_interval={settings.per_host_interval:g}s, python {sys.version.split()[0]}\n"
    )
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure':<{width}} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    sys.exit(main())
