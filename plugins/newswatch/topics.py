"""Tag articles with topics (pure functions); matching rules are written down in config/README.md.

Every term of every topic goes into one Aho-Corasick automaton, so an article is scanned once
whatever the number of topics; a topic's boolean query is evaluated only when one of its terms
occurred. Matching runs on folded text (textfold.py); hits are mapped back to the original.
The automaton reads the folded text with everything but letters and digits blanked, so keys
can start with the space before a word and the scan only follows words from their start.
It is kept whole on purpose (over 350 lines): one algorithm, whose compiling, scanning and
explaining share the same pattern and offset conventions and are read together.
"""

from __future__ import annotations

import itertools
import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import ahocorasick

from newswatch.plurals import plural_forms
from newswatch.query import And, Lang, Near, Node, Not, Term, keywords_query, leaves, parse_query
from newswatch.records import Match, Stemming, TopicRule
from newswatch.textfold import (
    WORD_CHARS,
    WORD_START,
    Folded,
    blank_non_words,
    fold,
    is_cjk,
    stem,
)

SNIPPET_CHARS = 200
MAX_JOINED_GAPS = 5  # longer phrases get only the all-spaces and no-spaces variants

TITLE, TEXT = "title", "text"


class Ending(Enum):
    """How the last word of a term may end in the text."""

    EXACT = "exact"  # one of its spellings, then a word boundary (or CJK: anything)
    STEM = "stem"  # any word with the same Snowball stem (`stemming: full`)
    PREFIX = "prefix"  # any continuation (tariff* = "tariffs", "tariffed")


@dataclass(frozen=True)
class Pattern:
    """A term as the automaton sees it: words, and how its last word may end."""

    words: tuple[str, ...]
    ending: Ending
    # What the automaton looks for as the last word: its spellings (EXACT: the word, and with
    # `stemming: plural` its singular and plurals), its spelling up to its stem (STEM), or the
    # prefix itself (PREFIX).
    lasts: tuple[str, ...]
    stem: str = ""  # the last word's Snowball stem (STEM only)

    @property
    def anchor(self) -> str:
        """What every word the last word matches starts with."""
        return os.path.commonprefix(list(self.lasts))

    @property
    def keys(self) -> list[tuple[str, int]]:
        """Automaton keys: each way to join the words (space or nothing), with the offset of
        the last word in the key."""
        *head, _ = self.words
        gaps = len(head)
        choices: Iterable[tuple[str, ...]] = (
            itertools.product((" ", ""), repeat=gaps)
            if gaps <= MAX_JOINED_GAPS
            else [(" ",) * gaps, ("",) * gaps]
        )
        keys = []
        for joins in choices:
            lead = "".join(word + join for word, join in zip(head, joins, strict=True))
            keys += [(lead + last, len(lead)) for last in self.lasts]
        return keys


def pattern_of(term: Term, stemming: Stemming = "plural") -> Pattern:
    """Decide how a term's last word matches: prefix, its plural forms (the default), stemmed
    (`full`, alphabetic non-CJK words), or exactly."""
    last = term.words[-1]
    if term.prefix:
        return Pattern(term.words, Ending.PREFIX, (last,))
    if stemming == "full" and last.isalpha() and not any(is_cjk(c) for c in last):
        stemmed = stem(last)
        # Every word with this stem starts with it, but for its last letter: Snowball ends
        # "policy" and "policies" alike in "i" ("polici"), so "policies" finds "policy" too.
        anchor = os.path.commonprefix([last, stemmed[:-1] if len(stemmed) > 2 else stemmed])
        if anchor:
            return Pattern(term.words, Ending.STEM, (anchor,), stemmed)
    if stemming == "plural":
        return Pattern(term.words, Ending.EXACT, plural_forms(last))
    return Pattern(term.words, Ending.EXACT, (last,))


# A query compiled for matching, as nested tuples (no hashing of dataclasses per article):
# ("t", pattern id, field) | ("n", pattern ids, slop, field) | ("l", code) | ("!", node)
# | ("&", nodes) | ("|", nodes)
Compiled = tuple[Any, ...]


@dataclass(frozen=True)
class CompiledTopic:
    name: str
    query: Node
    min_hits: int
    tree: Compiled
    shown: tuple[tuple[str, Compiled], ...]  # (label, leaf) of each term outside any NOT
    has_near: bool
    any_of: tuple[tuple[str, int], ...] | None  # (label, pattern id) when the query is t1 OR t2…


