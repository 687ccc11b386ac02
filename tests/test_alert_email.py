"""Rendering alert emails: one message per story and reader, pure, and safe against whatever a
feed sends."""

from __future__ import annotations

import re
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from zoneinfo import ZoneInfo

from email_views import (
    LINKS,
    LONG_URL,
    NOW,
    SENDER,
    TAKAICHI,
    TAKAICHI_HITS,
    alert,
    hit,
    reader,
    visible,
)

from newswatch.delivery.messages.alert import (
    alert_subject,
    alert_text,
    message_id,
    render_alert,
)
from newswatch.delivery.messages.common import SUBJECT_CHARS
from newswatch.delivery.transports import to_wire
from newswatch.records import AlertView, Links, Outlet


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return str(plain.get_content()), str(html.get_content())


def with_links(view: AlertView, links: Links) -> AlertView:
    return replace(view, reader=replace(view.reader, links=links))


def test_subject_names_the_first_three_topics_and_counts_the_rest() -> None:
    msg = render_alert(alert(), SENDER, NOW)
    assert msg["Subject"] == f"[newswatch] Taiwan · Tariffs · Rare earths +2: {TAKAICHI}"
    two = render_alert(alert(topics=TAKAICHI_HITS[:2]), SENDER, NOW)
    assert two["Subject"] == f"[newswatch] Taiwan · Tariffs: {TAKAICHI}"


def test_subject_of_a_story_without_title_or_topics_still_reads() -> None:
    assert render_alert(alert(title=" \r\n"), SENDER, NOW)["Subject"].endswith(": (untitled)")
    assert render_alert(alert(topics=[]), SENDER, NOW)["Subject"] == f"[newswatch] {TAKAICHI}"


def test_long_subject_is_cut_at_a_word_with_an_ellipsis() -> None:
    subject = str(
        render_alert(alert(title=TAKAICHI + " " + "and more " * 30), SENDER, NOW)["Subject"]
    )
    assert len(subject) <= SUBJECT_CHARS and subject.endswith("…")
    assert subject.startswith(f"[newswatch] Taiwan · Tariffs · Rare earths +2: {TAKAICHI} and")
    assert not subject.endswith(" …") and subject[:-1].split()[-1] in ("and", "more")
    unbroken = str(render_alert(alert(title="x" * 400), SENDER, NOW)["Subject"])
    assert len(unbroken) == SUBJECT_CHARS and unbroken.endswith("x…")


def test_one_message_lists_all_five_topics_with_terms_and_marked_snippets() -> None:
    plain, html = parts(render_alert(alert(), SENDER, NOW))
    for topic in ("Taiwan", "Tariffs", "Rare earths", "Defense spending", "U.S.–Japan relations"):
        assert re.search(f'<span class="hit-title"[^>]*>{re.escape(topic)}</span>', html)
        assert f"* {topic} (" in plain
    assert "Taiwan ×3, Taipei ×1" in plain and "Taiwan ×3, Taipei ×1" in html
    assert "summit ×2, alliance ×1" in plain and "summit ×2, alliance ×1" in html
    assert "cover [Taiwan], where [Taipei] has asked" in plain
    assert re.search(r"cover <mark[^>]*>Taiwan</mark>, where <mark[^>]*>Taipei</mark>", html)
    assert len(re.findall(r"<mark[\s>]", html)) == 7  # every highlight of every topic
    chips = re.findall(r'<span class="chip"[^>]*>([^<]*)</span>', html)
    assert chips == [hit.title for hit in TAKAICHI_HITS]


