"""trafilatura without the work that cannot change its result.

Its trees get their element classes in C: lxml.html's parser picks each element's Python class
by calling a Python method (HtmlElementClassLookup) every time an element is touched from
Python, thousands of times a page, to give forms and their fields classes of their own that
trafilatura never uses. Inside `gated()` trafilatura parses with the same options and plain
HtmlElement for every element: ~6 % of an extraction on the real pages. The XPath expressions
it prunes, cleans and frames every page with are answered by their twins in
trafilatura_selectors, in Python: the same elements, for a third less time an extraction. A
page holding no character XML refuses skips the pattern that strips them (InvalidXmlChars).

Two of trafilatura's passes are skipped where the page proves they cannot change the text:

- **Readability.** Unless told to be fast, trafilatura runs readability-lxml on a copy of every
  page (~1/5 of an extraction on the real pages) and keeps its own text unless readability's is
  more than twice as long (recall: longer at all) or its own has no paragraphs
  (trafilatura.external._prefer_readability). Readability's text is the page's text less what
  it drops (scripts, styles, boilerplate), plus "VIDEO" for a video iframe; the page's text
  bounds its length. When that bound cannot pass the test, readability is given an empty page
  instead, and the rest of the comparison (justext, sanitising) runs as before.
- **The page's text for the recall escalation.** When its text is short (under 3,000
  characters), trafilatura measures the whole page's text with `html2txt` (a copy of the tree,
  cleaned, spaced at every block: ~1/10 of an extraction) and retries in recall mode if the
  text is under a fifth of it (trafilatura.core.trafilatura_sequence). The page's text less
  what html2txt cleans away, plus a space at each block's edges, bounds that length; when the
  text already has a fifth of the bound, the retry cannot happen and the page is not measured.

Each bound costs ~0.2 ms, computed in C. Only calls inside `gated()` skip anything; plain
trafilatura in the same process (a benchmark's floor) runs unchanged. The gates replace private
names of the trafilatura version they were checked against (TRAFILATURA); on any other version
they stay out and trafilatura runs whole.

The bounds count characters as trafilatura does after folding whitespace (" ".join(s.split())).
Removing a substring shortens a folded text by at least the substring's own folded length, and
inserting one space lengthens it by at most one character. References such as &#12; or &#1;
put characters XML does not allow (INVALID_XML: control characters other than tab and line
ends, U+FFFE, U+FFFF) in a page's text. lxml refuses to set a text holding one, which makes
html2txt (and, in precision mode, the pruning before readability) raise and the extraction
fail; and those Python counts as spaces (\x0b, \x0c, \x1c-\x1f) are not spaces to XML:
readability's round trip through XML makes each a U+FFFD. So readability's bound folds only
ASCII spaces, as XPath's normalize-space does, and a page whose text holds one skips nothing.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy
from typing import Any

import lxml.html
import trafilatura
import trafilatura.core
import trafilatura.external
import trafilatura.main_extractor
import trafilatura.utils
from lxml.etree import ElementDefaultClassLookup, XPath, _Element
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction
from trafilatura.baseline import _BLOCK_ELEMS
from trafilatura.core import ESCALATION_PAGE_SHARE
from trafilatura.external import compare_extraction
from trafilatura.main_extractor import extract_content

from newswatch import trafilatura_selectors

TRAFILATURA = "2.3.1"  # tests/test_trafilatura_gates.py compares the texts on this version
VIDEO_TEXT = len("VIDEO") + 1  # readability's text for a video iframe, and a space to part it
_SPACED_LENGTH = XPath("string-length(normalize-space(.))")
_TEXT = XPath("string(.)")
# Removed elements subtracted from the page's bound at most: past these the bound is looser
# (still a bound), and a page of a million nested <svg> costs no more to bound than to measure.
_MOST_REMOVED = 2000
_DROPPED = ("script", "style")  # readability drops them before it reads the page
# Parsed as raw text by libxml2 2.14 (the HTML5 tokenizer), so entities in them stay escaped.
_RAW_TEXT = frozenset(("xmp", "noembed", "noframes", "plaintext"))
# The elements trafilatura.settings.BASIC_CLEAN_XPATH removes by their tag alone (it removes
# more, by class and id: not counting those keeps the bound a bound).
_CLEANED = tuple(trafilatura_selectors.CLEANED_TAGS)
_BLOCKS = tuple(_BLOCK_ELEMS)  # _spaced_text pads the text and the tail of each with a space
# trafilatura.utils.HTML_PARSER's options; every element an HtmlElement, chosen in C.
_PARSER = HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
)
_PARSER.set_element_class_lookup(
    ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
)
# Where trafilatura names the lists of selectors trafilatura_selectors answers in Python.
_SELECTOR_LISTS = (
    (trafilatura.core, "RAW_TREE_PRUNE_XPATH"),
    (trafilatura.core, "REMOVE_COMMENTS_AND_LISTS_XPATH"),
    (trafilatura.main_extractor, "OVERALL_DISCARD_XPATH"),
    (trafilatura.external, "OVERALL_DISCARD_XPATH"),
    (trafilatura.main_extractor, "BODY_XPATH"),
)
# What trafilatura.utils.INVALID_XML_CHARS matches (tests/test_trafilatura_gates.py checks it
# against the pattern over every code point).
INVALID_XML = "".join(
    map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
)
_gated: ContextVar[bool] = ContextVar("trafilatura_gated", default=False)
# The length of the text the current extraction's comparison returned.
_compared: ContextVar[int | None] = ContextVar("compared_length", default=None)
_original: Callable[..., tuple[_Element, str]] | None = None
_installing = threading.Lock()


def install() -> bool:
    """Put the gates in front of trafilatura's passes once; whether they are there."""
    global _original
    if _original is not None:
        return True
    with _installing:  # two threads installing at once would make the gate its own original
        if _original is None and trafilatura.__version__ == TRAFILATURA:
            trafilatura.core.html2txt = _escalation_page_text  # type: ignore[attr-defined,assignment]
            trafilatura.utils.fromstring = _fromstring  # type: ignore[attr-defined]
            trafilatura.utils.INVALID_XML_CHARS = InvalidXmlChars(  # type: ignore[assignment]
                trafilatura.utils.INVALID_XML_CHARS
            )
            for module, name in _SELECTOR_LISTS:
                twins = trafilatura_selectors.twinned(getattr(module, name), _gated.get)
                setattr(module, name, twins)
            baseline: Any = sys.modules["trafilatura.baseline"]  # the package's is a function
            clean = trafilatura_selectors.twin(baseline.BASIC_CLEAN_XPATH, _gated.get)
            baseline.BASIC_CLEAN_XPATH = clean
            _original = trafilatura.core._extract_and_compare
            trafilatura.core._extract_and_compare = _extract_and_compare
    return _original is not None


