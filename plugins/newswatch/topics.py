"""Tag articles with topics by keyword and phrase rules (pure functions).

Semantics: case-insensitive; whole words only ("apple" never matches "pineapple"); the last word
of a term also matches its plural ("tariff" -> "tariffs", "economy" -> "economies"); the words
of a phrase may be joined by spaces, hyphens or nothing ("rare earth" = "rare-earth" =
"rareearth"); terms in CJK scripts match as substrings, since those scripts have no spaces.
A topic's `exclude` terms veto it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from newswatch.config import TopicConfig
from newswatch.records import Match

SNIPPET_CHARS = 200
_SEPARATORS = r"[\s\-\u2010-\u2015]*"
_SPLIT = re.compile(r"[\s\-\u2010-\u2015]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(frozen=True)
class CompiledTopic:
    name: str
    terms: tuple[str, ...]
    pattern: re.Pattern[str]
    exclude: re.Pattern[str] | None


def compile_topics(topics: Iterable[TopicConfig]) -> list[CompiledTopic]:
    return [
        CompiledTopic(
            name=topic.name,
            terms=tuple(_by_length(topic.keywords)),
            pattern=_alternation(_by_length(topic.keywords)),
            exclude=_alternation(topic.exclude) if topic.exclude else None,
        )
        for topic in topics
        if topic.enabled
    ]


def match_text(title: str, text: str, topics: Iterable[CompiledTopic]) -> list[Match]:
    """Every topic the title or text hits, with term counts and a highlighted snippet."""
    body = f"{title}\n\n{text}" if title else text
    matches = []
    for topic in topics:
        hits = [
            (m.start(), m.end(), topic.terms[_term_index(m)]) for m in topic.pattern.finditer(body)
        ]
        if not hits or (topic.exclude is not None and topic.exclude.search(body)):
            continue
        counts = Counter(term for _, _, term in hits)
        snippet, highlights = _snippet(body, hits)
        matches.append(
            Match(topic=topic.name, terms=dict(counts), snippet=snippet, highlights=highlights)
        )
    return matches


def term_pattern(term: str) -> str:
    """Regex source for one term, with its plural, separator and boundary rules."""
    words = [w for w in _SPLIT.split(term.strip()) if w]
    parts = [re.escape(w) for w in words[:-1]] + [_plural(words[-1])]
    core = _SEPARATORS.join(parts)
    if _CJK.search(term):
        return core
    return rf"(?<!\w){core}(?!\w)"


def _plural(word: str) -> str:
    if _CJK.search(word) or not word[-1:].isalpha():
        return re.escape(word)
    lower = word.lower()
    if lower.endswith("y") and len(word) > 1 and lower[-2] not in "aeiou":
        return re.escape(word[:-1]) + "(?:y|ies)"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return re.escape(word) + "(?:es)?"
    return re.escape(word) + "(?:e?s)?"


def _alternation(terms: list[str]) -> re.Pattern[str]:
    groups = "|".join(f"(?P<t{i}>{term_pattern(term)})" for i, term in enumerate(terms))
    return re.compile(groups, re.IGNORECASE)


def _by_length(terms: list[str]) -> list[str]:
    # Longer terms first, so "rare earth element" wins over "rare earth" at the same place.
    return sorted(dict.fromkeys(terms), key=len, reverse=True)


def _term_index(match: re.Match[str]) -> int:
    assert match.lastgroup is not None
    return int(match.lastgroup[1:])


def _snippet(body: str, hits: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int]]]:
    """About SNIPPET_CHARS of text around the densest cluster of hits, with hit spans inside it."""
    best_start = max(
        (start for start, _, _ in hits),
        key=lambda s: sum(
            1 for h, _, _ in hits if s - SNIPPET_CHARS // 2 <= h < s + SNIPPET_CHARS // 2
        ),
    )
    start = max(0, best_start - SNIPPET_CHARS // 3)
    end = min(len(body), start + SNIPPET_CHARS)
    start = max(0, min(start, end - SNIPPET_CHARS))
    if start > 0:
        space = body.find(" ", start, best_start)
        start = space + 1 if space != -1 else start
    if end < len(body):
        space = body.rfind(" ", start, end)
        end = space if space > best_start else end
    raw = body[start:end]
    lead = "… " if start > 0 else ""
    trail = " …" if end < len(body) else ""
    snippet = lead + " ".join(raw.split()) + trail
    # Recompute spans on the whitespace-collapsed snippet by locating each hit's text in order.
    highlights = []
    cursor = len(lead)
    for hit_start, hit_end, _ in sorted(hits):
        if hit_start < start or hit_end > end:
            continue
        needle = " ".join(body[hit_start:hit_end].split())
        found = snippet.find(needle, cursor)
        if found != -1:
            highlights.append((found, found + len(needle)))
            cursor = found + len(needle)
    return snippet, highlights