def test_preview_line_gives_topics_outlets_and_time_not_the_subject_again() -> None:
    _, html = parts(render_alert(alert(), SENDER, NOW))
    hidden = re.search(r'<div class="preheader"[^>]*>([^<]*)</div>', html)
    assert hidden is not None
    line, _, pad = hidden[1].partition("JST")
    assert line + "JST" == "Taiwan, Tariffs, Rare earths +2 · 3 outlets · first seen 09:05 JST"
    assert set(pad) == {"\u2007", "\u034f"} and len(pad) >= 100  # keeps body text out
    assert "Officials said" not in hidden[1] and TAKAICHI not in hidden[1]
    _, update = parts(
        render_alert(alert("update", topics=[TAKAICHI_HITS[3]], outlets=[]), SENDER, NOW)
    )
    assert "Now also Defense spending · first seen 09:05 JST" in update


def test_outlets_are_listed_once_and_counted_with_the_right_plural() -> None:
    outlets = [
        Outlet("Kyodo Desk", ""),
        Outlet("Kyodo Desk", "https://kyodo.example/a"),  # a second copy of the same outlet
        Outlet("AloJapan.com", "https://alojapan.example/a"),
    ]
    plain, html = parts(render_alert(alert(outlets=outlets), SENDER, NOW))
    assert "Carried by 2 outlets:" in plain and "Carried by 2 outlets" in html
    assert plain.count("Kyodo Desk") == 1 and visible(html).count("Kyodo Desk") == 1
    assert "* Kyodo Desk: https://kyodo.example/a" in plain  # the copy that has a link
    single_plain, single_html = parts(render_alert(alert(outlets=outlets[2:]), SENDER, NOW))
    assert "Carried by 1 outlet:" in single_plain and "· 1 outlet</p>" in single_html
    assert "1 outlets" not in single_plain + single_html


def test_outlet_names_are_the_links_with_only_their_domains_shown() -> None:
    plain, html = parts(render_alert(alert(), SENDER, NOW))
    kyodo = "https://kyodo.example/2026/12/04/takaichi"
    assert re.search(rf'<a class="outlet-name" href="{kyodo}"[^>]*>Kyodo Desk</a>', html)
    assert "Kyodo Desk kyodo.example" in visible(html) and kyodo not in visible(html)
    assert f"* Kyodo Desk: {kyodo}" in plain
    # AloJapan's copy is the story's own link: given once, under "Read the story".
    assert "alojapan.example Kyodo Desk" in visible(html) and LONG_URL not in visible(html)
    assert plain.count(LONG_URL) == 1 and "* AloJapan.com (the story's link above)" in plain


def test_story_without_outlets_has_no_outlet_section_or_count() -> None:
    plain, html = parts(render_alert(alert(outlets=[]), SENDER, NOW))
    assert "Carried by" not in plain + html and "0 outlets" not in plain + html
    assert "published 2026-12-04 08:50 JST Read the story" in visible(html)


def test_story_without_a_link_says_so_once_and_has_no_button() -> None:
    plain, html = parts(render_alert(alert(url=""), SENDER, NOW))
    assert "The feed gave no link for this story." in plain
    assert "The feed gave no link for this story." in html
    assert "Read the story" not in plain and "Read the story" not in html
    from_feed = alert(url="", text_source="feed_summary", outlets=[Outlet("Asia Wire", "")])
    plain, html = parts(render_alert(from_feed, SENDER, NOW))
    said = "The feed gave no link for this story; the text below is from the feed's summary."
    assert plain.count(said) == 1 and visible(html).count(said) == 1
    for text in (plain, visible(html)):
        assert text.count("no link") == 1 and "could not be read" not in text
    assert 'class="button' not in html
    linked_plain, linked_html = parts(render_alert(alert(), SENDER, NOW))
    assert f"Read the story: {LONG_URL}" in linked_plain
    assert re.search(rf'<a class="button" href="{LONG_URL}"[^>]*>Read the story</a>', linked_html)


def test_update_says_it_is_an_update_and_shows_only_the_new_topics() -> None:
    view = alert("update", topics=[TAKAICHI_HITS[3]])
    msg = render_alert(view, SENDER, NOW)
    assert msg["Subject"] == f"[newswatch] Update · Defense spending: {TAKAICHI}"
    plain, html = parts(msg)
    assert plain.startswith("newswatch · update: this story now also hit Defense spending\n")
    assert "It has now also hit Defense spending." in html
    assert "Taipei" not in plain and "Taipei" not in html


