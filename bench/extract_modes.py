"""Extraction modes compared on real pages, so NEWSWATCH_EXTRACT_MODE is chosen by measurement.

Generated pages (bench/newsweb.py) could not tell trafilatura's modes apart: all four kept the
same text. The real pages of shared/corpus/realpages can: for 106 of them evaldata.json lists
snippets of the article body ("with") and of boilerplate ("without"), and each configuration is
scored as trafilatura scores extractors: body snippets found (recall), boilerplate snippets found
(leak), and precision and F1 over the snippet counts of all scored pages. Each mode runs through
`extract_article`, as the pipeline does; the floor is `trafilatura.extract(html)` with default
options, which our code cannot move. Speed: ms per page on one core, pages decompressed in
memory, each configuration warmed up first.

    .venv/bin/python bench/extract_modes.py [--pages N] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

from newswatch.extract import EXTRACT_MODES, extract_article
from newswatch.records import FeedItem, Page

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "realpages"
FLOOR = "floor"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Case:
    """One real page in memory, with the snippets it is scored by (none: timed only)."""

    name: str
    url: str
    html: bytes
    body: tuple[str, ...] = ()
    boilerplate: tuple[str, ...] = ()


@dataclass
class Tally:
    """Snippet counts over the scored pages and seconds per page, for one configuration."""

    tp: int = 0  # body snippets found
    fn: int = 0  # body snippets missing
    fp: int = 0  # boilerplate snippets found
    tn: int = 0  # boilerplate snippets missing
    seconds: list[float] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # pages that gave no text at all


def load_corpus(directory: Path, limit: int | None) -> list[Case]:
    """The corpus's pages, decompressed, in file-name order; the first `limit` of them."""
    evaldata_path, html_dir = directory / "evaldata.json", directory / "html"
    if not evaldata_path.is_file() or not html_dir.is_dir():
        sys.exit(f"no page corpus at {directory} (needs evaldata.json and html/); use --corpus DIR")
    evaldata = json.loads(evaldata_path.read_text(encoding="utf-8"))
    by_file = {entry["file"]: (url, entry) for url, entry in evaldata.items()}
    cases = []
    for path in sorted(html_dir.glob("*.html.gz"))[:limit]:
        name = path.name.removesuffix(".gz")
        html = gzip.decompress(path.read_bytes())
        if name in by_file:
            url, entry = by_file[name]
            cases.append(Case(name, url, html, tuple(entry["with"]), tuple(entry["without"])))
        else:
            cases.append(Case(name, f"https://www.example.org/{name}", html))
    if not cases:
        sys.exit(f"no html/*.html.gz pages in {directory}")
    return cases


def normalise(text: str) -> str:
    # As trafilatura's tests/eval_common.py (norm): every run of whitespace one space, trimmed,
    # on both the snippet and the extracted text, so a line break inside a snippet is no miss.
    return _WHITESPACE.sub(" ", text).strip()


def count_snippets(text: str, case: Case, tally: Tally) -> None:
    found = normalise(text)
    hits = sum(normalise(snippet) in found for snippet in case.body)
    leaks = sum(normalise(snippet) in found for snippet in case.boilerplate)
    tally.tp, tally.fn = tally.tp + hits, tally.fn + len(case.body) - hits
    tally.fp, tally.tn = tally.fp + leaks, tally.tn + len(case.boilerplate) - leaks


def floor(case: Case) -> str:
    """Plain trafilatura, default options and no URL; unlike ours, its text keeps comments."""
    text: str | None = trafilatura.extract(case.html)
    return text or ""


def extractor(config: str) -> Callable[[Case], str]:
    """The text a configuration keeps from a page: a mode through the pipeline, or the floor."""
    if config == FLOOR:
        return floor

    def pipeline(case: Case) -> str:
        item = FeedItem(0, case.url, case.url, None, "", None, None, "", "")  # a link, nothing else
        page = Page(url=case.url, final_url=case.url, status=200, html=case.html)
        return extract_article(item, page, config).text

    return pipeline


def measure(config: str, cases: list[Case]) -> Tally:
    """Run one configuration over every page, timing each call; score the texts afterwards."""
    extract, tally = extractor(config), Tally()
    # Warm-up over every page, untimed: one page left the first mode measured ~15 % slow (lazy
    # imports and caches of paths that page does not take), and a worker runs warm.
    for case in cases:
        extract(case)
    texts = []
    for case in cases:
        started = time.perf_counter()
        texts.append(extract(case))
        tally.seconds.append(time.perf_counter() - started)
    for case, text in zip(cases, texts, strict=True):
        if case.body or case.boilerplate:
            count_snippets(text, case, tally)
        if not text.strip():
            tally.empty.append(case.name)
    return tally


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def table(rows: dict[str, Tally]) -> str:
    lines = [
        "| mode | recall | leak | precision | F1 | ms/page (median) | total s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config, t in rows.items():
        recall, leak = ratio(t.tp, t.tp + t.fn), ratio(t.fp, t.fp + t.tn)
        precision, f1 = ratio(t.tp, t.tp + t.fp), ratio(2 * t.tp, 2 * t.tp + t.fp + t.fn)
        median_ms, total = 1000 * statistics.median(t.seconds), sum(t.seconds)
        lines.append(
            f"| {config} | {recall:.3f} | {leak:.3f} | {precision:.3f} | {f1:.3f} "
            f"| {median_ms:.1f} | {total:.2f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="default: %(default)s")
    parser.add_argument("--pages", type=int, help="only the first N pages, for a quick run")
    args = parser.parse_args()
    if args.pages is not None and args.pages < 1:
        parser.error("--pages must be at least 1")
    cases = load_corpus(args.corpus, args.pages)
    rows = {config: measure(config, cases) for config in (*EXTRACT_MODES, FLOOR)}
    scored = sum(1 for case in cases if case.body or case.boilerplate)
    megabytes = sum(len(case.html) for case in cases) / 1e6
    print(
        f"{len(cases)} pages ({megabytes:.1f} MB of HTML), {scored} scored by snippets, one core\n"
    )
    print(table(rows))
    for config, t in rows.items():
        if t.empty:
            print(f"\n{config}: no text from {len(t.empty)} page(s): {', '.join(t.empty)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
