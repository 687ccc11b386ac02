"""What each `stemming` setting makes a term match on real pages, word by word.

The body text of the 110 real pages in ../shared/corpus/realpages/ (plain `trafilatura.extract`)
is matched against common news terms under `none`, `plural` and `full`. For each setting the
table gives the hits and the distinct words hit; then every word a setting hits beyond the
term itself is listed with its count, so whether each is the same word (a plural, a
possessive) or another one ("elected" for `election`) can be read off: that is its precision.

    .venv/bin/python bench/stemming.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections import Counter
from pathlib import Path

import trafilatura

from newswatch.records import Stemming, TopicRule
from newswatch.topics import compile_topics, match_text

TERMS = [
    "election", "court", "police", "policy", "tax", "tariff", "trade", "market", "bank", "rate",
    "price", "government", "minister", "company", "crisis", "war", "attack", "energy", "oil",
    "report", "plan", "deal", "law", "vote", "rule", "state", "nation", "union", "power",
    "security", "technology", "data", "climate", "new", "it", "US", "aid", "university",
    "student", "research", "study", "story", "city", "family", "event", "service", "product",
    "design", "work", "game", "play", "film", "book", "page", "user", "post", "news", "right",
]  # fmt: skip
SETTINGS: tuple[Stemming, ...] = ("none", "plural", "full")


def texts(corpus: Path) -> list[str]:
    out = []
    for page in sorted((corpus / "html").glob("*.html.gz")):
        text = trafilatura.extract(gzip.decompress(page.read_bytes()).decode("utf-8", "replace"))
        if text:
            out.append(text)
    return out


def words_hit(docs: list[str], term: str, stemming: Stemming) -> Counter[str]:
    """Each word (lower-cased as written) the term hit across the documents, with its count."""
    matcher = compile_topics([TopicRule(name="t", query=term, stemming=stemming)])
    found: Counter[str] = Counter()
    for text in docs:
        for match in match_text("", text, matcher):
            for spans in match.offsets.values():
                found.update(text[a:b].lower() for a, b in spans)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "realpages"
    parser.add_argument("--corpus", type=Path, default=default)
    args = parser.parse_args()
    if not (args.corpus / "html").is_dir():
        print(f"no pages in {args.corpus / 'html'}: give --corpus DIR", file=sys.stderr)
        return 2
    docs = texts(args.corpus)
    print(f"{len(docs)} pages with text, {len(TERMS)} terms\n")
    hits = {s: {t: words_hit(docs, t, s) for t in TERMS} for s in SETTINGS}
    # The words `plural` hits are the term's own forms (the lists below show each); a hit on
    # any other word is a hit on another word, which the reader did not ask for.
    own = {t: set(hits["plural"][t]) | {t.lower()} for t in TERMS}
    print(
        f"{'stemming':<9} {'hits':>6} {'on the term':>12} {'its plurals':>12} {'other words':>12}"
    )
    for setting in SETTINGS:
        counts = [(t, w, n) for t, c in hits[setting].items() for w, n in c.items()]
        total = sum(n for _, _, n in counts)
        exact = sum(n for t, w, n in counts if w == t.lower())
        other = sum(n for t, w, n in counts if w not in own[t])
        print(f"{setting:<9} {total:>6} {exact:>12} {total - exact - other:>12} {other:>12}")
    for setting in ("plural", "full"):
        print(f"\nwords `{setting}` hits beyond `none`:")
        for term in TERMS:
            extra = hits[setting][term] - hits["none"][term]
            if extra:
                shown = ", ".join(f"{w} {n}" for w, n in extra.most_common())
                print(f"  {term}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
