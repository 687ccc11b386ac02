"""What extract_article costs a real page beyond plain trafilatura: the floor, in the same run.

The floor is `trafilatura.extract(html)` with default options, which our code cannot move. The
110 real pages of shared/corpus/realpages, one core, best of `--repeats` passes each; also how
many of them extract_article takes for a wall (extract.WALL_MARKERS), which should be none.

    .venv/bin/python bench/extract_cost.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import trafilatura

from newswatch.extract import extract_article
from newswatch.records import FeedItem, Page

PAGES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "realpages" / "html"


def ours(pages: list[bytes]) -> int:
    """Extract every page as the pipeline does; how many were taken for a wall."""
    walls = 0
    for i, html in enumerate(pages):
        url = f"http://127.0.0.1/p{i}"
        item = FeedItem(1, url, url, None, "t", None, None, "", "")
        article = extract_article(item, Page(url=url, final_url=None, status=200, html=html))
        walls += "the page is a wall" in (article.fetch_error or "")
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(PAGES.glob("*.html.gz"))]
    ours(pages[:5])  # warm both: imports, caches
    for html in pages[:5]:
        trafilatura.extract(html)
    floor, mine, walls = [], [], 0
    for _ in range(max(1, args.repeats)):
        started = time.perf_counter()
        for html in pages:
            trafilatura.extract(html)
        floor.append(time.perf_counter() - started)
        started = time.perf_counter()
        walls = ours(pages)
        mine.append(time.perf_counter() - started)
    per_page = {name: min(t) / len(pages) * 1000 for name, t in (("floor", floor), ("ours", mine))}
    print(f"| measure ({len(pages)} real pages, one core) | result |")
    print("|---|---:|")
    print(f"| floor: trafilatura.extract(html), ms/page | {per_page['floor']:.1f} |")
    print(f"| newswatch extract_article, ms/page | {per_page['ours']:.1f} |")
    print(f"| ratio to the floor | {per_page['ours'] / per_page['floor']:.2f} |")
    print(f"| pages taken for a wall | {walls} |")


if __name__ == "__main__":
    main()
