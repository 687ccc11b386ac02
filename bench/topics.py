"""Topic matching throughput: the one-automaton engine beside a per-topic compiled-regex loop.

Run: .venv/bin/python bench/topics.py [--mb 6]
Generates news-like articles (deterministic), topics of 10 terms each (words and two-word
phrases drawn from the article vocabulary, so they do occur), and times both on one core.
The regex loop runs on a slice of the text when it would take minutes; MB/s is per its slice.
"""

from __future__ import annotations

import argparse
import random
import re
import time

from newswatch.query import keywords_query
from newswatch.topics import compile_queries, match_text

COMMON = (
    "the of and to in a is that for on with as by at from said its was has have be are it this "
    "an not but which after more government year new minister people two first over also"
).split()
TERMS_PER_TOPIC = 10
VOCABULARY = 50_000  # distinct rarer words (names, places, subjects) topic terms come from
RARE_SHARE = 0.08  # share of article words drawn from them; the rest are common words


def vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = "ta ri ff wan ear th min er al ko sei dan po lu ve ng sho ki ra mu".split()
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def articles(rng: random.Random, vocab: list[str], megabytes: float) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    total = 0
    while total < megabytes * 1_000_000:
        paragraphs = []
        for _ in range(rng.randint(4, 10)):
            words = [
                rng.choice(vocab) if rng.random() < RARE_SHARE else rng.choice(COMMON)
                for _ in range(rng.randint(40, 90))
            ]
            words[0] = words[0].capitalize()
            paragraphs.append(" ".join(words) + ".")
        title = " ".join(rng.choice(vocab).capitalize() for _ in range(6))
        text = "\n\n".join(paragraphs)
        out.append((title, text))
        total += len(title) + len(text) + 2
    return out


def topic_terms(rng: random.Random, vocab: list[str], n_terms: int) -> list[list[str]]:
    terms = [
        rng.choice(vocab) if rng.random() < 0.7 else f"{rng.choice(vocab)} {rng.choice(vocab)}"
        for _ in range(n_terms)
    ]
    return [terms[i : i + TERMS_PER_TOPIC] for i in range(0, n_terms, TERMS_PER_TOPIC)]


def regex_loop(topics: list[list[str]]) -> list[re.Pattern[str]]:
    """What a naive engine does: one alternation per topic, with boundaries and plurals."""
    return [
        re.compile(
            "|".join(
                r"(?<!\w)" + r"[\s\-]*".join(map(re.escape, t.split())) + r"(?:e?s)?(?!\w)"
                for t in terms
            ),
            re.IGNORECASE,
        )
        for terms in topics
    ]


def run(megabytes: float) -> None:
    rng = random.Random(4)
    vocab = vocabulary(rng, VOCABULARY)
    docs = articles(rng, vocab, megabytes)
    size = sum(len(t) + len(x) + 2 for t, x in docs) / 1e6
    print(f"text: {len(docs)} articles, {size:.1f} MB; topics of {TERMS_PER_TOPIC} terms\n")
    print(f"{'terms':>7} {'topics':>7} {'engine MB/s':>12} {'regex MB/s':>11} {'speed-up':>9}")
    for n_terms in (10, 100, 1_000, 10_000):
        topics = topic_terms(rng, vocab, n_terms)
        matcher = compile_queries(
            [(f"t{i}", keywords_query(terms), 1, "plural") for i, terms in enumerate(topics)]
        )
        started = time.perf_counter()
        found = sum(len(match_text(title, text, matcher)) for title, text in docs)
        engine = size / (time.perf_counter() - started)

        patterns = regex_loop(topics)
        budget = max(1, int(len(docs) * min(1.0, 20 / len(topics))))  # keep it to seconds
        sample = docs[:budget]
        sample_mb = sum(len(t) + len(x) + 2 for t, x in sample) / 1e6
        started = time.perf_counter()
        for title, text in sample:
            body = f"{title}\n\n{text}"
            sum(1 for pattern in patterns if pattern.search(body))
        regex = sample_mb / (time.perf_counter() - started)
        print(
            f"{n_terms:>7,} {len(topics):>7,} {engine:>12.1f} {regex:>11.2f} "
            f"{engine / regex:>8.0f}×   ({found:,} matches)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=6.0, help="megabytes of article text")
    run(parser.parse_args().mb)