def test_one_click_unsubscribe_headers_when_the_link_is_https() -> None:
    msg = render_alert(alert(), SENDER, NOW)
    assert msg["List-Unsubscribe"] == (
        "<https://watch.example/newswatch/unsubscribe?t=abc.def>, "
        "<mailto:unsubscribe@news.example?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_long_one_click_link_arrives_whole_not_as_encoded_words() -> None:
    url = "https://watch.example/newswatch/unsubscribe?token=" + "A" * 160 + "." + "b" * 43
    msg = render_alert(
        with_links(alert(), Links(unsubscribe=url, mailto=LINKS.mailto)), SENDER, NOW
    )
    for linesep in ("\r\n", "\n"):
        raw = to_wire(msg, linesep).data
        head = raw.split((linesep * 2).encode())[0].decode()
        assert f"List-Unsubscribe: <{url}>,{linesep} <{LINKS.mailto}>{linesep}" in head
        assert "=?" not in head.split("List-Unsubscribe:")[1]
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert parsed["List-Unsubscribe"] == f"<{url}>, <{LINKS.mailto}>"
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_mailto_alone_is_listed_without_one_click() -> None:
    for mailto in ("mailto:leave@news.example", "leave@news.example"):
        msg = render_alert(with_links(alert(), Links(mailto=mailto)), SENDER, NOW)
        assert msg["List-Unsubscribe"] == "<mailto:leave@news.example>"
        assert msg["List-Unsubscribe-Post"] is None
        plain, html = parts(msg)
        assert "Unsubscribe from these alerts: mailto:leave@news.example" in plain
        assert 'href="mailto:leave@news.example"' in html
        assert "Dashboard:" not in plain and "Open the dashboard" not in html


def test_plain_http_unsubscribe_is_listed_but_never_one_click() -> None:
    msg = render_alert(
        with_links(alert(), Links(unsubscribe="http://localhost:8080/unsubscribe?t=x")),
        SENDER,
        NOW,
    )
    assert msg["List-Unsubscribe"] == "<http://localhost:8080/unsubscribe?t=x>"
    assert msg["List-Unsubscribe-Post"] is None


def test_no_unsubscribe_header_without_links_or_with_unusable_ones() -> None:
    for links in (
        Links(),
        Links(unsubscribe="javascript:alert(1)", mailto="mailto:a@b.example>, <https://evil"),
    ):
        msg = render_alert(with_links(alert(), links), SENDER, NOW)
        assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
        plain, html = parts(msg)
        assert "Unsubscribe" not in plain and "Unsubscribe" not in html
        assert "javascript:" not in html and "evil" not in html


def test_times_are_in_the_readers_zone_with_its_abbreviation() -> None:
    plain, html = parts(render_alert(alert(), SENDER, NOW))
    assert "First seen 2026-12-04 09:05 JST · published 2026-12-04 08:50 JST" in plain
    assert "First seen 2026-12-04 09:05 JST · published 2026-12-04 08:50 JST" in visible(html)
    view = alert()
    new_york = replace(view, reader=replace(view.reader, zone=ZoneInfo("America/New_York")))
    plain, html = parts(render_alert(new_york, SENDER, NOW))
    assert "First seen 2026-12-03 19:05 EST" in plain
    assert "First seen 2026-12-03 19:05 EST" in visible(html)
    assert "JST" not in plain + html and "UTC" not in plain + html


def test_plain_text_says_what_the_html_says() -> None:
    msg = render_alert(alert(text_source="feed_summary"), SENDER, NOW)
    plain, html = parts(msg)
    assert plain.startswith(
        "newswatch · new story on Taiwan, Tariffs, Rare earths, Defense spending, "
        "U.S.–Japan relations\n"
    )
    text = visible(html)
    for fact in (
        TAKAICHI,
        "Taiwan ×3, Taipei ×1",
        "in late March would be the first since the",
        "Kyodo Desk",
        "nikkei.example",
        "Text taken from the feed's summary: the page could not be read.",
        "you follow Taiwan, Tariffs, Rare earths, Defense spending, U.S.–Japan relations.",
    ):
        assert fact in plain and fact in text, fact
    assert "[summit]" in plain
    nikkei = "https://nikkei.example/politics/takaichi-visit"
    for url in (LONG_URL, nikkei, str(LINKS.dashboard), str(LINKS.unsubscribe)):
        assert url in plain and f'href="{url}"' in html
    assert "Unsubscribe from these alerts" in plain and "Unsubscribe from these alerts" in text
    assert alert_text(alert(text_source="feed_summary")) == (str(msg["Subject"]), plain)


def test_html_has_its_css_inlined_and_keeps_dark_and_narrow_rules() -> None:
    _, html = parts(render_alert(alert(), SENDER, NOW))
    assert '<meta name="color-scheme" content="light dark">' in html
    assert re.search(r'<td class="card"[^>]* style="[^"]*background-color: #ffffff', html)
    # The button's colour and padding sit on a table cell, for Outlook, which ignores padding
    # on a link.
    cell = r'<td class="button-cell" bgcolor="#1d4ed8" style="[^"]*padding: 11px 22px[^"]*">'
    assert re.search(cell + rf'<a class="button" href="{LONG_URL}"', html)
    (style,) = re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S)
    assert "@media (prefers-color-scheme: dark)" in style and "@media (max-width: 480px)" in style
    assert ".card {" not in style.split("@media")[0]  # the light rules are inline, not twice
    assert "max-width: 600px" in html and "overflow-wrap: anywhere" in html
    assert "<img" not in html and "src=" not in html