@dataclass
class TopicMatcher:
    """All enabled topics compiled together: one automaton over the terms of every topic."""

    topics: list[CompiledTopic]
    patterns: list[Pattern]
    topics_of: dict[int, list[int]]  # pattern id -> indexes of the topics using it
    automaton: ahocorasick.Automaton | None


def topic_query(topic: TopicRule) -> Node:
    """The topic's query tree: its `query`, or its keyword list (an OR of phrases)."""
    if topic.query is not None:
        return parse_query(topic.query)
    return keywords_query(list(topic.keywords), list(topic.exclude))


def compile_topics(topics: Iterable[TopicRule]) -> TopicMatcher:
    return compile_queries(
        [
            (topic.name, topic_query(topic), topic.min_hits, topic.stemming)
            for topic in topics
            if topic.enabled
        ]
    )


def compile_queries(queries: Sequence[tuple[str, Node, int, Stemming]]) -> TopicMatcher:
    """Compile (name, query, min_hits, stemming); equal terms of different topics share keys."""
    ids: dict[Pattern, int] = {}
    patterns: list[Pattern] = []
    topics: list[CompiledTopic] = []
    topics_of: dict[int, list[int]] = {}

    def pid(term: Term, stemming: Stemming) -> int:
        pattern = pattern_of(term, stemming)
        if pattern not in ids:
            ids[pattern] = len(patterns)
            patterns.append(pattern)
        users = topics_of.setdefault(ids[pattern], [])
        if not users or users[-1] != len(topics):
            users.append(len(topics))
        return ids[pattern]

    def build(node: Node, stemming: Stemming) -> Compiled:
        if isinstance(node, Term):
            return ("t", pid(node, stemming), node.field)
        if isinstance(node, Near):
            return ("n", tuple(pid(t, stemming) for t in node.terms), node.slop, node.field)
        if isinstance(node, Lang):
            return ("l", node.code)
        if isinstance(node, Not):
            return ("!", build(node.child, stemming))
        kind = "&" if isinstance(node, And) else "|"
        return (kind, tuple(build(c, stemming) for c in node.children))

    for name, query, min_hits, stemming in queries:
        tree = build(query, stemming)
        shown = tuple(
            (leaf.label, build(leaf, stemming))
            for leaf, negated in leaves(query)
            if not negated and not isinstance(leaf, Lang)
        )
        has_near = any(isinstance(leaf, Near) for leaf, _ in leaves(query))
        any_of = None
        if tree[0] == "|" and all(c[0] == "t" and c[2] is None for c in tree[1]):
            any_of = tuple((label, leaf[1]) for label, leaf in shown)
        topics.append(CompiledTopic(name, query, min_hits, tree, shown, has_near, any_of))
    return TopicMatcher(topics, patterns, topics_of, _automaton(patterns))


# Per pattern, what to check after a key is found:
# (pattern id, offset of the last word in the key, ending, last word, its stem, right-bounded)
Check = tuple[int, int, Ending, str, str, bool]


def _automaton(patterns: list[Pattern]) -> ahocorasick.Automaton | None:
    """The automaton over every key, in the form it takes in the blanked text (Document.scan).

    A key that needs a word boundary on its left starts with a space, which the blanked text
    has before every word: the automaton then only starts matching at word starts, so its
    states fall back to the root at once inside other words (several times faster than
    matching anywhere and dropping hits inside words afterwards).
    """
    checks_of: dict[str, list[Check]] = {}
    for number, pattern in enumerate(patterns):
        last = pattern.words[-1]
        # EXACT: a word boundary must follow; PREFIX: the hit runs to the end of the word.
        right_bounded = pattern.ending is not Ending.STEM and not is_cjk(last[-1])
        for key, last_offset in pattern.keys:
            check = (number, last_offset, pattern.ending, last, pattern.stem, right_bounded)
            checks_of.setdefault(key, []).append(check)
    if not checks_of:
        return None
    # Blanked key -> each key it stands for: (key length, the key when it must be compared with
    # the folded text, else "", checks). Keys can share a blanked form ("at&t" and "at t").
    entries: dict[str, list[tuple[int, str, tuple[Check, ...]]]] = {}
    for key, checks in checks_of.items():
        blanked = blank_non_words(key)
        if not is_cjk(key[0]):
            blanked = " " + blanked  # the space (or start) before the word
        # Blanking maps letters and digits to themselves and nothing else: a key made of them
        # only is found exactly; any other is compared with the folded text.
        compare = "" if key.isalnum() else key
        entries.setdefault(blanked, []).append((len(key), compare, tuple(checks)))
    automaton = ahocorasick.Automaton()
    for blanked, keys in entries.items():
        # Longest first, as an automaton over the keys themselves would report them.
        automaton.add_word(blanked, tuple(sorted(keys, key=lambda k: -k[0])))
    automaton.make_automaton()
    return automaton


