"""Extraction modes compared: speed and quality of trafilatura's trade-offs on known pages.

The generated news web (bench/newsweb.py) knows each article's body exactly, so quality is
measured, not guessed: precision, recall and F1 of the word 4-gram shingles (the ones stories
are compared by) of the extracted text against the true body. Speed is pages per second on one
core, through `newswatch.extract.extract_article` with each mode's options.

    .venv/bin/python bench/extract_modes.py [--pages 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from newsweb import generate

from newswatch.extract import EXTRACT_MODES, extract_article
from newswatch.records import FeedItem, Page
from newswatch.stories import shingles


def scores(extracted: str, truth: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of extracted's shingles against truth's."""
    got, want = shingles(extracted), shingles(truth)
    if not got or not want:
        return 0.0, 0.0, 0.0
    common = len(got & want)
    precision, recall = common / len(got), common / len(want)
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return precision, recall, f1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    web = generate(10, args.pages)
    cases = []
    for a in web.articles:
        if a.fails:
            continue
        url = f"http://127.0.0.1{web.page_path(a)}"
        item = FeedItem(1, url, url, None, a.title, None, None, "", "")
        cases.append((item, Page(url, url, 200, web.pages[web.page_path(a)]), a.body))
    megabytes = sum(len(page.html or b"") for _, page, _ in cases) / 1e6
    rows = []
    for mode in EXTRACT_MODES:
        extract_article(*cases[0][:2], mode)  # warm caches and imports
        started = time.perf_counter()
        texts = [extract_article(item, page, mode) for item, page, _ in cases]
        seconds = time.perf_counter() - started
        measured = [
            scores(article.text if article.text_source == "page" else "", truth)
            for article, (_, _, truth) in zip(texts, cases, strict=True)
        ]
        p, r, f = (statistics.fmean(m[i] for m in measured) for i in range(3))
        rows.append((mode, len(cases) / seconds, 1000 * seconds / len(cases), p, r, f))
    print(
        f"\nbench/extract_modes.py --pages {args.pages}: {len(cases)} pages, "
        f"{megabytes:.0f} MB of HTML, one core\n"
    )
    print("| mode | pages/s | ms/page | precision | recall | F1 |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, rate, ms, p, r, f in rows:
        print(f"| {mode} | {rate:.1f} | {ms:.0f} | {p:.3f} | {r:.3f} | {f:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
