"""Fold text for topic matching: case, accents and separators, keeping a map back to the original.

Folding lowercases (casefold), strips Latin, Greek and Cyrillic diacritics, maps Turkish dotless
ı to i, turns every run of whitespace and hyphens into one space, and keeps kana voicing marks
and Hangul syllables whole. Matching runs on the folded form; offsets are mapped back so hits
can be shown in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

import Stemmer

# Whitespace plus the hyphen and dash family; a run of them is one word gap.
_DASHES = "\u002d\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"  # soft hyphen, zero-width: dropped
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Scripts written without spaces between words: kana, CJK ideographs (and extension A), Hangul.
_CJK_MAIN_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
# Matching also counts their rarer forms: katakana phonetic extensions, compatibility
# ideographs and half-width katakana.
_CJK = re.compile(f"[{_CJK_MAIN_RANGES}\u31f0-\u31ff\uf900-\ufaff\uff66-\uff9f]")
# stories.py counts only the main blocks: 68 characters that survive NFKC in the rarer blocks
# (small katakana ㇰ, compatibility ideographs such as 﨑) would change stored story signatures.
CJK_MAIN = re.compile(f"[{_CJK_MAIN_RANGES}]")
WORD_CHARS = re.compile(r"[^\W_]*")  # letters and digits, Unicode-aware (same as str.isalnum)
WORD_START = re.compile(r"(?<![^\W_])[^\W_]")


def is_separator(char: str) -> bool:
    return char.isspace() or char in _DASHES


def is_cjk(char: str) -> bool:
    """Scripts written without spaces between words: their terms match as substrings."""
    return _CJK.match(char) is not None


def fold_char(char: str) -> str:
    """The folded form of one character: usually one character, sometimes none or several."""
    if is_separator(char):
        return " "
    if char in _INVISIBLE:
        return ""
    if char == "ı":
        return "i"
    if "\uac00" <= char <= "\ud7af":
        return char  # NFKD would split Hangul syllables into jamo
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    return unicodedata.normalize("NFC", _DIACRITICS.sub("", decomposed))


_ASCII_SEPARATORS = "\t\n\v\f\r\x1c\x1d\x1e\x1f-"
# bytes.translate runs at memory speed; str.translate is ~10x slower on ASCII text.
_ASCII_FOLD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ" + _ASCII_SEPARATORS.encode(),
    b"abcdefghijklmnopqrstuvwxyz" + b" " * len(_ASCII_SEPARATORS),
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# What the automaton scans: every character that is not a letter or digit becomes a space.
_ASCII_BLANK = bytes(c if chr(c).isalnum() else 32 for c in range(128)) + bytes(range(128, 256))
_NON_WORD = re.compile(r"[^\w ]|_")  # neither alphanumeric (str.isalnum) nor already a space
# Two spaces, then any more: the literal two-space prefix lets re skip ahead in C, several times
# faster than str.replace("  ", " ") until none are left (a pattern such as " {2,}" is slower).
_SPACE_RUN = re.compile("   *")

Piece = tuple[int, int, int, int]  # folded start, folded end, original start, original end


@cache
def _tables() -> tuple[dict[int, str], re.Pattern[str]]:
    """Translations of non-ASCII characters of the Basic Multilingual Plane, and a pattern for
    those whose folded form is not exactly one character.

    Built on first use (about 0.2 s), not at import: importing a DAG must stay cheap.
    """
    table: dict[int, str] = {}
    irregular: list[str] = []
    for code in range(0x80, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = fold_char(char)
        if folded != char:
            table[code] = folded
        if len(folded) != 1:
            irregular.append(re.escape(char))
    return table, re.compile(f"[{''.join(irregular)}]")


def non_ascii_folds() -> dict[int, str]:
    """fold_char's answer for every non-ASCII character of the Basic Multilingual Plane it
    changes (a str.translate table)."""
    return _tables()[0]


def _original(pieces: Sequence[Piece], starts: Sequence[int], index: int, is_end: bool) -> int:
    """Where a folded offset was before the step that replaced `pieces` (sorted by start)."""
    # An end never takes in a piece that starts at it (a dropped soft hyphen after a word).
    k = (bisect_left if is_end else bisect_right)(starts, index) - 1
    if k < 0:
        return index
    f_start, f_end, o_start, o_end = pieces[k]
    if index >= f_end:
        return o_end + (index - f_end)
    return o_end if is_end else o_start


@dataclass(frozen=True)
class Layer:
    """Pieces one folding step replaced with text of another length, sorted by folded start."""

    pieces: tuple[Piece, ...]
    starts: tuple[int, ...]

    @classmethod
    def of(cls, pieces: list[Piece]) -> Layer:
        return cls(tuple(pieces), tuple(p[0] for p in pieces))

    def original(self, index: int, is_end: bool) -> int:
        return _original(self.pieces, self.starts, index, is_end)


class SpaceRuns:
    """The runs of spaces that fold() made one space, found only as far as offsets are asked
    for: most articles never need them, and those that do mostly not to their end."""

    __slots__ = ("spaced", "pieces", "starts", "_next", "_shift")

    def __init__(self, spaced: str) -> None:
        self.spaced = spaced
        self.pieces: list[Piece] = []
        self.starts: list[int] = []
        self._next = _SPACE_RUN.search(spaced)  # the first run not in pieces yet
        self._shift = 0  # spaces dropped before it

    def original(self, index: int, is_end: bool) -> int:
        while self._next is not None and self._next.start() - self._shift <= index:
            run, end = self._next.span()
            start = run - self._shift
            self.pieces.append((start, start + 1, run, end))
            self.starts.append(start)
            self._shift += end - run - 1
            self._next = _SPACE_RUN.search(self.spaced, end)
        return _original(self.pieces, self.starts, index, is_end)


@dataclass(slots=True)
class Folded:
    """Folded text, and the steps that changed lengths (to map offsets back to the original)."""

    text: str
    layers: tuple[Layer, ...] = ()
    spaced: str | None = None  # the text before runs of spaces were collapsed, if any were
    _runs: SpaceRuns | None = field(default=None, init=False, repr=False, compare=False)

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded span [start, end)."""
        if self.spaced is not None:  # collapsing spaces was the last step: undo it first
            if self._runs is None:
                self._runs = SpaceRuns(self.spaced)
            start, end = self._runs.original(start, False), self._runs.original(end, True)
        for layer in reversed(self.layers):
            start, end = layer.original(start, False), layer.original(end, True)
        return start, end


