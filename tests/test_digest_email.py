"""Rendering the daily digest (pure)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from newswatch.delivery.messages.digest import (
    chart_days,
    digest_message_id,
    digest_text,
    digest_title,
    rank,
    render_digest,
)
from newswatch.records import Digest, DigestStory, DigestTopic

END = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
DAYS = [date(2026, 11, 12) + timedelta(days=i) for i in range(14)]


def story(title: str, sources: int, hours_ago: int) -> DigestStory:
    return DigestStory(
        title=title,
        url=f"https://news.example/{title.replace(' ', '-')}",
        sources=[f"Outlet {i}" for i in range(sources)],
        first_seen=END - timedelta(hours=hours_ago),
        snippet="Talks on tariffs resumed.",
        highlights=[(9, 16)],
    )


def digest(*topics: DigestTopic) -> Digest:
    return Digest(
        subscriber="desk",
        recipients=["desk@example.com"],
        period_start=END - timedelta(days=1),
        period_end=END,
        topics=list(topics),
        daily_hits={"Tariffs": {DAYS[-1]: 3, DAYS[-2]: 1}},
        days=DAYS,
        zone=ZoneInfo("UTC"),
    )


def test_stories_rank_by_sources_then_recency() -> None:
    ranked = rank([story("old single", 1, 20), story("wide", 3, 10), story("new single", 1, 1)])
    assert [s.title for s in ranked] == ["wide", "new single", "old single"]


def test_digest_has_grouped_topics_chart_and_plain_text() -> None:
    topic = DigestTopic(
        name="tariffs", title="Tariffs", stories=[story("Steel <b>tariffs</b>", 2, 3)]
    )
    msg = render_digest(
        digest(topic), "newswatch <a@news.example>", END, "mailto:unsubscribe@news.example"
    )
    assert msg["Subject"] == "[newswatch] Daily digest 2026-11-25: 1 story in 1 topic(s)"
    assert msg["List-Unsubscribe"] == "<mailto:unsubscribe@news.example>"
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "== Tariffs (1) ==" in plain and "Talks on [tariffs] resumed." in plain
    assert "2 source(s): Outlet 0, Outlet 1" in plain
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "Steel &lt;b&gt;tariffs&lt;/b&gt;" in html and "<mark>tariffs</mark>" in html
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = str(images[0]["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in html
    assert images[0].get_payload(decode=True)[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[index]


def test_empty_digest_says_so() -> None:
    msg = render_digest(digest(), "a@news.example", END)
    assert "No hits in this period." in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_message_id_is_stable_per_subscriber_and_period() -> None:
    assert digest_message_id(digest(), "a@news.example") == digest_message_id(
        digest(), "a@news.example"
    )


def test_period_and_subject_show_local_dates_in_the_digest_time_zone() -> None:
    tokyo = replace(digest(), zone=ZoneInfo("Asia/Tokyo"))
    msg = render_digest(tokyo, "a@news.example", END)
    assert msg["Subject"].startswith("[newswatch] Daily digest 2026-11-26:")  # 07:00 in Tokyo
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "2026-11-25 07:00 JST to 2026-11-26 07:00 JST" in plain


def test_chart_ends_on_the_local_day_the_period_ends_in() -> None:
    days = chart_days(END, ZoneInfo("Asia/Tokyo"), 14)
    assert len(days) == 14 and days[-1] == date(2026, 11, 26) and days[0] == date(2026, 11, 13)
    assert chart_days(END, ZoneInfo("UTC"), 1) == [date(2026, 11, 25)]


def test_text_for_channels_ranks_stories_and_has_no_chart() -> None:
    topic = DigestTopic(
        name="tariffs", title="Tariffs", stories=[story("single", 1, 1), story("wide", 3, 9)]
    )
    text = digest_text(digest(topic))
    assert text.index("* wide") < text.index("* single")
    assert "cid:" not in text and "<img" not in text
    assert (
        digest_title(digest(topic))
        == "[newswatch] Daily digest 2026-11-25: 2 stories in 1 topic(s)"
    )
