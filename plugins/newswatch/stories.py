"""Group near-duplicate articles into stories (pure): MinHash over word shingles, LSH for candidates.

Syndicated copies, light rewrites and updated versions of one wire story share most of their
word 4-grams; their MinHash signatures estimate that Jaccard similarity, and an LSH index finds
the candidates without comparing every pair. Texts in scripts without spaces (Chinese,
Japanese) are shingled by characters instead of words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from newswatch.minhash import LshIndex, Signature, from_bytes, jaccard, to_bytes
from newswatch.minhash import signature as signature_of
from newswatch.textfold import CJK_MAIN

__all__ = ["StoryIndex", "from_bytes", "signature", "to_bytes"]
WORD_SHINGLE = 4
CHAR_SHINGLE = 5
_WORD = re.compile(r"\w+")


# Shorter text does not identify an article: "Read the full story on our website." is the summary
# of every item of some feeds, and would make their distinct headlines one article and one story.
IDENTITY_MIN_CHARS = 200
HEADLINE_OVERLAP = 0.5  # share of words two titles of one article have in common, at least


def identifies(text: str, text_source: str) -> bool:
    """Whether a text is long and specific enough to tell its article apart (never a bare title)."""
    return text_source != "title" and len(text) >= IDENTITY_MIN_CHARS


def title_key(title: str) -> str:
    """A title compared as readers would: case, accents' forms and spacing ignored."""
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


# Words a headline shares with any other, which say nothing about which story it names.
_STOPWORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been it its "
    "this that these those into over after before about than new says say said".split()
)
RELATED_HEADLINES = 0.25  # content words two headlines of one story share, at least


def headline_words(title: str) -> frozenset[str]:
    """What a headline is about: its words less stopwords (character pairs for CJK)."""
    key = title_key(title)
    if len(CJK_MAIN.findall(key)) > len(key) / 3:
        chars = "".join(key.split())
        return frozenset(chars[i : i + 2] for i in range(max(1, len(chars) - 1)))
    return frozenset(w for w in _WORD.findall(key) if w not in _STOPWORDS)


def same_headline(one: str, other: str) -> bool:
    """Whether two titles can name one article: they share at least half their content words
    (character pairs for CJK, whose words are not spaced).

    A syndicated copy keeps most of its headline ("... Trump summit (via AloJapan)": 0.69);
    two stories behind one consent wall or teaser do not ("Alpha: Taiwan election result",
    "Beta: Taiwan typhoon damage": 0.14)."""
    words, others = headline_words(one), headline_words(other)
    if not words or not others:
        return title_key(one) == title_key(other)
    return len(words & others) >= HEADLINE_OVERLAP * len(words | others)


def shingles(text: str) -> set[str]:
    """Word 4-grams of the normalised text (character 5-grams for mostly-CJK text)."""
    normalized = unicodedata.normalize("NFKC", text).casefold()
    if len(CJK_MAIN.findall(normalized)) > len(normalized) / 3:
        chars = "".join(normalized.split())
        return {chars[i : i + CHAR_SHINGLE] for i in range(max(1, len(chars) - CHAR_SHINGLE + 1))}
    words = _WORD.findall(normalized)
    if len(words) < WORD_SHINGLE:
        return {" ".join(words)} if words else set()
    # zip stops at the shortest slice, the last full 4-gram's
    return set(map(" ".join, zip(*(words[i:] for i in range(WORD_SHINGLE)), strict=False)))


def signature(text: str) -> Signature:
    return signature_of(shingles(text))


def stored_signature(text: str, text_source: str) -> bytes | None:
    """The signature an article stores to be grouped into its story, or None when its text does
    not identify it. Computed where the article is made (the extraction worker): at ~2 ms an
    article it was the busiest part of the process that downloads and stores."""
    return to_bytes(signature(text)) if identifies(text, text_source) else None


def related_headlines(one: frozenset[str], other: frozenset[str]) -> bool:
    """Whether two headlines can name one story, told by their content words. A rewrite keeps
    its story's names ("Japan eyes late-March Takaichi trip..." and "Japan sounds out U.S. on
    Takaichi visit...": 0.67); pages that share a long footer or a wall do not ("Taiwan
    election result delayed by court", "Taiwan typhoon damage grows in south": 0.11)."""
    if not one or not other:
        return True  # nothing to tell them apart by: the text decides
    return len(one & other) >= RELATED_HEADLINES * len(one | other)


class StoryIndex:
    """Stories seen so far, by the signatures of their articles; answers "which story is this?".

    Similar text alone does not make one story: the headlines must be related too, or a site's
    long footer or consent wall would make all its stories one (and mute their alerts).
    """

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._lsh = LshIndex(threshold)
        self._members: dict[str, tuple[int, Signature, frozenset[str]]] = {}
        self.newest = 0  # highest article id added: later loads need only what came after it

    def add(self, key: str, story_id: int, minhash: Signature, title: str = "") -> None:
        if key not in self._members:
            self._lsh.insert(key, minhash)
            self._members[key] = (story_id, minhash, headline_words(title))
            if key.isdigit():
                self.newest = max(self.newest, int(key))

    def add_all(self, rows: Iterable[tuple[str, int, bytes, str]]) -> None:
        for key, story_id, data, title in rows:
            self.add(key, story_id, from_bytes(data), title)

    def set_story(self, key: str, story_id: int) -> None:
        """Give a member its story's real id (a new story has its id only once stored)."""
        _, minhash, words = self._members[key]
        self._members[key] = (story_id, minhash, words)

    def find(self, minhash: Signature, title: str = "") -> int | None:
        """The story of the most similar known article at or above the threshold, among those
        whose headlines are related to `title` (any, when no title is given), if any."""
        words = headline_words(title)
        best: tuple[float, int] | None = None
        for key in self._lsh.query(minhash):
            story_id, other, other_words = self._members[str(key)]
            if not related_headlines(words, other_words):
                continue
            similarity = jaccard(minhash, other)
            if similarity >= self.threshold and (best is None or similarity > best[0]):
                best = (similarity, story_id)
        return best[1] if best else None