def test_message_id_is_fixed_per_story_reader_and_kind() -> None:
    first = message_id(alert(), "a@news.example")
    assert first == message_id(alert(), "a@news.example")
    assert first == message_id(replace(alert(), alert_id=99), "a@news.example")
    assert first.startswith("<alert.") and first.endswith("@news.example>")
    assert first != message_id(alert(story_id=42), "a@news.example")
    other_reader = replace(alert(), reader=reader(key="email:other@example.com"))
    assert first != message_id(other_reader, "a@news.example")
    update = alert("update", topics=[TAKAICHI_HITS[3]])
    assert message_id(update, "a@news.example").startswith("<update.")
    # Two updates of one story for one reader are two messages, each fixed.
    later = replace(update, alert_id=8)
    assert message_id(update, "a@news.example") != message_id(later, "a@news.example")
    assert message_id(later, "a@news.example") == message_id(later, "a@news.example")
    assert render_alert(update, "a@news.example", NOW)["Message-ID"] == message_id(
        update, "a@news.example"
    )


def test_update_is_threaded_under_the_original_alert() -> None:
    original = render_alert(alert(), SENDER, NOW)
    update = render_alert(alert("update", topics=[TAKAICHI_HITS[3]]), SENDER, NOW)
    assert update["In-Reply-To"] == original["Message-ID"] == update["References"]
    assert update["Message-ID"] != original["Message-ID"]
    assert original["In-Reply-To"] is None and original["References"] is None
    parsed = BytesParser(policy=policy.default).parsebytes(to_wire(update).data)
    assert parsed["In-Reply-To"] == parsed["References"] == original["Message-ID"]


def test_footer_says_why_truly_when_the_reader_follows_no_topic() -> None:
    view = alert()
    listed = replace(view, reader=replace(view.reader, follows=[]))
    plain, html = parts(render_alert(listed, SENDER, NOW))
    said = "Why you got this: you are on this newswatch alert list."
    assert said in plain and said in visible(html)
    assert "these topics" not in plain + html and "you follow" not in plain + html


