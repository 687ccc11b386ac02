"""What extract_article costs a real page beyond plain trafilatura: the floor, in the same run.

The floor is `trafilatura.extract(html)` with default options, which our code cannot move. The
110 real pages of shared/corpus/realpages, one core. Each page is extracted in turns by the
floor, by extract_article, and by the trafilatura call extract_article makes with and without
the gates (trafilatura_gates.py), `--repeats` times, and CPU seconds are summed: this machine's
speed drifts by a fifth within a minute, which best-of-N wall times over whole passes did not
hide. Also how many pages extract_article takes for a wall (extract.WALL_MARKERS), which should
be none; on how many the gates skipped readability and the page measure of the recall
escalation; and on how many they changed the text, which must be none.

    .venv/bin/python bench/extract_cost.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from newswatch import trafilatura_gates
from newswatch.extract import extract_article, extract_options
from newswatch.records import Article, FeedItem, Page

PUBLISHED = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
PAGES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "realpages" / "html"


def ours(i: int, html: bytes) -> Article:
    """extract_article on an item whose feed gave its title and date, as most feeds do (an
    item without a date has it looked for in the page: htmldate, ~5 ms more)."""
    url = f"http://127.0.0.1/p{i}"
    item = FeedItem(1, url, url, None, "t", None, PUBLISHED, "", "")
    return extract_article(item, Page(url=url, final_url=None, status=200, html=html))


def trafilatura_alone(html: bytes) -> str:
    """The call extract_article makes, without the gates around it."""
    doc = trafilatura.bare_extraction(html, **extract_options("balanced"))
    return doc.text if doc else ""


def trafilatura_gated(html: bytes) -> str:
    with trafilatura_gates.gated():
        return trafilatura_alone(html)


def skips(html: bytes) -> tuple[bool, bool, bool]:
    """Whether the gates kept readability from this page; whether trafilatura measures the
    page's text for its recall escalation; whether the gates kept it from doing so. Counted
    through the gates themselves."""
    seen: list[bool] = []
    measured: list[bool] = []
    may_win = trafilatura_gates.readability_may_win
    page_text = trafilatura.html2txt

    def counting(*args: object) -> bool:
        seen.append(may_win(*args))  # type: ignore[arg-type]
        return seen[-1]

    def measuring(tree: object, clean: bool = True) -> str:
        measured.append(True)
        return page_text(tree, clean)

    trafilatura_gates.readability_may_win = counting  # type: ignore[assignment]
    trafilatura.html2txt = measuring  # type: ignore[assignment]
    try:
        trafilatura_alone(html)
        asked = bool(measured)
        measured.clear()
        trafilatura_gated(html)
    finally:
        trafilatura_gates.readability_may_win = may_win  # type: ignore[assignment]
        trafilatura.html2txt = page_text
    return (not seen[0] if seen else False), asked, asked and not measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(PAGES.glob("*.html.gz"))]
    trafilatura_gates.install()
    runs: dict[str, Callable[[int, bytes], object]] = {
        "floor": lambda _, html: trafilatura.extract(html),
        "ours": ours,
        "alone": lambda _, html: trafilatura_alone(html),
        "gated": lambda _, html: trafilatura_gated(html),
    }
    for i, html in enumerate(pages[:5]):  # warm them all: imports, caches
        for run in runs.values():
            run(i, html)
    cpu = dict.fromkeys(runs, 0.0)
    for repeat in range(max(1, args.repeats)):
        for i, html in enumerate(pages):
            order = list(runs) if (i + repeat) % 2 else list(reversed(runs))
            for name in order:
                started = time.process_time()
                runs[name](i, html)
                cpu[name] += time.process_time() - started
    per_page = {
        name: seconds / len(pages) / max(1, args.repeats) * 1000 for name, seconds in cpu.items()
    }
    walls = sum(
        "the page is a wall" in (ours(i, html).fetch_error or "") for i, html in enumerate(pages)
    )
    changed = sum(trafilatura_gated(html) != trafilatura_alone(html) for html in pages)
    print(f"| measure ({len(pages)} real pages, one core, CPU time) | result |")
    print("|---|---:|")
    print(f"| floor: trafilatura.extract(html), ms/page | {per_page['floor']:.1f} |")
    print(f"| newswatch extract_article, ms/page | {per_page['ours']:.1f} |")
    print(f"| ratio to the floor | {per_page['ours'] / per_page['floor']:.2f} |")
    print(f"| trafilatura.bare_extraction with our options, ms/page | {per_page['alone']:.1f} |")
    print(f"| the same through the gates, ms/page | {per_page['gated']:.1f} |")
    skipped = [skips(html) for html in pages]
    print(f"| pages where the gates skipped readability | {sum(s[0] for s in skipped)} |")
    print(
        "| pages whose text trafilatura measures for its escalation test, "
        f"where the gates skipped that | {sum(s[1] for s in skipped)}, {sum(s[2] for s in skipped)} |"
    )
    print(f"| pages whose text the gates changed | {changed} |")
    print(f"| pages taken for a wall | {walls} |")


if __name__ == "__main__":
    main()