@contextmanager
def gated() -> Iterator[None]:
    """Extractions in this block skip the passes that cannot change their text."""
    token = _gated.set(True)
    compared = _compared.set(None)
    try:
        yield
    finally:
        _compared.reset(compared)
        _gated.reset(token)


def _fromstring(
    html: str | bytes, base_url: str | None = None, parser: Any = None, **kw: Any
) -> Any:
    """lxml.html.fromstring, as trafilatura.utils calls it, with _PARSER for trafilatura's."""
    if parser is trafilatura.utils.HTML_PARSER and _gated.get():
        parser = _PARSER
    return lxml.html.fromstring(html, base_url=base_url, parser=parser, **kw)


class InvalidXmlChars:
    """trafilatura.utils.INVALID_XML_CHARS, whose one use is removing those characters from a
    whole page before parsing it. A page without any, nearly every page, is returned as it is:
    28 scans for one character (memchr) take a quarter of the time of the pattern's scan, which
    was 3 % of an extraction."""

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex

    def sub(self, replacement: str, text: str, count: int = 0) -> str:
        if _gated.get() and not any(char in text for char in INVALID_XML):
            return text
        return self.regex.sub(replacement, text, count)


def _holds_unsettable(text: str) -> bool:
    """Whether lxml would refuse to set `text` as an element's text or tail."""
    return any(c in text for c in INVALID_XML)