def test_feed_strings_are_escaped_in_html() -> None:
    hostile = hit("<b>Topic</b>", {"<i>": 1}, "<script>x</script> & <i> here", "<i>")
    msg = render_alert(
        alert(
            title="<script>alert(1)</script>",
            outlets=[Outlet("A&B <i>", "https://a.example/?a=1&b=<2>")],
            topics=[hostile],
        ),
        "a@b.example",
        NOW,
    )
    plain, html = parts(msg)
    body = html[html.index("<body") :]
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>Topic" not in body and "&lt;b&gt;Topic&lt;/b&gt;" in body
    assert "A&amp;B &lt;i&gt;" in body and "<i>" not in body
    assert re.search(r"<mark[^>]*>&lt;i&gt;</mark>", body)
    assert "&lt;script&gt;x&lt;/script&gt; &amp; " in body
    assert "[<i>] here" in plain


def test_crlf_and_bidi_in_feed_strings_cannot_add_headers_or_lines() -> None:
    msg = render_alert(
        alert(
            title="Hi\r\nBcc: victim@example.com",
            outlets=[Outlet("Wire\r\nUnsubscribe: https://evil.example", "")],
            topics=[hit("Taiwan\u202e", {"Taiwan": 1}, "about\r\nTaiwan.\u2028", "Taiwan")],
        ),
        "a@b.example",
        NOW,
    )
    assert msg["Bcc"] is None and msg["To"] == "desk@example.com"
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert "\u202e" not in msg["Subject"]
    plain, html = parts(msg)
    assert "\nBcc:" not in plain and "Hi Bcc: victim@example.com" in plain
    assert "\nUnsubscribe: https://evil" not in plain
    assert "about [Taiwan]." in plain and "\u202e" not in plain + html and "\u2028" not in html


def test_lone_surrogates_in_feed_strings_cannot_stop_the_email() -> None:
    view = alert(
        title="a\ud800b",
        url="https://x.example/a\ud800 b",
        topics=[hit("T\udc00", {"x\ud800": 1}, "x \ud800 y", "x")],
        outlets=[Outlet("O\ud800", "https://o.example/\udc00")],
    )
    raw = to_wire(render_alert(view, SENDER, NOW)).data
    plain, _ = parts(BytesParser(policy=policy.default).parsebytes(raw))
    assert "Read the story: https://x.example/a%3F%20b" in plain and "[x] y" in plain


def test_only_http_links_are_linked() -> None:
    view = alert(
        url="javascript:alert(1)",
        outlets=[Outlet("Wire", "data:text/html,<script>x</script>")],
    )
    view = with_links(view, Links(dashboard="javascript:alert(2)"))
    plain, html = parts(render_alert(view, SENDER, NOW))
    assert "javascript:" not in html and "javascript:" not in plain
    assert "data:" not in html and "data:" not in plain
    assert "The feed gave no link for this story." in plain


def test_fallback_text_is_flagged_once_as_a_caption_by_the_snippets() -> None:
    for source, said in [("feed_summary", "summary"), ("feed_content", "content")]:
        plain, html = parts(render_alert(alert(text_source=source), SENDER, NOW))
        note = f"Text taken from the feed's {said}: the page could not be read."
        assert plain.count(note) == 1 and visible(html).count(note) == 1
        assert f"Why it matched:\n{note}\n" in plain
        assert f"Why it matched {note} Taiwan" in visible(html)
        assert re.search(rf'<p class="source-note"[^>]*>{re.escape(note)}</p>', html)
    plain, html = parts(render_alert(alert(), SENDER, NOW))
    assert "could not be read" not in plain + html


def test_long_topic_titles_leave_room_for_the_count_and_the_story() -> None:
    titles = [f"Semiconductor export controls and Japan, part {n}" for n in range(5)]
    view = alert(topics=[hit(t, {"chips": 1}, "chips") for t in titles])
    subject = alert_subject(view)
    assert "+2: " in subject and TAKAICHI[:30] in subject
    assert len(subject) <= SUBJECT_CHARS