@dataclass(slots=True)
class Document:
    """An article folded for matching: title, text and source joined by a hard boundary."""

    title: str
    text: str
    lang: str | None
    folded_title: Folded
    folded_text: Folded
    folded: str  # folded title + "\n" + folded text + "\n" + folded source
    _body: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, title: str, text: str, source: str = "", lang: str | None = None) -> Document:
        ft, fx = fold(title), fold(text)
        return cls(title, text, lang, ft, fx, f"{ft.text}\n{fx.text}\n{fold(source).text}")

    @property
    def scan(self) -> str:
        """What the automaton reads: a space, then the folded text with every character that is
        not a letter or digit made a space (so offsets are those of `folded`, plus one)."""
        return blank_non_words(" " + self.folded)

    @property
    def body(self) -> str:
        """What offsets and snippets refer to: the title, a blank line, the text."""
        if self._body is None:
            self._body = f"{self.title}\n\n{self.text}" if self.title else self.text
        return self._body

    def original(self, start: int, end: int) -> tuple[int, int]:
        """Body offsets of a folded span in the title or text."""
        title_end = len(self.folded_title.text)
        if start < title_end:
            return self.folded_title.original(start, end)
        base = title_end + 1
        a, b = self.folded_text.original(start - base, end - base)
        shift = len(self.title) + 2 if self.title else 0
        return a + shift, b + shift


Hits = dict[int, list[tuple[int, int]]]  # pattern id -> folded spans


def find_terms(matcher: TopicMatcher, doc: Document) -> Hits:
    """Every occurrence of every term in one pass of the automaton."""
    hits: Hits = {}
    if matcher.automaton is None:
        return hits
    text = doc.folded
    size = len(text)
    word_chars, stem_ending, prefix_ending = WORD_CHARS.match, Ending.STEM, Ending.PREFIX
    # An automaton key that ends at `stop` in the scan ends just before `stop` in `text`.
    for stop, keys in matcher.automaton.iter(doc.scan):
        for length, compare, checks in keys:
            start = stop - length
            if compare and not text.startswith(compare, start):
                continue  # "rare earth" found as "rare.earth": punctuation is no gap
            for number, last_offset, ending, last, stemmed, right_bounded in checks:
                stop_at = stop
                if ending is stem_ending:
                    word_end = word_chars(text, stop)
                    stop_at = word_end.end() if word_end else stop
                    word = text[start + last_offset : stop_at]
                    if word != last and stem(word) != stemmed:
                        continue
                elif ending is prefix_ending:
                    if right_bounded:  # show the whole word: tariff* marks "tariffs"
                        word_end = word_chars(text, stop)
                        stop_at = word_end.end() if word_end else stop
                elif right_bounded and stop < size and text[stop].isalnum():
                    continue  # "Taiwan" in "Taiwanese"
                found = hits.get(number)
                if found is None:
                    hits[number] = [(start, stop_at)]
                else:
                    found.append((start, stop_at))
    return hits


def match_text(
    title: str,
    text: str,
    topics: TopicMatcher,
    *,
    source: str = "",
    lang: str | None = None,
) -> list[Match]:
    """Every topic the article hits, with term counts, offsets and a highlighted snippet."""
    return match_document(topics, Document.of(title, text, source, lang))


def match_document(matcher: TopicMatcher, doc: Document) -> list[Match]:
    hits = find_terms(matcher, doc)
    candidates = sorted({t for number in hits for t in matcher.topics_of.get(number, ())})
    matches = []
    for index in candidates:
        match = _explain(matcher.topics[index], doc, hits)
        if match is not None:
            matches.append(match)
    return matches


