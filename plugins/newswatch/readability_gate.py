"""trafilatura without the readability run that cannot change its result.

Unless told to be fast, trafilatura runs readability-lxml on a copy of every page (~1/5 of
an extraction on the real pages) and keeps its own text unless readability's is more than
twice as long (recall: longer at all) or its own has no paragraphs
(trafilatura.external._prefer_readability). Readability's text is the page's text less what it
drops (scripts, styles, boilerplate), plus "VIDEO" for a video iframe; the page's text bounds its
length for ~0.2 ms. When that bound cannot pass the test, readability is given an empty page
instead, and the rest of trafilatura's comparison (justext, sanitising) runs as before: the
text is the same, and readability is skipped for about half the real pages.

Only calls inside `gated()` skip it; plain trafilatura in the same process (a benchmark's
floor) runs unchanged. The gate replaces a private function of the trafilatura version it was
checked against (TRAFILATURA); on any other version it stays out and trafilatura runs whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy
from typing import Any

import trafilatura
import trafilatura.core
from lxml.etree import XPath, _Element
from lxml.html import HtmlElement
from trafilatura.external import compare_extraction
from trafilatura.main_extractor import extract_content

TRAFILATURA = "2.3.1"  # tests/test_readability_gate.py compares the texts on this version
VIDEO_TEXT = len("VIDEO") + 1  # readability's text for a video iframe, and a space to part it
# XPath's normalize-space folds only ASCII spaces, Python's split() (trafilatura's trim) every
# Unicode one: the XPath length is never the shorter, so it stays a bound, and runs in C.
_SPACED_LENGTH = XPath("string-length(normalize-space(.))")
_DROPPED = ("script", "style")  # readability drops them before it reads the page
# Parsed as raw text by libxml2 2.14 (the HTML5 tokenizer), so entities in them stay escaped.
_RAW_TEXT = frozenset(("xmp", "noembed", "noframes", "plaintext"))
_gated: ContextVar[bool] = ContextVar("readability_gated", default=False)
_original: Callable[..., tuple[_Element, str]] | None = None


def install() -> bool:
    """Put the gate in front of trafilatura's comparison once; whether it is there."""
    global _original
    if _original is None and trafilatura.__version__ == TRAFILATURA:
        _original = trafilatura.core._extract_and_compare
        trafilatura.core._extract_and_compare = _extract_and_compare
    return _original is not None


@contextmanager
def gated() -> Iterator[None]:
    """Extractions in this block skip readability where it cannot win."""
    token = _gated.set(True)
    try:
        yield
    finally:
        _gated.reset(token)


def readability_text_bound(tree: HtmlElement) -> int | None:
    """The most characters readability's text (whitespace folded) can have on this page, or
    None when the page gives no bound.

    Dropping a script removes at least its own folded text from the page's; whatever else
    readability drops or moves only shortens it. The root's tail counts too: a page that does
    not open with <html> parses as a fragment, and text after </body> is that tail. The
    re-parse of readability's summary (serialised as XML) leaves entities in raw-text elements
    undecoded, so "&" there comes back as "&amp;": a page with one has no bound."""
    dropped = 0
    videos = 0
    for element in tree.iter(*_DROPPED, "iframe", *_RAW_TEXT):
        if element.tag in _RAW_TEXT:
            return None
        if element.tag == "iframe":
            videos += 1
        else:
            dropped += len(" ".join((element.text or "").split()))
    tail = len(" ".join((tree.tail or "").split())) + 1
    return int(_SPACED_LENGTH(tree)) + tail - dropped + VIDEO_TEXT * videos


def readability_may_win(tree: HtmlElement, body: _Element, text: str, options: Any) -> bool:
    """Whether readability's text could replace `text` (trafilatura's own, from `body`)."""
    most = readability_text_bound(tree)
    if most is None or most > (len(text) if options.focus == "recall" else 2 * len(text)):
        return True
    if most <= 2 * options.min_extracted_size:
        return False
    paragraphs = len(body.findall(".//p"))
    return not body.xpath(".//p//text()") or len(body.findall(".//table")) > paragraphs


def _extract_and_compare(
    cleaned_tree: HtmlElement, cleaned_tree_backup: HtmlElement, tree: HtmlElement, options: Any
) -> tuple[_Element, str]:
    """trafilatura.core._extract_and_compare, with readability given an empty page where it
    cannot win."""
    assert _original is not None
    if not _gated.get() or options.fast:
        return _original(cleaned_tree, cleaned_tree_backup, tree, options)
    body, text = extract_content(cleaned_tree, options)
    page = copy(tree) if readability_may_win(tree, body, text, options) else HtmlElement()
    return compare_extraction(cleaned_tree_backup, page, body, text, options)
