"""Rendering the digest (pure): ranked stories, a per-topic count line, a chart in HTML, and the
"N more stories" message of a reader past the hourly limit."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from email_views import (
    DIGEST_DAYS,
    DIGEST_END,
    LINKS,
    LONG_URL,
    NOW,
    SENDER,
    TAKAICHI,
    TAKAICHI_HITS,
    digest,
    digest_story,
    hit,
    sample_digest,
    visible,
    with_reader,
)

from newswatch.delivery.messages.digest import (
    chart_days,
    digest_message_id,
    digest_text,
    digest_title,
    rank,
    render_digest,
)
from newswatch.records import Digest, Links, Outlet

TARIFFS = hit("Tariffs", {"tariff": 1}, "Talks on tariffs resumed.", "tariffs")


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return str(plain.get_content()), str(html.get_content())


def rendered(view: Digest) -> tuple[str, str]:
    return parts(render_digest(view, SENDER, NOW))


def bars(html: str) -> list[tuple[date, int]]:
    """The chart's bars: (local day, hits), read from each bar's title."""
    return [
        (date.fromisoformat(day), int(count))
        for day, count in re.findall(r'class="bar-cell[^"]*" title="([\d-]+): (\d+)"', html)
    ]


def test_stories_rank_by_outlets_then_recency() -> None:
    ranked = rank(
        [
            digest_story("old single", 1, 20),
            digest_story("wide", 3, 10),
            digest_story("new single", 1, 1),
            digest_story("one outlet twice", 1, 15, outlets=[Outlet("A", ""), Outlet("A", "")]),
        ]
    )
    assert [s.title for s in ranked] == ["wide", "new single", "one outlet twice", "old single"]


def test_subject_counts_stories_with_the_right_plural() -> None:
    one = digest([digest_story("Steel tariffs", 2, 3, TARIFFS)])
    assert digest_title(one) == "[newswatch] Daily digest 2026-12-04: 1 story"
    four = digest([digest_story(f"Story {n}", 1, n, TARIFFS) for n in range(4)])
    assert digest_title(four) == "[newswatch] Daily digest 2026-12-04: 4 stories"
    assert render_digest(four, SENDER, NOW)["Subject"] == digest_title(four)
    assert digest_title(digest()) == "[newswatch] Daily digest 2026-12-04: no stories"


def test_topic_count_line_comes_first() -> None:
    plain, html = rendered(sample_digest())
    line = "Taiwan 2 · Tariffs 2 · Rare earths 2 · Defense spending 2 · U.S.–Japan relations 1"
    assert f"5 stories hit your topics.\nStories per topic: {line}\n" in plain
    assert plain.index(line) < plain.index(TAKAICHI)
    text = visible(html)
    assert f"Stories per topic: {line}" in text and text.index(line) < text.index(TAKAICHI)


def test_each_story_shows_its_topics_outlets_once_first_seen_snippet_and_link() -> None:
    story = digest_story(
        TAKAICHI,
        0,
        5,
        *TAKAICHI_HITS,
        outlets=[Outlet("Kyodo Desk", "https://k.example/1"), Outlet("Kyodo Desk", "")],
    )
    plain, html = rendered(digest([story]))
    assert (
        "   Topics: Taiwan, Tariffs, Rare earths, Defense spending, U.S.–Japan relations" in plain
    )
    assert "   First seen 02:00 JST · 1 outlet: Kyodo Desk\n" in plain
    assert "   Officials said the talks would cover [Taiwan], where [Taipei] has asked" in plain
    assert "[tariffs]" not in plain  # the best snippet only: the first topic's
    assert f"   Read the story: {story.url}" in plain
    chips = re.findall(r'<span class="chip"[^>]*>([^<]*)</span>', html)
    assert chips == [hit.title for hit in TAKAICHI_HITS]
    assert "First seen 02:00 JST · 1 outlet: Kyodo Desk" in visible(html)
    assert html.count(">Kyodo Desk</a>") == 1
    assert re.search(r"cover <mark[^>]*>Taiwan</mark>", html)
    # The title is the link; under the snippet a small text link, no filled button.
    assert re.search(rf'<h2 class="story-title"[^>]*><a href="{story.url}"', html)
    assert re.search(rf'<a class="read-link" href="{story.url}"[^>]*>Read →</a>', html)
    assert "button" not in html[html.index("<body") :]


def test_story_without_a_link_says_so_once_and_has_no_read_link() -> None:
    plain, html = rendered(digest([digest_story("Quiet link", 1, 2, TARIFFS, url="")]))
    assert "The feed gave no link for this story." in plain
    assert "The feed gave no link for this story." in html
    assert "Read the story" not in plain and "Read" not in visible(html)
    quiet = digest_story("Quiet link", 1, 2, TARIFFS, url="", text_source="feed_summary")
    plain, html = rendered(digest([quiet]))
    said = "The feed gave no link for this story; the text below is from the feed's summary."
    for text in (plain, visible(html)):
        assert text.count(said) == 1 and "could not be read" not in text
        assert text.index(said) < text.index("Talks on")


def test_text_from_the_feed_is_one_caption_worded_as_in_the_alert() -> None:
    story = digest_story("Strait", 1, 2, TARIFFS, text_source="feed_summary")
    plain, html = rendered(digest([story]))
    note = "Text taken from the feed's summary: the page could not be read."
    assert f"\n   {note}\n   Talks on [tariffs] resumed." in plain
    assert re.search(rf'<p class="source-note"[^>]*>{re.escape(note)}</p>', html)
    assert visible(html).count(note) == 1 and "text from" not in visible(html)


def test_chart_shows_integer_hits_per_topic_per_local_day_and_no_future_day() -> None:
    future = DIGEST_DAYS[-1] + timedelta(days=1)
    view = digest(
        [digest_story("Steel tariffs", 2, 3, TARIFFS)],
        days=[*DIGEST_DAYS, future],  # a day after the period's last must not be drawn
        daily_hits={"Tariffs": {DIGEST_DAYS[-1]: 3, DIGEST_DAYS[0]: 1, future: 9}},
        topic_counts=[("Tariffs", 1)],
    )
    _, html = rendered(view)
    drawn = bars(html)
    assert [day for day, _ in drawn] == DIGEST_DAYS
    assert max(day for day, _ in drawn) == DIGEST_END.astimezone(ZoneInfo("Asia/Tokyo")).date()
    assert dict(drawn) == {
        day: {DIGEST_DAYS[-1]: 3, DIGEST_DAYS[0]: 1}.get(day, 0) for day in DIGEST_DAYS
    }
    assert "Tariffs <span" in html and "· 4</span>" in html  # the topic's total over the days
    assert "Hits per topic, Nov 21 – Dec 4, local days (JST): Tariffs 4." in html
    assert ">9<" not in html


def test_chart_leaves_zero_days_blank_and_is_summed_up_in_its_caption() -> None:
    _, html = rendered(sample_digest())
    cells = re.findall(r'<td class="bar-cell" title="[\d-]+: (\d+)"[^>]*>(.*?)</td>', html)
    assert len(cells) == 5 * 14 and any(n == "0" for n, _ in cells)
    assert all((content == "") == (n == "0") for n, content in cells)  # no grey zeros
    assert all(content.startswith(n) for n, content in cells if n != "0")
    assert re.search(r'<table class="chart" role="presentation" aria-hidden="true"', html)
    summary = (
        "Taiwan 27 · Tariffs 21 · Rare earths 3 · Defense spending 14 · U.S.–Japan relations 1"
    )
    assert re.search(rf'<p class="chart-caption"[^>]*>[^<]*: {summary}.</p>', html)


def test_chart_draws_the_busiest_topics_and_sums_up_every_topic() -> None:
    topics = [f"Topic {n:02}" for n in range(12)]
    view = digest(
        [digest_story("Steel tariffs", 2, 3, TARIFFS)],
        topic_counts=[(title, 12 - n) for n, title in enumerate(topics)],
        daily_hits={title: {DIGEST_DAYS[-1]: 12 - n} for n, title in enumerate(topics)},
    )
    plain, html = rendered(view)
    drawn = re.findall(r'<td class="chart-topic"[^>]*>([^<]*) <span', html)
    assert drawn == topics[:8]  # the busiest eight, as bars
    totals = " · ".join(f"{title} {12 - n}" for n, title in enumerate(topics))
    assert f"local days (JST): {totals}.</p>" in html and f"(JST): {totals}\n" in plain


def test_an_empty_digest_has_no_chart() -> None:
    for view in (digest(), digest(daily_hits={}), digest(topic_counts=[])):
        plain, html = rendered(view)
        assert "Hits per topic" not in plain + html and "chart" not in html[html.index("<body") :]
        assert "No topic to chart" not in html


def test_chart_is_a_compact_table_when_bars_would_say_nothing() -> None:
    stories = [digest_story("Steel tariffs", 2, 3, TARIFFS)]
    single_day = digest(
        stories, days=[DIGEST_DAYS[-1]], daily_hits={"Taiwan": {DIGEST_DAYS[-1]: 3}}
    )
    quiet = digest(stories, daily_hits={"Taiwan": {}, "Tariffs": {}})
    for view, total in [(single_day, "3"), (quiet, "0")]:
        _, html = rendered(view)
        assert bars(html) == [] and 'class="numbers"' in html
        assert re.search(rf'<td[^>]*>Taiwan</td><td class="num"[^>]*>{total}</td>', html)


def test_digest_has_no_image() -> None:
    msg = render_digest(sample_digest(), SENDER, NOW)
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    _, html = parts(msg)
    assert "<img" not in html and "cid:" not in html


def test_empty_digest_says_so() -> None:
    plain, html = rendered(digest())
    assert "No stories hit your topics in this period." in plain
    assert "No stories hit your topics in this period." in html


def test_overflow_message_says_how_many_more_stories_and_why() -> None:
    stories = [digest_story(f"Story {n}", 1, n, TARIFFS) for n in range(5)]
    view = digest(stories, overflow=True, days=[])
    assert digest_title(view) == "[newswatch] 5 more stories (hourly limit reached)"
    one = digest(stories[:1], overflow=True, days=[])
    assert digest_title(one) == "[newswatch] 1 more story (hourly limit reached)"
    plain, html = rendered(view)
    said = "You reached your hourly alert limit; these stories came after it."
    assert said in plain and said in html
    assert ">5 more stories</h1>" in html
    assert all(f"Story {n}" in plain and f"Story {n}" in html for n in range(5))
    assert "Daily digest" not in plain + html and bars(html) == []
    assert digest_message_id(view, SENDER).startswith("<overflow.")


def test_message_id_is_fixed_per_subscriber_and_period() -> None:
    first = digest_message_id(digest(), "a@news.example")
    assert first == digest_message_id(sample_digest(), "a@news.example")
    assert first.startswith("<digest.") and first.endswith("@news.example>")
    later = replace(digest(), period_end=DIGEST_END + timedelta(days=1))
    assert first != digest_message_id(later, "a@news.example")
    assert first != digest_message_id(replace(digest(), subscriber="other"), "a@news.example")
    assert render_digest(digest(), "a@news.example", NOW)["Message-ID"] == first


def test_period_first_seen_and_subject_are_in_the_readers_zone() -> None:
    view = digest([digest_story("Steel tariffs", 2, 3, TARIFFS)])
    plain, html = rendered(view)
    assert view.zone.key == "Asia/Tokyo"
    assert digest_title(view).startswith("[newswatch] Daily digest 2026-12-04:")  # 07:00 JST
    assert "\n2026-12-03 07:00 – 2026-12-04 07:00 JST\n" in plain  # the zone once
    assert "2026-12-03 07:00 – 2026-12-04 07:00 JST" in visible(html)
    # First seen on the digest's own day: the time says it; the day before: the full date.
    assert "First seen 04:00 JST" in plain and "First seen 04:00 JST" in visible(html)
    utc = with_reader(view, zone=ZoneInfo("UTC"))
    assert digest_title(utc).startswith("[newswatch] Daily digest 2026-12-03:")
    assert "First seen 19:00 UTC" in digest_text(utc)
    earlier = digest([digest_story("Steel tariffs", 2, 12, TARIFFS)])
    assert "First seen 2026-12-03 19:00 JST" in digest_text(earlier)
    # Across a change of clocks each end keeps its own zone.
    new_york = with_reader(
        replace(
            view,
            period_start=datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
            period_end=datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
        ),
        zone=ZoneInfo("America/New_York"),
    )
    assert "\n2026-03-08 00:00 EST – 2026-03-09 00:00 EDT\n" in digest_text(new_york)


def test_masthead_date_never_breaks_even_without_the_style_block() -> None:
    _, html = rendered(digest([digest_story("Steel tariffs", 2, 3, TARIFFS)]))
    assert re.search(
        r'morning-desk · <span class="time" style="white-space: nowrap;">2026-12-04</span>', html
    )


def test_chart_ends_on_the_local_day_the_period_ends_in() -> None:
    days = chart_days(DIGEST_END, ZoneInfo("Asia/Tokyo"), 14)
    assert len(days) == 14 and days[-1] == date(2026, 12, 4) and days[0] == date(2026, 11, 21)
    assert chart_days(DIGEST_END, ZoneInfo("UTC"), 1) == [date(2026, 12, 3)]


def test_text_for_channels_ranks_stories_and_says_what_the_html_says() -> None:
    view = digest(
        [digest_story("single", 1, 1, TARIFFS), digest_story("wide", 3, 9, TARIFFS)],
        topic_counts=[("Tariffs", 2)],
    )
    text = digest_text(view)
    assert text.startswith("newswatch daily digest for morning-desk\n")
    assert text.index("1. wide") < text.index("2. single")
    assert "   First seen 2026-12-03 22:00 JST · 3 outlets: Outlet 0, Outlet 1, Outlet 2" in text
    assert "Talks on [tariffs] resumed." in text
    assert "<" not in text and "cid:" not in text
    assert "Why you got this: you follow Taiwan, Tariffs" in text
    assert (
        f"Dashboard: {LINKS.dashboard}\nUnsubscribe from this digest: {LINKS.unsubscribe}\n" in text
    )
    plain, _ = rendered(view)
    assert plain == text


def test_ten_stories_in_full_then_every_other_story_on_one_line() -> None:
    stories = [
        digest_story(f"Story {n:02}", 12 - n if n < 12 else 1, n, TARIFFS) for n in range(14)
    ]
    plain, html = rendered(digest(stories))
    text = visible(html)
    assert html.count('<div class="story"') == 10 and text.count("Read →") == 10
    assert text.index("Story 09") < text.index("More stories") < text.index("Story 10")
    last = stories[13]
    assert re.search(
        rf'<p class="more"[^>]*><a href="{last.url}"[^>]*>Story 13</a>'
        r'<span class="more-meta"[^>]*>&nbsp;· Outlet 0&nbsp;· Tariffs</span></p>',
        html,
    )
    assert "\nMore stories:\n\n11. Story 10\n" in plain
    assert f"\n14. Story 13\n   Outlet 0 · Tariffs · {last.url}\n" in plain
    assert all(f"Story {n:02}" in plain and f"Story {n:02}" in text for n in range(14))


def test_sixty_story_digest_stays_under_gmails_clipping_and_lists_every_story() -> None:
    # Gmail clips an HTML part past ~102 KB, hiding the footer with its unsubscribe link.
    hits = [*TAKAICHI_HITS, TARIFFS]
    stories = [
        digest_story(
            f"Story {n:02}: {TAKAICHI}",
            n % 7,
            n % 30,
            *hits[n % 6 : n % 6 + 3],
            url="" if n % 9 == 4 else LONG_URL + f"/{n}",
            text_source="feed_summary" if n % 5 == 2 else "page",
        )
        for n in range(60)
    ]
    topics = [f"Topic {n}" for n in range(20)]  # a busy reader: 20 topics, hits every day
    view = digest(
        stories,
        topic_counts=[(title, 3) for title in topics],
        daily_hits={
            title: {day: 1 + n % 4 for day in DIGEST_DAYS} for n, title in enumerate(topics)
        },
    )
    plain, html = rendered(view)
    assert len(html.encode()) < 90_000, len(html.encode())
    text = visible(html)
    for n in range(60):
        assert f"Story {n:02}: {TAKAICHI}" in text and f"Story {n:02}: {TAKAICHI}" in plain
    assert text.endswith("Unsubscribe from this digest")


def test_footer_names_what_the_reader_would_leave() -> None:
    stories = [digest_story("Steel tariffs", 2, 3, TARIFFS)]
    plain, html = rendered(with_reader(digest(stories), follows=[]))
    for text in (plain, visible(html)):
        assert "Why you got this: you subscribe to this newswatch digest." in text
        assert "Unsubscribe from this digest" in text and "these topics" not in text
    plain, html = rendered(digest(stories, overflow=True, days=[]))
    assert "Unsubscribe from these alerts" in plain and "Unsubscribe from these alerts" in html


def test_unsubscribe_headers_come_from_the_readers_links() -> None:
    msg = render_digest(digest(), SENDER, NOW)
    assert msg["List-Unsubscribe"] == f"<{LINKS.unsubscribe}>, <{LINKS.mailto}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mail_only = render_digest(
        with_reader(digest(), links=Links(mailto="mailto:u@news.example")), SENDER, NOW
    )
    assert mail_only["List-Unsubscribe"] == "<mailto:u@news.example>"
    assert mail_only["List-Unsubscribe-Post"] is None


def test_feed_strings_are_escaped_and_links_only_http() -> None:
    hostile = hit("<b>T</b>", {"x": 1}, "<script>alert(1)</script> x", "x")
    story = digest_story(
        "Steel <b>tariffs</b>",
        0,
        2,
        hostile,
        url="javascript:alert(1)",
        outlets=[Outlet("A&B <i>", "javascript:alert(2)")],
    )
    plain, html = rendered(digest([story], topic_counts=[("<b>T</b>", 1)]))
    body = html[html.index("<body") :]
    assert "Steel &lt;b&gt;tariffs&lt;/b&gt;" in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script" not in body
    assert "A&amp;B &lt;i&gt;" in body
    assert "javascript:" not in html and "javascript:" not in plain
    assert "The feed gave no link for this story." in plain
