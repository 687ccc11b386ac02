"""A generated news web on loopback: K feeds, N articles, realistic heavy pages, known bodies.

Pages are 50–300 KB: the article body (known exactly, for extraction quality) inside navigation,
inline scripts and styles, related-story lists, comments and footers. About 10% of articles are
syndicated copies of another article's body under another outlet's boilerplate, and about 3%
of pages fail with HTTP 500.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection

WORDS = (
    "government minister talks trade deal summit security economy exports imports market "
    "investors yen bank policy election parliament budget region officials source said week "
    "month year plan support growth supply chain minerals energy prices industry companies "
    "workers farmers tourism visitors city island court ruling report data survey analysts "
    "forecast risk rise fall talks agreement"
).split()
# Topic news at the rates a general news day has it: the words of config/topics.yaml are not
# in WORDS, so an article hits a topic only through one of these sentences.
TOPIC_SENTENCES = (
    (0.08, "Officials warned that a new tariff on steel would hurt exporters."),
    (0.04, "Prices of rare earth magnets rose as supply chains tightened."),
    (0.03, "Tensions in the Taiwan Strait were discussed at the meeting."),
    (0.03, "The cabinet approved higher defense spending for next year."),
)


@dataclass(frozen=True)
class Article:
    feed: int
    index: int
    title: str
    body: str  # paragraphs joined by blank lines: what a perfect extractor returns
    size: int  # target page size in bytes
    fails: bool


@dataclass
class NewsWeb:
    feeds: int
    articles: list[Article]
    pages: dict[str, bytes] = field(default_factory=dict)

    def page_path(self, article: Article) -> str:
        return f"/site{article.feed}/story/{article.index}"


def generate(feeds: int, articles: int, seed: int = 7) -> NewsWeb:
    rng = random.Random(seed)
    made: list[Article] = []
    for i in range(articles):
        feed = i % feeds
        if made and rng.random() < 0.10:
            original = rng.choice(made)
            body, title = original.body, original.title + " (agency copy)"
        else:
            blocks = [_sentence_block(rng) for _ in range(rng.randint(6, 14))]
            for rate, sentence in TOPIC_SENTENCES:
                if rng.random() < rate:
                    at = rng.randrange(len(blocks))
                    blocks[at] = f"{blocks[at]} {sentence}"
            body = "\n\n".join(blocks)
            title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
        made.append(
            Article(
                feed=feed,
                index=i,
                title=title,
                body=body,
                size=rng.randint(50_000, 300_000),
                fails=rng.random() < 0.03,
            )
        )
    web = NewsWeb(feeds=feeds, articles=made)
    for article in made:
        web.pages[web.page_path(article)] = render_page(article, rng)
    return web


def _sentence_block(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(3, 6)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(10, 22))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def _article_html(article: Article, rng: random.Random) -> str:
    """The body's paragraphs with what real article containers interleave: inline "read also"
    links, newsletter boxes, photo captions, a share bar, an author bio and tags. None of it is
    part of the known body, so an extractor that keeps it loses precision. Class names are
    opaque, as a site's build tools make them, so no extractor can go by name alone."""

    def box() -> str:
        return f"c-{rng.randrange(16**6):06x}"

    parts = [
        f"<div class='{box()}'><a href='/s/fb'>Share</a> <a href='/s/x'>Post</a> "
        "<a href='/s/mail'>Email</a> <span>5 min read</span></div>"
    ]
    for i, paragraph in enumerate(article.body.split("\n\n")):
        parts.append(f"<p>{paragraph}</p>")
        roll = rng.random()
        if i and roll < 0.15:
            links = "".join(
                f"<li><a href='/story/{rng.randint(0, 10**6)}'>{' '.join(rng.choice(WORDS) for _ in range(9))}</a></li>"
                for _ in range(3)
            )
            parts.append(f"<div class='{box()}'><h4>Read also</h4><ul>{links}</ul></div>")
        elif roll < 0.25:
            parts.append(
                f"<div class='{box()}'><p>Get the morning briefing in your inbox. Sign up for "
                "our free newsletter and never miss a story.</p><form><input name='e'>"
                "<button>Subscribe</button></form></div>"
            )
        elif roll < 0.32:
            caption = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize()
            parts.append(
                f"<figure><img src='/img/{rng.randint(0, 10**6)}.jpg' alt=''>"
                f"<figcaption>{caption}. (Photo: Agency)</figcaption></figure>"
            )
    parts.append(
        f"<div class='{box()}'><p>Staff writer covering economy and politics. "
        "Reach the desk at desk@example.com.</p></div>"
        f"<ul class='{box()}'>"
        + "".join(f"<li><a href='/tag/{w}'>{w}</a></li>" for w in rng.sample(WORDS, 5))
        + "</ul>"
    )
    return "".join(parts)