class _Evaluation:
    """One topic on one document: which leaves hold, and where (memoised per leaf)."""

    def __init__(self, doc: Document, hits: Hits, has_near: bool) -> None:
        self.doc = doc
        self.hits = hits
        self.title_end = len(doc.folded_title.text)
        self.text_end = self.title_end + 1 + len(doc.folded_text.text)
        self.positions = _word_positions(doc.folded, hits) if has_near else {}
        self._spans: dict[tuple[int, str | None], list[tuple[int, int]]] = {}

    def spans(self, number: int, field: str | None) -> list[tuple[int, int]]:
        key = (number, field)
        if key not in self._spans:
            found = self.hits.get(number, [])
            if field is None and (not found or found[-1][1] <= self.text_end):
                return found  # the usual case: no hit in the source (hits come in end order)
            if field is None:
                low, high = 0, self.text_end
            elif field == TITLE:
                low, high = 0, self.title_end
            elif field == TEXT:
                low, high = self.title_end, self.text_end
            else:
                low, high = self.text_end, len(self.doc.folded)
            self._spans[key] = [span for span in found if low <= span[0] < high]
        return self._spans[key]

    def leaf_spans(self, leaf: Compiled) -> list[tuple[int, int]]:
        if leaf[0] == "t":
            return self.spans(leaf[1], leaf[2])
        return [span for number in leaf[1] for span in self.spans(number, leaf[3])]

    def holds(self, node: Compiled) -> bool:
        kind = node[0]
        if kind == "t":
            return bool(self.spans(node[1], node[2]))
        if kind == "|":
            return any(self.holds(child) for child in node[1])
        if kind == "&":
            return all(self.holds(child) for child in node[1])
        if kind == "!":
            return not self.holds(node[1])
        if kind == "l":
            return lang_matches(node[1], self.doc.lang)
        found = [[self.positions[s] for s, _ in self.spans(n, node[3])] for n in node[1]]
        return near(found, node[2])


def _explain(topic: CompiledTopic, doc: Document, hits: Hits) -> Match | None:
    text_end = len(doc.folded_title.text) + 1 + len(doc.folded_text.text)
    found: list[tuple[int, int, str]] = []
    if topic.any_of is not None:  # keyword lists: no tree to walk, every hit counts
        for label, number in topic.any_of:
            spans = hits.get(number)
            if spans:
                found += [(s, e, label) for s, e in spans if e <= text_end]
    else:
        run = _Evaluation(doc, hits, topic.has_near)
        if not run.holds(topic.tree):
            return None
        for label, leaf in topic.shown:
            spans = run.leaf_spans(leaf)
            if spans and (leaf[0] == "t" or run.holds(leaf)):
                found += [(start, end, label) for start, end in spans]
    kept = _without_overlaps(found) if len(found) > 1 else found
    if not kept or len(kept) < topic.min_hits:
        return None
    terms: dict[str, int] = {}
    offsets: dict[str, list[tuple[int, int]]] = {}
    shown = []
    for s, e, label in kept:
        terms[label] = terms.get(label, 0) + 1
        if s < text_end:
            start, end = doc.original(s, e)
            shown.append((start, end, label))
            offsets.setdefault(label, []).append((start, end))
    text_from = len(doc.title) + 2 if doc.title else 0
    snippet, highlights = _snippet(doc.body, shown, text_from) if shown else ("", [])
    return Match(
        topic=topic.name,
        terms=terms,
        snippet=snippet,
        highlights=highlights,
        offsets=offsets,
    )


def lang_matches(code: str, lang: str | None) -> bool:
    """lang:en matches "en", "en-GB" and "en_US", case-insensitively."""
    if not lang:
        return False
    lang = lang.lower().replace("_", "-")
    return lang == code or lang.startswith(code + "-")


def near(positions: list[list[int]], slop: int) -> bool:
    """Whether one word position from each list fits in a window of len(lists) - 1 + slop."""
    if not positions or not all(positions):
        return False
    merged = sorted((pos, which) for which, found in enumerate(positions) for pos in found)
    width = len(positions) - 1 + slop
    counts = [0] * len(positions)
    covered = 0
    left = 0
    for pos, which in merged:
        counts[which] += 1
        covered += counts[which] == 1
        while covered == len(positions):
            if pos - merged[left][0] <= width:
                return True
            drop = merged[left][1]
            counts[drop] -= 1
            covered -= counts[drop] == 0
            left += 1
    return False


def _word_positions(text: str, hits: Hits) -> dict[int, int]:
    """Word index of each hit start: the number of words that begin at or before it."""
    positions: dict[int, int] = {}
    count = previous = 0
    for start in sorted({s for spans in hits.values() for s, _ in spans}):
        count += len(WORD_START.findall(text, previous, start + 1))
        previous = start + 1
        positions[start] = count
    return positions


