"""Rendering alert emails: pure, and safe against whatever a feed sends."""

from datetime import UTC, datetime

from newswatch.delivery.messages.alert import message_id, render_alert
from newswatch.records import AlertView

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def view(**kw: object) -> AlertView:
    values: dict[str, object] = {
        "alert_id": 7,
        "topic": "tariffs",
        "topic_title": "Tariffs",
        "recipients": ["desk@example.com"],
        "title": "Toyota warns on tariffs",
        "url": "https://news.example/toyota",
        "source": "AloJapan.com",
        "published_at": datetime(2025, 12, 16, 6, 30, tzinfo=UTC),
        "terms": {"tariff": 2},
        "snippet": "U.S. tariffs will cut profit",
        "highlights": [(5, 12)],
        "text_source": "page",
    } | kw
    return AlertView(**values)  # type: ignore[arg-type]


def parts(msg: object) -> tuple[str, str]:
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    html = msg.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    return plain, html


def test_subject_names_topic_and_title_and_body_has_the_facts() -> None:
    msg = render_alert(view(), "newswatch <alerts@news.example>", NOW)
    assert msg["Subject"] == "[newswatch] Tariffs: Toyota warns on tariffs"
    assert msg["From"] == "newswatch <alerts@news.example>"
    plain, html = parts(msg)
    for fact in (
        "AloJapan.com",
        "2025-12-16 06:30 UTC",
        "https://news.example/toyota",
        "tariff ×2",
    ):
        assert fact in plain
    assert "U.S. [tariffs] will cut profit" in plain
    assert "U.S. <mark>tariffs</mark> will cut profit" in html


def test_feed_strings_are_escaped_in_html() -> None:
    msg = render_alert(
        view(title="<script>alert(1)</script>", source="A&B <i>"), "a@b.example", NOW
    )
    _, html = parts(msg)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "A&amp;B &lt;i&gt;" in html


def test_crlf_in_title_cannot_add_headers_or_recipients() -> None:
    msg = render_alert(view(title="Hi\r\nBcc: victim@example.com"), "a@b.example", NOW)
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert msg["To"] == "desk@example.com"


def test_only_http_links_are_linked() -> None:
    msg = render_alert(view(url="javascript:alert(1)"), "a@b.example", NOW)
    plain, html = parts(msg)
    assert "javascript:" not in html and "javascript:" not in plain


def test_message_id_is_the_same_for_the_same_alert() -> None:
    assert message_id(view(), "a@news.example") == message_id(view(), "a@news.example")
    assert message_id(view(), "a@news.example") != message_id(view(alert_id=8), "a@news.example")
    assert message_id(view(), "a@news.example").endswith("@news.example>")


def test_fallback_text_is_flagged_in_the_email() -> None:
    plain, html = parts(render_alert(view(text_source="feed_summary"), "a@b.example", NOW))
    assert "feed's summary" in plain and "feed's summary" in html
