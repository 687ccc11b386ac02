"""The real pages of shared/corpus/realpages as a news web on loopback: many hosts, one feed each.

Each of the 110 pages is copied to N distinct articles: copy i is page i % 110 with a sentence
of its own placed inside the article body (just before the first of its body snippets, when the
page has some), so every copy is a distinct article with its own text. The copies are spread round-robin over H hosts, 127.0.0.2, 127.0.0.3, … (all on the loopback
interface; each is a host of its own to the fetcher's politeness), each serving

    /robots.txt      allow everything
    /feed.xml        RSS 2.0 of its copies, newest first
    /a/<i>.html      copy i

Everything is computed from (N, H), so the server process and the benchmark make the same web
without sending it between them. Used by bench/realpages.py.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import random
import re
import resource
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from multiprocessing.connection import Connection
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "realpages"
WORDS = (
    "harbour lantern violet quarry meadow copper signal orchard glacier ferry tundra canyon "
    "beacon thistle marble cobalt willow saffron granite pelican juniper ember falcon lagoon "
    "prairie cedar comet maple oyster basalt heron tulip walnut zephyr mosaic pewter"
).split()
NEWEST = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RealPage:
    name: str
    html: bytes
    body: list[str]  # snippets of the article body (evaldata "with")
    boilerplate: list[str]  # snippets that must not be in it ("without")

    @cached_property
    def title(self) -> str:
        found = re.search(rb"<title[^>]*>(.*?)</title>", self.html, re.S | re.I)
        raw = found.group(1).decode("utf-8", "replace") if found else self.name
        return " ".join(html.unescape(raw).split())[:150] or self.name

    @cached_property
    def insert_at(self) -> int:
        """Where a copy's own words go: just before the first body snippet found in the page
        (in the same element, so they are kept when it is), else after the body's first
        paragraph."""
        body = re.search(rb"<body\b", self.html, re.I)
        begin = body.start() if body else 0
        for snippet in self.body:
            start = self.html.find(snippet.encode("utf-8"), begin)
            while start >= 0:
                in_text = self.html.rfind(b"<", 0, start) < self.html.rfind(b">", 0, start)
                lower = self.html[:start].lower()
                if in_text and lower.rfind(b"<script") <= lower.rfind(b"</script"):
                    return start  # in text, not inside a tag or a script
                start = self.html.find(snippet.encode("utf-8"), start + 1)
        end = re.compile(rb"</p\s*>", re.I).search(self.html, begin)
        return end.end() if end else len(self.html)


def corpus(folder: Path = CORPUS) -> list[RealPage]:
    """The pages, sorted by file name, with their snippets where evaldata.json has them."""
    snippets = {
        entry["file"]: entry
        for entry in json.loads((folder / "evaldata.json").read_text()).values()
    }
    pages = []
    for path in sorted((folder / "html").glob("*.html.gz")):
        name = path.name.removesuffix(".gz")
        entry = snippets.get(name, {})
        pages.append(
            RealPage(
                name,
                gzip.decompress(path.read_bytes()),
                entry.get("with", []),
                entry.get("without", []),
            )
        )
    return pages


@dataclass(frozen=True)
class RealWeb:
    pages: list[RealPage]
    copies: int
    hosts: int
    port: int = 0

    def host(self, k: int) -> str:
        """The k-th host's address: 127.0.0.2 onwards (127.0.0.1 is left to everything else)."""
        n = k + 2
        return f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    def host_of(self, i: int) -> int:
        return i % self.hosts

    def url(self, i: int) -> str:
        return f"http://{self.host(self.host_of(i))}:{self.port}/a/{i}.html"

    def feed_url(self, k: int) -> str:
        return f"http://{self.host(k)}:{self.port}/feed.xml"

    def original(self, i: int) -> RealPage:
        return self.pages[i % len(self.pages)]

    def copy(self, i: int) -> bytes:
        """Copy i: its page with a sentence of its own in the body."""
        page = self.original(i)
        words = random.Random(i).choices(WORDS, k=14)
        own = f"Loopback copy {i} notes {' '.join(words)}. ".encode()
        return page.html[: page.insert_at] + own + page.html[page.insert_at :]

    def feed(self, k: int) -> bytes:
        items = []
        for i in range(k, self.copies, self.hosts):
            published = NEWEST - timedelta(minutes=7 * i)
            items.append(
                f"<item><title>{escape(self.original(i).title)} ({i})</title>"
                f"<link>{self.url(i)}</link><guid>{self.url(i)}</guid>"
                f"<pubDate>{published:%a, %d %b %Y %H:%M:%S} +0000</pubDate></item>"
            )
        channel = f"<title>Loopback site {k}</title><link>http://{self.host(k)}:{self.port}/</link>"
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{channel}'
            f"{''.join(items)}</channel></rss>"
        ).encode()

    def every_copy(self) -> Iterator[tuple[int, bytes]]:
        for i in range(self.copies):
            yield i, self.copy(i)

    def answer(self, host: str, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        k = self._host_index.get(host)
        if k is not None and path == "/feed.xml":
            return 200, "application/rss+xml", self.feed(k)
        found = re.fullmatch(r"/a/(\d+)\.html", path)
        if k is not None and found and int(found[1]) < self.copies:
            i = int(found[1])
            if self.host_of(i) == k:
                return 200, "text/html; charset=utf-8", self.copy(i)
        return 404, "text/plain", b"not here"

    @cached_property
    def _host_index(self) -> dict[str, int]:
        return {self.host(k): k for k in range(self.hosts)}


async def _handle(web: RealWeb, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.1 with keep-alive, GET only: enough for the fetcher and the serial script."""
    host = writer.get_extra_info("sockname")[0]
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            _, target, _ = request_line.split(" ", 2)
            status, kind, body = web.answer(host, target.split("?", 1)[0])
            close = b"connection: close" in head.lower()
            writer.write(
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _serve(web: RealWeb, ready: Connection) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    servers = []
    for k in range(web.hosts):
        servers.append(
            await asyncio.start_server(
                lambda r, w: _handle(web, r, w), web.host(k), web.port, backlog=256
            )
        )
    ready.send(web.port)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def serve_forever(copies: int, hosts: int, port: int, ready: Connection) -> None:
    """In a process of its own (at nice 10: the sites' servers are not the pipeline's CPU)."""
    import os

    os.nice(10)
    web = RealWeb(corpus(), copies, hosts, port)
    asyncio.run(_serve(web, ready))
