"""A hostile feed affects only itself, in the mail: checked on the bytes a real SMTP server
(aiosmtpd on loopback) received and on the .eml files of the outbox.

- a title (or topic title, sender name, run id) cannot add a header or a body, however it is
  encoded: RFC 2047 q or b words, nested, split, folded, bidi overrides, Unicode line breaks;
- one message that cannot go (an internationalised address on a server without SMTPUTF8, an
  unusable address) fails alone, with its reason, and the others still go;
- the outlet readers see is the feed's configured name, never the feed's own <title>.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from conftest import Mailbox
from helpers import seed_alerts
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from sqlalchemy import select, update
from typer.testing import CliRunner

from newswatch import clock, models, pipeline, store
from newswatch.cli.main import app
from newswatch.config.models import SubscriberConfig
from newswatch.delivery import notice, send, transports
from newswatch.delivery.messages.alert import message_id, render_alert
from newswatch.delivery.messages.common import header_safe
from newswatch.records import (
    AlertView,
    Article,
    Links,
    Match,
    Outlet,
    ReaderView,
    StoryView,
    TopicHit,
)
from newswatch.settings import Settings, get_settings
from newswatch.store import db

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
EVIL = "Taiwan\r\nReply-To: x@evil\r\n\r\nFAKE"


def q_word(text: str, charset: str = "utf-8", q: str = "q") -> str:
    encoded = "".join(
        chr(b) if chr(b).isalnum() else "_" if b == 32 else f"={b:02X}"
        for b in text.encode(charset, "replace")
    )
    return f"=?{charset}?{q}?{encoded}?="


def b_word(text: str, charset: str = "utf-8", b: str = "b") -> str:
    return f"=?{charset}?{b}?{base64.b64encode(text.encode(charset, 'replace')).decode()}?="


HOSTILE_TITLES = {
    "q, as reported": "=?utf-8?q?Taiwan=0D=0AReply-To:_x@evil=0D=0A=0D=0AFAKE?=",
    "Q upper case": "=?UTF-8?Q?Taiwan=0D=0AReply-To:_x@evil=0D=0A=0D=0AFAKE?=",
    "b": b_word(EVIL),
    "B upper case": b_word(EVIL, "UTF-8", "B"),
    "q inside b": b_word(q_word(EVIL)),
    "four levels deep": q_word(b_word(q_word(b_word(EVIL)))),
    "split over words": " ".join(q_word(part) for part in EVIL.split("x@")),
    "after a long word": "Taiwan " + "x" * 80 + " " + q_word("a\r\nReply-To: x@evil\r\n\r\nFAKE"),
    "folded header": "Taiwan\r\n Reply-To: x@evil\r\n\r\nFAKE",
    "bare LF": "Taiwan\nReply-To: x@evil\n\nFAKE",
    "language tag": "=?utf-8*en?q?Taiwan=0D=0AReply-To:_x@evil=0D=0A=0D=0AFAKE?=",
    "latin-1": q_word(EVIL, "iso-8859-1"),
    "unknown charset": "=?x-no-such?q?Taiwan=0D=0AReply-To:_x@evil=0D=0A=0D=0AFAKE?=",
    "bad base64": "=?utf-8?b?VGFpd2FuDQpSZXBseS1UbzogeEBldmlsDQoNCkZBS0U*?=",
    "unicode line breaks": "Taiwan\u2028Reply-To: x@evil\u0085\u2029FAKE",
    "encoded NEL": q_word("Taiwan\u0085Reply-To: x@evil"),
    "hidden by a bidi mark": "=\u202e?utf-8?q?Taiwan=0D=0AReply-To:_x@evil?=",
    "bidi override": "Taiwan \u202eexe.gnp\u202c \u2066isolate\u2069 \u200fmark\u061c",
    "encoded bidi": b_word("Taiwan \u202eexe.gnp\u2067"),
}
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
OUR_HEADERS = {
    "from",
    "to",
    "subject",
    "message-id",
    "date",
    "x-newswatch-topic",
    "x-newswatch-alert",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def assert_ours(raw: bytes, message_id: str) -> EmailMessage:
    """The message has our headers, once each, our Message-ID among them, and our body."""
    head, _, body = re.split(rb"(\r?\n\r?\n)", raw, maxsplit=1)
    for line in re.split(rb"\r?\n", head):
        assert re.match(rb"[A-Za-z-]+:( |$)|[ \t]", line), line  # a header or its continuation
    msg = parse(raw)
    names = [name.lower() for name in msg.keys()]
    assert set(names) <= OUR_HEADERS, names
    assert len(names) == len(set(names)), names  # one Subject, one To, one Message-ID...
    assert msg["Message-ID"] == message_id
    assert message_id.encode() not in body
    subject = str(msg["Subject"]).strip()
    assert subject.startswith("[newswatch] ") and not UNSAFE.search(subject), subject
    return msg


def seed(settings: Settings, *titles: str) -> None:
    """Store one article per title, each matching the 'taiwan' topic: a pending alert each.
    The hostile title stays out of the text, which is not what is under test here."""
    seed_alerts(settings, *titles, text_of=lambda i, _: f"Story {i} about Taiwan.")


def alert_rows(settings: Settings) -> list[models.Alert]:
    with db.read(settings) as session:
        return list(session.scalars(select(models.Alert).order_by(models.Alert.id)))


def deliver() -> send.Delivery:
    fresh = get_settings()
    return send.deliver_pending(db.session_factory(fresh), transports.make_transport(fresh), fresh)


def write_config(folder: Path, feeds: str, topics: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feeds.yaml").write_text(feeds)
    (folder / "topics.yaml").write_text(topics)
    return folder


# -- 1. Headers cannot be rewritten -------------------------------------------------------------


def test_hostile_titles_cannot_rewrite_an_alert_sent_over_smtp(
    settings: Settings, smtp: Mailbox
) -> None:
    seed(settings, *HOSTILE_TITLES.values())
    assert deliver().sent == len(HOSTILE_TITLES)
    ids = {str(a.id): a.message_id for a in alert_rows(settings)}
    assert len(smtp.received) == len(HOSTILE_TITLES)
    for envelope in smtp.received:
        assert envelope.rcpt_tos == ["analyst@example.com"]
        raw = envelope.content
        assert isinstance(raw, bytes)
        msg = assert_ours(raw, ids[str(parse(raw)["X-Newswatch-Alert"])] or "")
        assert msg["Reply-To"] is None and msg["Bcc"] is None
        assert str(msg["Subject"]).startswith("[newswatch] Taiwan: ")
        assert "=?" not in str(msg["Subject"])  # nothing left for a reader to decode again
        plain = msg.get_body(("plain",))
        assert isinstance(plain, EmailMessage)
        assert plain.get_content().startswith("newswatch · new story on Taiwan\r\n")


def test_hostile_titles_cannot_rewrite_an_alert_in_the_outbox(settings: Settings) -> None:
    seed(settings, *HOSTILE_TITLES.values())
    assert deliver().sent == len(HOSTILE_TITLES)
    for alert in alert_rows(settings):
        assert alert.message_id is not None
        name = alert.message_id.strip("<>").replace("@", "_")
        msg = assert_ours((settings.outbox_dir / f"{name}.eml").read_bytes(), alert.message_id)
        assert msg["Reply-To"] is None


def test_topic_title_and_sender_name_cannot_rewrite_an_alert(
    settings: Settings, smtp: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "config",
        "feeds:\n  - {name: Wire, url: 'https://wire.example/rss'}\n",
        "recipients: [desk@example.com]\ntopics:\n"
        f"  - {{name: taiwan, title: '{HOSTILE_TITLES['b']}', query: Taiwan}}\n",
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    monkeypatch.setenv(
        "NEWSWATCH_MAIL_FROM",
        f'"{HOSTILE_TITLES["q, as reported"]} \u202eevil" <alerts@news.example>',
    )
    seed(get_settings(), "Quiet day in Taipei")
    assert deliver().sent == 1
    (envelope,) = smtp.received
    (alert,) = alert_rows(settings)
    msg = assert_ours(envelope.content, alert.message_id or "")  # type: ignore[arg-type]
    assert msg["Reply-To"] is None
    assert str(msg["Subject"]) == "[newswatch] Taiwan Reply-To: x@evil…: Quiet day in Taipei"
    (sender,) = msg["From"].addresses
    assert sender.addr_spec == "alerts@news.example" and not UNSAFE.search(sender.display_name)
    assert envelope.mail_from == "alerts@news.example"
    assert envelope.rcpt_tos == ["desk@example.com"]


def test_hostile_titles_cannot_rewrite_a_digest(settings: Settings, smtp: Mailbox) -> None:
    seed(settings, *HOSTILE_TITLES.values())
    subscriber = SubscriberConfig(name="morning-desk", emails=["desk@example.com"], mode="digest")
    with db.transaction(db.session_factory(settings)) as session:
        store.outbox.plan_digest(
            session, subscriber, T0 - timedelta(hours=1), T0 + timedelta(hours=1), T0
        )
    fresh = get_settings()
    sent = send.deliver_digests(db.session_factory(fresh), transports.make_transport(fresh), fresh)
    assert sent.sent == 1, sent.errors
    (envelope,) = smtp.received
    with db.read(settings) as session:
        (row,) = session.scalars(select(models.DigestMail))
    msg = assert_ours(envelope.content, row.message_id or "")  # type: ignore[arg-type]
    assert msg["Reply-To"] is None and str(msg["Subject"]).startswith("[newswatch] Daily digest")
    plain = msg.get_body(("plain",))
    assert isinstance(plain, EmailMessage)
    assert plain.get_content().startswith("newswatch daily digest for morning-desk")


def test_hostile_run_id_cannot_rewrite_the_operator_notice(
    settings: Settings, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_OPERATOR_EMAIL", "ops@example.com")
    hostile = HOSTILE_TITLES["q inside b"]
    notice.notify_failure(
        {
            "dag": SimpleNamespace(dag_id="news_monitor"),
            "run_id": f"manual__{hostile}",
            "reason": hostile,
            "exception": RuntimeError(hostile),
        }
    )
    (envelope,) = smtp.received
    msg = parse(envelope.content)  # type: ignore[arg-type]
    assert_ours(envelope.content, str(msg["Message-ID"]))  # type: ignore[arg-type]
    assert str(msg["Message-ID"]).startswith("<failure.") and msg["Reply-To"] is None
    assert envelope.rcpt_tos == ["ops@example.com"]


WORD_TEXT = st.text(st.sampled_from("Taiwan\r\n\t \x00\x0b\x85\u2028\u202e\u2066=?_:@<>\"'é語"))
ENCODED = st.builds(
    lambda text, charset, kind: (q_word if kind in "qQ" else b_word)(text, charset, kind),
    WORD_TEXT,
    st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "utf-16"]),
    st.sampled_from("qQbB"),
)
PIECE = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),  # the edge removes surrogates
    ENCODED,
    ENCODED.map(b_word),
    st.sampled_from(["=?", "?=", "=?utf-8?q?", "\r\n ", "\r\n\r\n", "Reply-To: x@evil"]),
)
TITLES = st.lists(PIECE, max_size=6).map("".join)


SENDER = "newswatch <a@news.example>"


def view(title: str, topic_title: str = "Taiwan", source: str = "Wire") -> AlertView:
    hit = TopicHit("taiwan", topic_title, {"Taiwan": 1}, "about Taiwan.", [(6, 12)])
    story = StoryView(
        story_id=7,
        title=title,
        url="https://news.example/1",
        first_seen=T0,
        published_at=T0,
        topics=[hit],
        outlets=[Outlet(source, "https://news.example/1")],
    )
    links = Links(unsubscribe="https://x.example/unsubscribe?t=a.b", mailto="mailto:u@x.example")
    reader = ReaderView(
        "email:desk@example.com", ["desk@example.com"], ZoneInfo("UTC"), [topic_title], links
    )
    return AlertView(alert_id=7, kind="alert", story=story, reader=reader)


@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=TITLES, topic_title=TITLES, source=TITLES)
def test_no_title_can_add_a_header_or_a_body(title: str, topic_title: str, source: str) -> None:
    alert = view(title, topic_title, source)
    msg = render_alert(alert, SENDER, T0)
    for linesep in ("\r\n", "\n"):
        raw = transports.to_wire(msg, linesep).data
        parsed = assert_ours(raw, message_id(alert, SENDER))
        # What we set is what arrives, but for the spaces Python's folding moves or drops
        # between encoded words.
        assert "".join(str(parsed["Subject"]).split()) == "".join(str(msg["Subject"]).split())
        plain = parsed.get_body(("plain",))
        assert isinstance(plain, EmailMessage)
        assert plain.get_content().replace("\r\n", "\n").startswith("newswatch · new story on ")


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(st.text(st.characters()), TITLES, st.text(st.characters(exclude_categories=[])))
)
def test_header_safe_leaves_one_plain_line_that_decodes_to_itself(value: str) -> None:
    safe = header_safe(value)
    assert not UNSAFE.search(safe) and "=?" not in safe
    assert not re.search("[\ud800-\udfff]", safe) and safe == safe.strip()
    assert header_safe(safe) == safe


# -- 2. One message cannot block the others ---------------------------------------------------

IDN = "\u0430nalyst@example.com"  # Cyrillic а


@pytest.fixture
def two_topics(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """taiwan goes to an internationalised address, tariffs to a plain one."""
    config = write_config(
        tmp_path / "config",
        "feeds:\n  - {name: Wire, url: 'https://wire.example/rss'}\n",
        "recipients: [desk@example.com]\ntopics:\n"
        f"  - {{name: taiwan, query: Taiwan, recipients: ['{IDN}']}}\n"
        "  - {name: tariffs, query: tariff}\n",
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    fresh = get_settings()
    seed(fresh, "Taiwan first")  # claimed first: it must not hold up the other
    with db.transaction(db.session_factory(fresh)) as session:
        feed = session.scalars(select(models.Feed)).one()
        match = Match(topic="tariffs", terms={"tariff": 1}, snippet="a tariff", highlights=[(2, 8)])
        article = Article(
            url="https://news.example/tariffs",
            feed_id=feed.id,
            title="Tariffs second",
            author=None,
            published_at=T0,
            language="en",
            text="A tariff story.",
            text_source="page",
            content_hash="tariffs",
            summary="",
        )
        store.articles.save_articles(session, [(article, [match])], T0)
    return fresh


def test_internationalised_address_fails_alone_without_smtputf8_and_goes_with_it(
    two_topics: Settings, smtp: Mailbox, plain_smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    utf8_smtp = smtp
    first = deliver()
    assert (first.sent, first.failed, first.retrying) == (1, 1, 0)
    (envelope,) = plain_smtp.received
    assert envelope.rcpt_tos == ["desk@example.com"]
    idn_alert, plain_alert = alert_rows(two_topics)
    assert (idn_alert.state, idn_alert.attempts, plain_alert.state) == ("failed", 1, "sent")
    assert "SMTPUTF8" in (idn_alert.last_error or "")
    assert deliver().sent == 0 and len(plain_smtp.received) == 1  # a rerun sends nothing twice
    runner = CliRunner()
    listing = runner.invoke(app, ["alerts", "--failed"])
    assert listing.exit_code == 0 and "SMTPUTF8" in listing.output, listing.output

    monkeypatch.setenv("NEWSWATCH_SMTP_URL", utf8_smtp.url)
    resent = runner.invoke(app, ["alerts", "resend", str(idn_alert.id)])
    assert resent.exit_code == 0, resent.output
    (envelope,) = utf8_smtp.received
    assert envelope.rcpt_tos == [IDN] and "SMTPUTF8" in envelope.mail_options
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes) and f"To: {IDN}".encode() in raw
    assert_ours(raw, alert_rows(two_topics)[0].message_id or "")
    assert deliver().sent == 0 and len(utf8_smtp.received) == 1 and len(plain_smtp.received) == 1


def test_internationalised_address_is_written_to_the_outbox_as_utf8(two_topics: Settings) -> None:
    assert deliver().sent == 2
    idn_alert = alert_rows(two_topics)[0]
    name = (idn_alert.message_id or "").strip("<>").replace("@", "_")
    raw = (two_topics.outbox_dir / f"{name}.eml").read_bytes()
    assert f"To: {IDN}\n".encode() in raw  # UTF-8 (RFC 6532), not an encoded word


def test_unusable_stored_address_fails_alone(two_topics: Settings, smtp: Mailbox) -> None:
    # An address email-validator accepts, whose local part is an encoded word the header
    # parser would decode into a line break.
    hostile = "=?utf-8?b?YQ0KUmVwbHktVG86IHhAZXZpbA0K?=@example.com"
    with db.transaction(db.session_factory(two_topics)) as session:
        session.execute(
            update(models.Alert).where(models.Alert.id == 1).values(recipients=[hostile])
        )
    result = deliver()
    assert (result.sent, result.failed) == (1, 1)
    failed, sent = alert_rows(two_topics)
    assert failed.state == "failed" and "not a usable email address" in (failed.last_error or "")
    assert sent.state == "sent" and [e.rcpt_tos for e in smtp.received] == [["desk@example.com"]]


def test_unusable_sender_keeps_email_pending(
    settings: Settings, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(settings, "First")
    monkeypatch.setenv("NEWSWATCH_MAIL_FROM", "newswatch at localhost")
    result = deliver()
    assert result.sent == 0 and "NEWSWATCH_MAIL_FROM" in result.errors[0]
    assert [(a.state, a.attempts) for a in alert_rows(settings)] == [("pending", 0)]
    monkeypatch.setenv("NEWSWATCH_MAIL_FROM", "newswatch <newswatch@localhost>")
    assert deliver().sent == 1


# -- 3. The outlet is the configured feed name ------------------------------------------------

STORY = (
    "TAIPEI – Taiwan's president met lawmakers on Tuesday to discuss the defence budget, "
    "officials said, after weeks of debate over spending on coastal missiles and drones. "
    "The talks in Taipei ended without a vote, and a second round is planned for next week."
)


def test_a_feed_title_cannot_claim_another_outlet(
    settings: Settings,
    httpserver: HTTPServer,
    smtp: Mailbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    claims = {"asia": "Reuters", "kyodo": "Associated Press"}
    for feed, claimed in claims.items():
        httpserver.expect_request(f"/{feed}/rss").respond_with_data(
            '<?xml version="1.0"?><rss version="2.0"><channel>'
            f"<title>{claimed}</title><link>https://{claimed.lower()}.example/</link>"
            f"<item><title>Taiwan budget talks</title><link>{base}/{feed}/1</link>"
            f"<guid>{feed}-1</guid></item></channel></rss>",
            content_type="application/rss+xml",
        )
        httpserver.expect_request(f"/{feed}/1").respond_with_data(
            f"<html><head><title>Taiwan budget talks</title></head><body><article><p>{STORY}</p>"
            "</article></body></html>",
            content_type="text/html",
        )
    config = write_config(
        tmp_path / "config",
        f"feeds:\n  - {{name: Asia Wire, url: '{base}/asia/rss'}}\n"
        f"  - {{name: Kyodo Desk, url: '{base}/kyodo/rss'}}\n",
        "recipients: [desk@example.com]\ntopics:\n  - {name: taiwan, query: Taiwan}\n"
        "subscribers:\n  - {name: morning-desk, emails: [am@example.com], mode: digest}\n",
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    clock.freeze(T0)
    pipeline.run_once(get_settings())
    clock.freeze(T0 + timedelta(hours=1))
    pipeline.plan_digests(get_settings())
    assert pipeline.send_digests(get_settings()).counts["digests_sent"] == 1
    alert, digest = (parse(e.content) for e in smtp.received)  # type: ignore[arg-type]
    assert [e.rcpt_tos for e in smtp.received] == [["desk@example.com"], ["am@example.com"]]
    for msg in (alert, digest):
        for part in ("plain", "html"):
            body = msg.get_body((part,))
            assert isinstance(body, EmailMessage)
            text = body.get_content()
            assert "Asia Wire" in text and "Kyodo Desk" in text, text
            assert "Reuters" not in text and "Associated Press" not in text, text
    with db.read(settings) as session:
        story_id = session.scalars(select(models.Story.id)).one()
        outlets = [name for name, _ in store.reads.story_outlets(session, story_id)]
        assert sorted(outlets) == ["Asia Wire", "Kyodo Desk"]


@given(
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_categories=["Cs"]),
        min_size=1,
        max_size=170,
    )
)
def test_a_subject_reads_back_as_written_at_every_length(text: str) -> None:
    """No leading space from a line broken right after `Subject:` (70-77 characters did)."""
    from newswatch.delivery.messages.common import header_safe, new_message
    from newswatch.delivery.messages.layout import subject_line

    subject = subject_line(text)
    now = datetime(2026, 12, 4, tzinfo=UTC)
    msg = new_message("a@news.example", ["b@news.example"], subject, "<x@news.example>", now)
    raw = msg.as_bytes(policy=policy.SMTP)
    assert BytesParser(policy=policy.default).parsebytes(raw)["Subject"] == subject
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert header_safe(subject) == subject
