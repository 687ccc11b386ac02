"""Records the email renderers take, built from plain values: shared by the email tests, pure
(no database), so they run without the store."""

from __future__ import annotations

import re
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from newswatch.records import (
    AlertView,
    Digest,
    Links,
    Outlet,
    ReaderView,
    StoryView,
    TopicHit,
)

NOW = datetime(2026, 12, 4, 0, 15, tzinfo=UTC)  # 09:15 in Tokyo
TOKYO = ZoneInfo("Asia/Tokyo")
SENDER = "newswatch <alerts@news.example>"
LINKS = Links(
    dashboard="https://watch.example/newswatch/",
    unsubscribe="https://watch.example/newswatch/unsubscribe?t=abc.def",
    mailto="mailto:unsubscribe@news.example?subject=unsubscribe",
)
TAKAICHI = "Japan sounds out U.S. on Takaichi visit as Trump weighs tariffs, Taiwan and rare earths"
LONG_URL = (
    "https://www.alojapan.example/news/2026/12/04/"
    "japan-sounds-out-us-on-takaichi-visit-as-trump-weighs-tariffs-taiwan-and-rare-earths-"
    "exclusive-report-from-the-prime-ministers-office-with-full-transcript-and-analysis"
)


def hit(title: str, terms: dict[str, int], snippet: str, *words: str) -> TopicHit:
    """A topic hit whose highlights are the first occurrence of each of `words` in `snippet`."""
    spans = sorted((snippet.index(w), snippet.index(w) + len(w)) for w in words)
    return TopicHit(
        name=title.lower().replace(" ", "-"),
        title=title,
        terms=terms,
        snippet=snippet,
        highlights=spans,
    )


TAKAICHI_HITS = [
    hit(
        "Taiwan",
        {"Taiwan": 3, "Taipei": 1},
        "Officials said the talks would cover Taiwan, where Taipei has asked for clarity.",
        "Taiwan",
        "Taipei",
    ),
    hit(
        "Tariffs",
        {"tariff": 2},
        "Trump has threatened new tariffs on Japanese cars from January.",
        "tariffs",
    ),
    hit(
        "Rare earths",
        {"rare earth": 2},
        "Tokyo wants a joint stockpile of rare earths outside China.",
        "rare earths",
    ),
    hit(
        "Defense spending",
        {"defense budget": 1},
        "The defense budget will rise to 2% of GDP two years early.",
        "defense budget",
    ),
    hit(
        "U.S.–Japan relations",
        {"summit": 2, "alliance": 1},
        "A summit in late March would be the first since the alliance review.",
        "summit",
        "alliance",
    ),
]


def reader(**kw: Any) -> ReaderView:
    values: dict[str, Any] = {
        "key": "email:desk@example.com",
        "recipients": ["desk@example.com"],
        "zone": TOKYO,
        "follows": ["Taiwan", "Tariffs", "Rare earths", "Defense spending", "U.S.–Japan relations"],
        "links": LINKS,
    } | kw
    return ReaderView(**values)


def story(**kw: Any) -> StoryView:
    values: dict[str, Any] = {
        "story_id": 41,
        "title": TAKAICHI,
        "url": LONG_URL,
        "first_seen": datetime(2026, 12, 4, 0, 5, tzinfo=UTC),
        "published_at": datetime(2026, 12, 3, 23, 50, tzinfo=UTC),
        "topics": TAKAICHI_HITS,
        "outlets": [
            Outlet("AloJapan.com", LONG_URL),
            Outlet("Kyodo Desk", "https://kyodo.example/2026/12/04/takaichi"),
            Outlet("Nikkei Wire", "https://nikkei.example/politics/takaichi-visit"),
        ],
        "text_source": "page",
    } | kw
    return StoryView(**values)


def alert(kind: Literal["alert", "update"] = "alert", **kw: Any) -> AlertView:
    return AlertView(alert_id=7, kind=kind, story=story(**kw), reader=reader())


def digest_story(
    title: str, outlet_count: int, hours_ago: int, *topics: TopicHit, **kw: Any
) -> StoryView:
    """A story first seen `hours_ago` before the digest's end, carried by `outlet_count`."""
    values: dict[str, Any] = {
        "story_id": zlib.crc32(title.encode()),
        "title": title,
        "url": f"https://news.example/{title.lower().replace(' ', '-')}",
        "first_seen": DIGEST_END - timedelta(hours=hours_ago),
        "published_at": None,
        "topics": list(topics),
        "outlets": [
            Outlet(f"Outlet {n}", f"https://o{n}.example/{hours_ago}") for n in range(outlet_count)
        ],
    } | kw
    return story(**values)


DIGEST_END = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)  # 07:00 on 2026-12-04 in Tokyo
DIGEST_DAYS = [date(2026, 11, 21) + timedelta(days=n) for n in range(14)]


