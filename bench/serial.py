"""The script a user might write instead of newswatch: the baseline of bench/realpages.py.

One process, one core, one thing at a time: each feed read with urllib and feedparser, each
new item's page downloaded and given to `trafilatura.extract` (default options), one INSERT
and commit per article. No politeness, no robots.txt, no limits, no topics, no alerts.

    .venv/bin/python bench/serial.py FEEDS_FILE DATABASE_URL
"""

from __future__ import annotations

import sys
import urllib.request

import feedparser
import psycopg
import trafilatura


def main(feeds_file: str, database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "create table if not exists serial_articles "
            "(url text primary key, title text, text text, fetched_at timestamptz default now())"
        )
        conn.commit()
        stored = 0
        for feed_url in open(feeds_file).read().split():
            with urllib.request.urlopen(feed_url, timeout=30) as response:
                feed = feedparser.parse(response.read())
            for entry in feed.entries:
                seen = conn.execute(
                    "select 1 from serial_articles where url = %s", (entry.link,)
                ).fetchone()
                if seen:
                    continue
                with urllib.request.urlopen(entry.link, timeout=30) as response:
                    page = response.read()
                text = trafilatura.extract(page)
                conn.execute(
                    "insert into serial_articles (url, title, text) values (%s, %s, %s)",
                    (entry.link, entry.get("title"), text),
                )
                conn.commit()
                stored += 1
    print(stored)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
