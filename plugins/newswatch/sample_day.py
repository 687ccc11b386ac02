"""A bundled sample news day served on loopback, for `make demo` and the end-to-end tests.

Three feeds: an AloJapan-style WordPress RSS feed (the Takaichi–Trump summit article first, an
article with no hits, and one whose page is missing so the feed summary is used), an Atom feed
(a rare-earth story, a "Taiwanese pineapple" story that must not hit Taiwan, an entry with no
link, the summit article again under AloJapan's own link, and the same wire story on Asia Wire's
own page, lightly edited: one story, no second alert), and a feed whose server fails.
Article pages are rendered from their site's page template and the article as data
(sample_day/articles.yaml), so each site's chrome is written once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

import yaml

RSS = "application/rss+xml; charset=UTF-8"
ATOM = "application/atom+xml; charset=utf-8"
HTML = "text/html; charset=UTF-8"

# path -> (fixture file or None for an error status, content type, status)
ROUTES: dict[str, tuple[str | None, str, int]] = {
    "/alojapan/feed/": ("alojapan-feed.xml", RSS, 200),
    "/alojapan/news/takaichi-trump-summit/": ("takaichi-trump.html", HTML, 200),
    "/alojapan/travel/cherry-blossom-forecast/": ("cherry-blossom.html", HTML, 200),
    "/alojapan/business/toyota-tariff-warning/": (None, HTML, 404),
    "/asiawire/atom.xml": ("asiawire-feed.xml", ATOM, 200),
    "/asiawire/2025/12/16/rare-earth-controls": ("rare-earth-controls.html", HTML, 200),
    "/asiawire/2025/12/15/taiwanese-pineapple": ("taiwanese-pineapple.html", HTML, 200),
    "/asiawire/2025/12/17/takaichi-trip-kyodo": ("takaichi-trump-kyodo.html", HTML, 200),
    "/broken/feed.xml": (None, "text/plain", 500),
}

FEEDS = [
    {"name": "AloJapan", "url": "{BASE}/alojapan/feed/"},
    {"name": "Asia Wire", "url": "{BASE}/asiawire/atom.xml"},
    {"name": "Broken Times", "url": "{BASE}/broken/feed.xml"},
]


_FILES = resources.files("newswatch") / "sample_day"


@cache
def _articles() -> dict[str, dict[str, str]]:
    articles: dict[str, dict[str, str]] = yaml.safe_load(
        (_FILES / "articles.yaml").read_text(encoding="utf-8")
    )
    return articles


def pages() -> list[str]:
    """The names of the article pages, in the order of articles.yaml."""
    return list(_articles())


def page(name: str) -> str:
    """An article page (e.g. "takaichi-trump.html") as its site serves it."""
    article = _articles()[name]
    template = Template((_FILES / article["template"]).read_text(encoding="utf-8"))
    return template.substitute(article)


def _file(name: str) -> str:
    """A sample file as served, before {BASE} is filled in: an article page or a feed."""
    if name in _articles():
        return page(name)
    return (_FILES / name).read_text(encoding="utf-8")


class SampleDay:
    """The running server: its base URL and how often each path was requested."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        host, port = server.server_address[:2]
        self._server = server
        self.base_url = f"http://{host!s}:{port}"
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def write_config(self, config_dir: Path, topics_yaml: Path) -> Path:
        """feeds.yaml pointing at this server, beside a copy of the given topics.yaml."""
        config_dir.mkdir(parents=True, exist_ok=True)
        feeds = [{**feed, "url": feed["url"].replace("{BASE}", self.base_url)} for feed in FEEDS]
        (config_dir / "feeds.yaml").write_text(yaml.safe_dump({"feeds": feeds}, sort_keys=False))
        (config_dir / "topics.yaml").write_text(topics_yaml.read_text(encoding="utf-8"))
        return config_dir


def _handler(day: SampleDay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = urlsplit(self.path).path
            day.requests[path] += 1
            name, content_type, status = ROUTES.get(path, (None, "text/plain", 404))
            if name is None:
                self._reply(status, content_type, b"sample day: nothing here\n")
                return
            body = _file(name).replace("{BASE}", day.base_url).encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            if self.headers.get("If-None-Match") == etag:
                day.not_modified[path] += 1
                self._reply(304, content_type, b"", etag)
                return
            self._reply(200, content_type, body, etag)

        def _reply(
            self, status: int, content_type: str, body: bytes, etag: str | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if etag:
                self.send_header("ETag", etag)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def start(port: int = 0) -> SampleDay:
    """Serve the sample day on 127.0.0.1 (a free port unless given) in a background thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    day = SampleDay(server)
    server.RequestHandlerClass = _handler(day)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return day


@contextmanager
def serve(port: int = 0) -> Iterator[SampleDay]:
    day = start(port)
    try:
        yield day
    finally:
        day.close()