def digest(stories: list[StoryView] | None = None, **kw: Any) -> Digest:
    values: dict[str, Any] = {
        "subscriber": "morning-desk",
        "reader": reader(key="digest:morning-desk"),
        "period_start": DIGEST_END - timedelta(days=1),
        "period_end": DIGEST_END,
        "stories": stories or [],
        "topic_counts": [("Taiwan", 3), ("Tariffs", 2), ("Rare earths", 1)],
        "daily_hits": {
            "Taiwan": {DIGEST_DAYS[-1]: 3, DIGEST_DAYS[-2]: 1, DIGEST_DAYS[-6]: 4},
            "Tariffs": {DIGEST_DAYS[-1]: 2, DIGEST_DAYS[-9]: 1},
            "Rare earths": {DIGEST_DAYS[-1]: 1},
        },
        "days": DIGEST_DAYS,
    } | kw
    return Digest(**values)


def sample_digest() -> Digest:
    """A realistic morning: five stories, one without a link, one read from the feed."""
    taiwan, tariffs, rare, defense, relations = TAKAICHI_HITS
    toyota = hit(
        "Tariffs",
        {"tariff": 3},
        "Toyota said U.S. tariffs would cut its annual profit by $9 billion.",
        "tariffs",
    )
    magnets = hit(
        "Rare earths",
        {"rare earth": 2, "magnet": 2},
        "China will require licences for exports of rare earth magnets from January.",
        "rare earth",
        "magnets",
    )
    strait = hit(
        "Taiwan",
        {"Taiwan Strait": 1},
        "Two destroyers sailed through the Taiwan Strait on Wednesday.",
        "Taiwan Strait",
    )
    outlets = [
        Outlet("Kyodo Desk", "https://kyodo.example/news/1"),
        Outlet("AloJapan.com", "https://www.alojapan.example/news/2"),
        Outlet("Nikkei Wire", "https://nikkei.example/politics/3"),
    ]
    stories = [
        digest_story(
            "Seoul raises defence spending for fourth year",
            1,
            2,
            defense,
            outlets=[Outlet("Yonhap Desk", "https://yonhap.example/defence")],
        ),
        digest_story(TAKAICHI, 3, 5, taiwan, tariffs, rare, defense, relations, outlets=outlets),
        digest_story(
            "Toyota warns U.S. tariffs will cut profit by $9 billion",
            2,
            9,
            toyota,
            outlets=outlets[1:],
        ),
        digest_story(
            "China tightens export controls on rare earth magnets",
            2,
            3,
            magnets,
            url="",
            outlets=[Outlet("Asia Wire", ""), outlets[0]],
        ),
        digest_story(
            "Navy ships transit the Taiwan Strait",
            1,
            12,
            strait,
            text_source="feed_summary",
            outlets=[Outlet("Asia Wire", "https://asiawire.example/strait")],
        ),
    ]
    return digest(
        stories,
        topic_counts=[
            ("Taiwan", 2),
            ("Tariffs", 2),
            ("Rare earths", 2),
            ("Defense spending", 2),
            ("U.S.–Japan relations", 1),
        ],
        daily_hits={
            "Taiwan": {d: (n * 7) % 5 for n, d in enumerate(DIGEST_DAYS)},
            "Tariffs": {d: (n * 3) % 4 for n, d in enumerate(DIGEST_DAYS)},
            "Rare earths": {DIGEST_DAYS[-1]: 2, DIGEST_DAYS[-3]: 1},
            "Defense spending": {DIGEST_DAYS[-1]: 2, DIGEST_DAYS[-8]: 12},
            "U.S.–Japan relations": {DIGEST_DAYS[-1]: 1},
        },
    )


def with_reader(view: Digest, **kw: Any) -> Digest:
    return replace(view, reader=replace(view.reader, **kw))


def visible(html: str) -> str:
    """What a reader reads of an HTML part: the body's text, tags dropped, spaces collapsed."""
    body = html[html.index("<body") :]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split()).replace(" ,", ",").replace(" .", ".")


def watch_report(
    health_url: str | None = "https://watch.example/newswatch/feeds",
) -> dict[str, Any]:
    """An operator's feed-watch report as queue_watch_report stores it: three new findings,
    one resolved, four open in all."""

    def row(
        feed: str, kind: str, reason: str, hours: int, resolved: int | None = None
    ) -> dict[str, Any]:
        at = NOW - timedelta(hours=hours)
        gone = NOW - timedelta(hours=resolved) if resolved is not None else None
        return {
            "feed": feed,
            "kind": kind,
            "reason": reason,
            "since": at.isoformat(),
            "resolved": gone.isoformat() if gone else None,
        }

    return {
        "kind": "watch",
        "day": "2026-12-04",
        "zone": "Asia/Tokyo",
        "opened": [
            row(
                "Kyodo News",
                "blocked",
                "5 of the 6 pages fetched in the last day were a cookie, login, paywall or "
                "bot-check page, not the article (one said 'verify you are human'); alerts use "
                "the feed's own text instead",
                3,
            ),
            row(
                "Nikkei Asia",
                "quiet",
                "no new item for 2 days 4 hours; usually one every 47 minutes",
                9,
            ),
            row(
                "The Diplomat",
                "moved",
                "its address now redirects to the one feed 'The Diplomat (new)' polls, so both "
                "read the same feed: remove one of the two from feeds.yaml",
                20,
            ),
        ],
        "resolved": [
            row("Focus Taiwan", "failing", "3 failed polls in a row: HTTP 503", 50, resolved=6)
        ],
        "still_open": 4,
        "health_url": health_url,
    }