def render_page(article: Article, rng: random.Random) -> bytes:
    nav = "".join(
        f'<li><a href="/section/{i}">{rng.choice(WORDS).title()} {i}</a></li>' for i in range(60)
    )
    related = "".join(
        f'<li><a href="/story/{rng.randint(0, 10**6)}">{" ".join(rng.choice(WORDS) for _ in range(7))}</a></li>'
        for _ in range(25)
    )
    comments = "".join(
        f'<div class="comment"><b>reader{rng.randint(1, 999)}</b><p>{" ".join(rng.choice(WORDS) for _ in range(20))}</p></div>'
        for _ in range(15)
    )
    paragraphs = _article_html(article, rng)
    head = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{article.title}</title>"
        f"<meta property='og:title' content='{article.title}'>"
        "<style>" + ".x{color:#333;margin:0 auto}" * 200 + "</style></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>{article.title}</h1><div class='byline'>By Staff · Site {article.feed}</div>"
        f"<div class='entry-content'>{paragraphs}</div></article>"
        f"<aside><h3>Related</h3><ul>{related}</ul></aside>"
        f"<section class='comments'>{comments}</section></main>"
        "<footer>© News Site · Privacy · Terms · Cookies</footer>"
    )
    # The rest of the page weight: half markup an extractor must walk (ad slots, widgets), half
    # inline script, as on real news sites.
    filler = max(0, article.size - len(head) - 100)
    widget = (
        "<div class='ad-slot'><span class='label'>Advertisement</span><a href='/ad'>Offer</a></div>"
    )
    widgets = widget * (filler // 2 // len(widget))
    script = "<script>var tracking='" + "a" * max(0, filler - len(widgets)) + "';</script>"
    return (head + widgets + script + "</body></html>").encode()


def feed_xml(web: NewsWeb, feed: int, base: str) -> bytes:
    items = "".join(
        f"<item><title>{a.title}</title><link>{base}{web.page_path(a)}</link><guid>{a.index}</guid>"
        f"<pubDate>Wed, 17 Dec 2025 {a.index % 24:02d}:00:00 +0000</pubDate>"
        f"<description>{a.body[:200]}</description></item>"
        for a in web.articles
        if a.feed == feed
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Site {feed}</title>{items}</channel></rss>"
    ).encode()


def serve(web: NewsWeb) -> tuple[ThreadingHTTPServer, str]:
    """Serve the web on 127.0.0.1 with ETags (so an unchanged second poll gets 304s)."""
    failing = {web.page_path(a) for a in web.articles if a.fails}
    etags: dict[bytes, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            path = self.path.split("?")[0]
            if path.startswith("/feed/"):
                body, kind = feed_xml(web, int(path.rsplit("/", 1)[1]), base), "application/rss+xml"
            elif path in failing:
                self.send_response(500)
                self.end_headers()
                return
            elif path in web.pages:
                body, kind = web.pages[path], "text/html; charset=utf-8"
            else:
                self.send_response(404)
                self.end_headers()
                return
            etag = etags.get(body) if path in web.pages else None
            if etag is None:
                etag = '"' + hashlib.md5(body).hexdigest() + '"'
                if path in web.pages:
                    etags[body] = etag
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
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


def _serve_forever(feeds: int, articles: int, ready: Connection) -> None:
    os.nice(10)  # the "internet": its CPU is not the pipeline's, so it yields to it
    server, base = serve(generate(feeds, articles))
    ready.send(base)
    threading.Event().wait()


def serve_elsewhere(feeds: int, articles: int) -> tuple[multiprocessing.Process, str]:
    """The same web (same seed) served by its own process at lower CPU priority, so what the
    sites' servers cost is not charged to the pipeline as it would not be in production."""
    receive, send = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_forever, args=(feeds, articles, send), daemon=True
    )
    process.start()
    return process, receive.recv()
