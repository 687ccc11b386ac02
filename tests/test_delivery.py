"""Alert delivery under syndication, failures and concurrency: real PostgreSQL, HTTP and SMTP."""

from __future__ import annotations

import re
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import Mailbox
from helpers import seed_alerts, states
from pytest_httpserver import HTTPServer

from newswatch import pipeline
from newswatch.delivery import send, transports
from newswatch.settings import Settings, get_settings
from newswatch.store import db

WIRE = (
    "TOKYO – Japan and the United States agreed on Tuesday to cut tariffs on cars and parts, "
    "officials said, ending months of talks that had weighed on exporters and investors alike. "
    "The deal lowers the duty on Japanese vehicles and sets up a joint fund for chip supply "
    "chains, while Tokyo promised to buy more American farm goods over the next three years. "
    "Trade ministers from both sides will meet again in spring to review how the deal works."
)
OTHER = (
    "SEOUL – South Korea said it would challenge new steel tariffs at the World Trade "
    "Organization, arguing that the duties broke earlier commitments on market access for "
    "flat-rolled products and pipes shipped to North America and Europe over the past year."
)


def page(body: str, outlet: str) -> str:
    return (
        f"<html><head><title>{outlet}</title></head><body><nav>{outlet} Home News Markets</nav>"
        f"<article><p>{body}</p><p>({outlet} staff)</p></article><footer>{outlet} ©</footer></body></html>"
    )


def rss(base: str, items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{base}{path}</link><guid>{path}</guid></item>"
        for path, title in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{entries}</channel></rss>'


def test_five_copies_across_three_feeds_give_one_alert_listing_each_outlet_once(
    settings: Settings,
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp: Mailbox,
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feeds = {
        "/a/rss": [
            ("/a/1", "Japan, US cut car tariffs"),
            ("/a/2", "Japan-US tariff deal (update)"),
        ],
        "/b/rss": [
            ("/b/1", "Tariff deal reached"),
            ("/b/2", "Car tariffs to fall"),
            ("/b/3", "Korea fights steel tariffs"),
        ],
        "/c/rss": [("/c/1", "US and Japan agree on tariffs")],
    }
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    for path, items in feeds.items():
        httpserver.expect_request(path).respond_with_data(
            rss(base, items), content_type="application/rss+xml"
        )
        for item_path, _ in items:
            body = (
                OTHER
                if item_path == "/b/3"
                else WIRE.replace("on Tuesday", f"on Tuesday ({item_path})")
            )
            httpserver.expect_request(item_path).respond_with_data(
                page(body, item_path[:2]), content_type="text/html"
            )
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n" + "".join(f"  - {{name: {p[1]}, url: '{base}{p}'}}\n" for p in feeds)
    )
    (tmp_path / "topics.yaml").write_text(
        "recipients: [desk@example.com]\ntopics:\n  - {name: tariffs, query: 'tariff*'}\n"
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    summary = pipeline.run_once(get_settings()).to_xcom()
    assert summary["counts"]["stories_new"] == 2
    assert len(smtp.received) == 2  # the wire story once, the Korean story once
    messages = [message_from_bytes(e.content, policy=policy.default) for e in smtp.received]  # type: ignore[arg-type]
    (wire,) = [m for m in messages if "Korea" not in str(m["Subject"])]
    plain = wire.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # Five copies in three outlets: each outlet once, with its first copy's link.
    assert "Carried by 3 outlets:" in plain
    (read,) = [row for row in plain.splitlines() if row.startswith("Read the story: ")]
    for outlet in ("a", "b", "c"):
        (line,) = [row for row in plain.splitlines() if re.match(rf"\* {outlet}[: ]", row)]
        # The outlet whose link is the story's own is not given the link a second time.
        assert line.startswith(f"* {outlet}: {base}/{outlet}/") or (
            line == f"* {outlet} (the story's link above)"
            and read.startswith(f"Read the story: {base}/{outlet}/")
        )


class DropsAfterFirst:
    """An SMTP server that accepts one message, then fails the connection mid-batch."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.received:
            return "421 4.3.0 closing connection"
        self.received.append(envelope)
        return "250 OK"


def test_smtp_failing_mid_batch_sends_the_rest_next_run_without_repeats(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, smtp: Mailbox
) -> None:
    from aiosmtpd.controller import Controller
    from conftest import free_port

    seed_alerts(settings, "One", "Two", "Three")
    flaky = DropsAfterFirst()
    port = free_port()
    controller = Controller(flaky, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("NEWSWATCH_SMTP_URL", f"smtp://127.0.0.1:{port}")
        first = pipeline.deliver(get_settings())
    finally:
        controller.stop()
    assert first.counts["alerts_sent"] == 1 and len(flaky.received) == 1
    assert [s for s, _ in states(settings)].count("sent") == 1
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", smtp.url)
    second = pipeline.deliver(get_settings())
    assert second.counts["alerts_sent"] == 2 and len(smtp.received) == 2
    subjects = sorted(
        str(message_from_bytes(e.content)["Subject"])  # type: ignore[arg-type]
        for e in [*flaky.received, *smtp.received]
    )
    assert len(set(subjects)) == 3  # each alert exactly once across both runs


def test_two_concurrent_senders_never_send_one_alert_twice(
    settings: Settings, smtp: Mailbox
) -> None:
    seed_alerts(settings, *[f"Story {i}" for i in range(20)])
    current = get_settings()
    results: list[send.Delivery] = []

    def sender() -> None:
        factory = db.session_factory(current)
        results.append(send.deliver_pending(factory, transports.make_transport(current), current))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in results) == 20
    assert len(smtp.received) == 20
    ids = [message_from_bytes(e.content)["Message-ID"] for e in smtp.received]  # type: ignore[arg-type]
    assert len(set(ids)) == 20