def _without_overlaps(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Leftmost-longest hits: "rare earth element" wins over "rare earth" at the same place."""
    kept: list[tuple[int, int, str]] = []
    end = -1
    for hit in sorted(found, key=lambda h: (h[0], h[0] - h[1])):
        if hit[0] >= end:
            kept.append(hit)
            end = hit[1]
    return kept


def _snippet(
    body: str, hits: list[tuple[int, int, str]], text_from: int = 0
) -> tuple[str, list[tuple[int, int]]]:
    """About SNIPPET_CHARS of text around the densest cluster of hits, with hit spans inside it.

    `body` is the title, a blank line and the text, which starts at `text_from`. Hits in the
    text are preferred (the reader has the title already), and the snippet then starts in the
    text; a snippet that still spans both shows the title apart, with " — " before the text."""
    in_text = [hit for hit in hits if hit[0] >= text_from]
    floor = text_from if in_text else 0
    hits = in_text or hits
    if len(hits) == 1:
        best_start = hits[0][0]
    else:  # the first hit with the most hit starts within SNIPPET_CHARS / 2 either side
        starts = sorted(start for start, _, _ in hits)
        half = SNIPPET_CHARS // 2
        best_start = max(
            (start for start, _, _ in hits),
            key=lambda s: bisect_left(starts, s + half) - bisect_left(starts, s - half),
        )
    start = max(floor, best_start - SNIPPET_CHARS // 3)
    end = min(len(body), start + SNIPPET_CHARS)
    start = max(floor, min(start, end - SNIPPET_CHARS))
    if start > floor:
        space = body.find(" ", start, best_start)
        start = space + 1 if space != -1 else start
    if end < len(body):
        space = body.rfind(" ", start, end)
        end = space if space > best_start else end
    pieces = [(start, body[start:end])]
    if 0 < text_from <= end and start < text_from - 2:
        pieces = [
            (start, body[start : text_from - 2]),
            (-1, " — "),
            (text_from, body[text_from:end]),
        ]
    lead = "… " if start > floor else ""
    trail = " …" if end < len(body) else ""
    # Each hit's span from the body offsets its characters came from: a search for its text
    # could mark "Taiwan" inside an earlier "Taiwanese".
    ordered = sorted(hits)
    raw = pieces[0][1]
    if len(pieces) == 1 and raw.isprintable() and "  " not in raw:  # usual: nothing to squeeze
        squeezed = raw.strip(" ")
        shift = len(lead) - start - (len(raw) - len(raw.lstrip(" ")))
        highlights = [(a + shift, b + shift) for a, b, _ in ordered if start <= a and b <= end]
        return lead + squeezed + trail, highlights
    squeezed, out_of = _squeeze_mapped(pieces)
    highlights = []
    for hit_start, hit_end, _ in ordered:
        first, last = out_of(hit_start), out_of(hit_end - 1)  # a hit ends in a letter
        if first is not None and last is not None:
            highlights.append((len(lead) + first, len(lead) + last + 1))
    return lead + squeezed + trail, highlights


_LONG_SPACE = re.compile(r"\s{2,}")


def _squeeze_mapped(
    pieces: Sequence[tuple[int, str]],
) -> tuple[str, Callable[[int], int | None]]:
    """The pieces (body offset, or -1 for a joiner of ours, and text) joined with each run of
    whitespace as one space and none at the ends; and where a body offset lands in that text
    (None outside the pieces or on a space). Only runs of two or more characters shift
    offsets, and they are few: the rest is str.split's work in C."""
    raw = "".join(text for _, text in pieces)
    squeezed = " ".join(raw.split())
    lead = len(raw) - len(raw.lstrip())
    ends: list[int] = []  # raw offset after each long run, and characters dropped up to it
    dropped: list[int] = []
    total = lead
    for run in _LONG_SPACE.finditer(raw, lead):
        total += len(run.group()) - 1
        ends.append(run.end())
        dropped.append(total)
    where: list[tuple[int, int, int]] = []  # (body offset, raw offset, length) of each piece
    at = 0
    for offset, text in pieces:
        if offset >= 0:
            where.append((offset, at, len(text)))
        at += len(text)

    def out_of(body: int) -> int | None:
        for offset, start, length in where:
            if offset <= body < offset + length:
                pos = start + body - offset
                if raw[pos].isspace():
                    return None
                i = bisect_right(ends, pos)
                return pos - (dropped[i - 1] if i else lead)
        return None

    return squeezed, out_of