def _folded_length(text: str) -> int:
    return len(" ".join(text.split()))


def readability_text_bound(tree: HtmlElement) -> int | None:
    """The most characters readability's text (whitespace folded) can have on this page, or
    None when the page gives no bound.

    Dropping a script removes at least its own folded text from the page's; whatever else
    readability drops or moves only shortens it. The root's tail counts too, whole: a page that
    does not open with <html> parses as a fragment, and text after </body> is that tail. The
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
            dropped += _folded_length(element.text or "")
    tail = len(tree.tail or "") + 1
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


def page_text_bound(tree: HtmlElement) -> int | None:
    """The most characters trafilatura.html2txt(tree) can return, or None when it would raise.

    html2txt reads the body (or the tree, without one), removes the elements of
    BASIC_CLEAN_XPATH, pads every block element's text and tail with a space and folds the
    whitespace. So: the body's folded length, less the folded text of each outermost element
    it removes by tag, plus two for each block element."""
    body = tree.find(".//body")
    root = tree if body is None else body
    text = _TEXT(root)
    if _holds_unsettable(text) or _holds_unsettable(root.tail or ""):
        return None
    removed = 0
    for count, element in enumerate(root.iterdescendants(*_CLEANED)):
        if count == _MOST_REMOVED:
            break
        if next(element.iterancestors(*_CLEANED), None) is None:  # walked in C
            removed += _folded_length(element.text_content())
    blocks = sum(1 for _ in root.iter(*_BLOCKS))
    return _folded_length(text) - removed + 2 * blocks


def _extract_and_compare(
    cleaned_tree: HtmlElement, cleaned_tree_backup: HtmlElement, tree: HtmlElement, options: Any
) -> tuple[_Element, str]:
    """trafilatura.core._extract_and_compare, with readability given an empty page where it
    cannot win; it notes the length of the text for the escalation test that follows."""
    assert _original is not None
    if not _gated.get():
        return _original(cleaned_tree, cleaned_tree_backup, tree, options)
    if _holds_unsettable(_TEXT(tree)):
        # Passes that move such a text raise (in precision mode, the pruning of readability's
        # copy): readability reads the page as it is, and nothing is noted, so it is measured.
        _compared.set(None)
        return _original(cleaned_tree, cleaned_tree_backup, tree, options)
    if options.fast:
        body, text = _original(cleaned_tree, cleaned_tree_backup, tree, options)
    else:
        body, text = extract_content(cleaned_tree, options)
        may_win = readability_may_win(tree, body, text, options)
        page = copy(tree) if may_win else HtmlElement()
        body, text = compare_extraction(cleaned_tree_backup, page, body, text, options)
    _compared.set(len(text))
    return body, text


def _escalation_page_text(tree: HtmlElement, clean: bool = True) -> str:
    """trafilatura.core's html2txt, whose only use there is the recall escalation's test
    `len(text) < ESCALATION_PAGE_SHARE * len(html2txt(tree))`.

    The text tested is the comparison's, or the baseline's when that is longer: never shorter
    than the length _extract_and_compare noted. Where that length already reaches the share of
    the page's bound, the test fails whatever the page's text is, and an empty text fails it
    the same way without measuring the page. A page html2txt would raise on is measured, and
    raises as it would without the gate."""
    compared = _compared.get()
    if _gated.get() and compared is not None and clean:
        most = page_text_bound(tree)
        if most is not None and compared >= ESCALATION_PAGE_SHARE * most:
            return ""
    return trafilatura.html2txt(tree, clean)