_EMPTY = Folded("")


def fold(text: str) -> Folded:
    """Fold text; runs of separators become one space, so phrases match across line breaks."""
    if not text:
        return _EMPTY
    if text.isascii():
        folded = _fold_ascii(text)
        layers: tuple[Layer, ...] = ()
    else:
        found: list[Layer] = []
        folded = _fold_mixed(text, found)
        layers = tuple(found)
    collapsed = _SPACE_RUN.sub(" ", folded)
    if len(collapsed) == len(folded):
        return Folded(folded, layers)
    return Folded(collapsed, layers, folded)


def blank_non_words(text: str) -> str:
    """The text with every character that is not a letter or digit made a space (same length).

    This is what the automaton scans: word boundaries there are always a space.
    """
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_BLANK).decode("ascii")
    return _NON_WORD.sub(" ", text)


def _fold_ascii(text: str) -> str:
    return text.encode("ascii").translate(_ASCII_FOLD).decode("ascii")


def _fold_mixed(text: str, layers: list[Layer]) -> str:
    """Fold ASCII stretches as bytes; translate each non-ASCII run, tracking length changes."""
    table, irregular = _tables()
    parts: list[str] = []
    pieces: list[Piece] = []
    pos = shift = 0
    for run in _NON_ASCII.finditer(text):
        parts.append(_fold_ascii(text[pos : run.start()]))
        chunk = run.group()
        if irregular.search(chunk) is None:
            parts.append(chunk.translate(table))
        else:
            for offset, char in enumerate(chunk):
                folded = char.translate(table)
                parts.append(folded)
                if len(folded) != 1:
                    start = run.start() + offset + shift
                    pieces.append((start, start + len(folded), start - shift, start - shift + 1))
                    shift += len(folded) - 1
        pos = run.end()
    parts.append(_fold_ascii(text[pos:]))
    if pieces:
        layers.append(Layer.of(pieces))
    return "".join(parts)


def fold_words(text: str) -> list[str]:
    """The folded words of a term: separators split words, other punctuation stays in them."""
    return fold(text).text.split()


_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """English Snowball stem of a folded word: "tariffs" -> "tariff", "economies" -> "economi"."""
    return str(_stemmer.stemWord(word))
