"""trafilatura's pruning selectors, answered in Python: the same elements, in the same order.

trafilatura prunes every page with XPath expressions whose predicates test regular expressions
(EXSLT `re:test`). libxml2 walks the whole tree through the descendant axis and calls back into
Python for each test of each candidate element: on the real pages the five expressions twinned
here took ~2 ms of a ~10 ms extraction (bench/extract_cost.py). Each twin walks the same
elements with lxml's iterator, in C, and tests their attributes in Python with the same
patterns, which lxml's `re:test` compiles with `re` and searches the attribute's value with.

The twins keep these XPath rules:
- `.//*[self::a or self::b]`: descendant elements named a or b, in document order, not the
  context element itself.
- `@x` as a string: the attribute's value, "" where it is absent; `@x` alone: it is present,
  even empty; `@x='v'`: it is present and is v.
- `@x|@y` as a string: the value of whichever of the two the tag names first (the union's first
  node in document order), as `re:test`, `contains` and `starts-with` read it.

trafilatura_gates installs them for the trafilatura version it pins, inside gated extractions
only. tests/test_trafilatura_selectors.py holds each twin to its expression on the bundled pages
and on generated trees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml.etree import Element, XPath, _Element
from trafilatura import xpaths

Elements = list[_Element]


class Twin:
    """An XPath expression, and its Python twin to answer in its place while `use_twin()`."""

    def __init__(
        self, xpath: XPath, twin: Callable[[_Element], Elements], use_twin: Callable[[], bool]
    ) -> None:
        self.xpath = xpath
        self.twin = twin
        self.use_twin = use_twin

    def __call__(self, tree: _Element, **variables: Any) -> Any:
        if self.use_twin() and not variables:
            return self.twin(tree)
        return self.xpath(tree, **variables)


def first_of(element: _Element, one: str, other: str) -> str:
    """string(@one|@other): the value of whichever of the two attributes the tag names first."""
    first: str | None = element.get(one)
    second: str | None = element.get(other)
    if first is None:
        return second or ""
    if second is None:
        return first
    names = element.keys()
    return first if names.index(one) < names.index(other) else second


# RAW_TREE_PRUNE_XPATH[0]: containers of an infinite scroll's appended articles.
_SCROLL = re.compile("mvp-post-add-(?:box|wrap)|infinite-?scroll")
_SCROLL_BOX = re.compile("mvp-post-add-(?:box|wrap)")


def infinite_scroll(tree: _Element) -> Elements:
    """.//*[self::div or self::section or self::aside][re:test(@id, SCROLL) or
    re:test(@class, SCROLL)][not(.//h1) or re:test(@id, BOX) or re:test(@class, BOX)]"""
    found = []
    for element in tree.iterdescendants("div", "section", "aside"):
        ident, cls = element.get("id", ""), element.get("class", "")
        if (_SCROLL.search(ident) or _SCROLL.search(cls)) and (
            element.find(".//h1") is None or _SCROLL_BOX.search(ident) or _SCROLL_BOX.search(cls)
        ):
            found.append(element)
    return found


def share_buttons(tree: _Element) -> Elements:
    """.//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]"""
    return [
        element
        for element in tree.iterdescendants("div", "section", "aside")
        if "elementor-share-buttons" in element.get("class", "")
    ]


# REMOVE_COMMENTS_AND_LISTS_XPATH[0]: comment sections, lists of comments among them.
_COMMENTS_ID = re.compile(f"^(?:{xpaths._COMMENTS_ID}|disqus_thread|dsq-comments)")
_COMMENTS_LIST_ID = re.compile(f"^(?:{xpaths._COMMENTS_ID})")
_COMMENTS_CLASS = re.compile(xpaths._COMMENTS_CLASS)


def comment_sections(tree: _Element) -> Elements:
    """.//*[self::div or self::list or self::section or self::details or self::ol or
    self::ul][re:test(@id, COMMENTS_ID) or re:test(@class, COMMENTS_CLASS)][not(self::ol or
    self::ul) or re:test(@id, COMMENTS_LIST_ID) or re:test(@class, COMMENTS_CLASS)]"""
    found = []
    for element in tree.iterdescendants("div", "list", "section", "details", "ol", "ul"):
        ident, cls = element.get("id", ""), element.get("class", "")
        if (_COMMENTS_ID.search(ident) or _COMMENTS_CLASS.search(cls)) and (
            element.tag not in ("ol", "ul")
            or _COMMENTS_LIST_ID.search(ident)
            or _COMMENTS_CLASS.search(cls)
        ):
            found.append(element)
    return found


# OVERALL_DISCARD_XPATH[0]: navigation, ads, sharing, consent and other page furniture.
_CONSENT = re.compile(xpaths._alt(xpaths._CONSENT_ID_CLASS_TOKENS))
_DISCARD_ID = re.compile(
    xpaths._alt(xpaths._OVERALL_DISCARD_BOTH_TOKENS + xpaths._OVERALL_DISCARD_ID_TOKENS)
)
_DISCARD_CLASS = re.compile(
    xpaths._alt(xpaths._OVERALL_DISCARD_BOTH_TOKENS + xpaths._OVERALL_DISCARD_CLASS_TOKENS)
)


def _is_furniture(element: _Element) -> bool:
    return bool(
        element.get("data-lp-replacement-content") is not None
        or "nav" in element.get("role", "").replace("N", "n")
        or "MostPopularStories" in element.get("data-component", "")
        or _CONSENT.search(first_of(element, "id", "class"))
        or _DISCARD_ID.search(element.get("id", ""))
        or _DISCARD_CLASS.search(element.get("class", ""))
    )


# Whether an element without attributes passes (no pattern matches "", so no): one answer for
# all of them, taken from the test itself.
_BARE_FURNITURE = _is_furniture(Element("div"))


def furniture(tree: _Element) -> Elements:
    """.//*[self::div or self::item or self::list or self::p or self::section or self::span][
    @data-lp-replacement-content or contains(translate(@role, 'N', 'n'), 'nav') or
    contains(@data-component, 'MostPopularStories') or re:test(@id|@class, CONSENT) or
    re:test(@id, DISCARD_ID) or re:test(@class, DISCARD_CLASS)]"""
    return [
        element
        for element in tree.iterdescendants("div", "item", "list", "p", "section", "span")
        if (_is_furniture(element) if element.attrib else _BARE_FURNITURE)
    ]


# OVERALL_DISCARD_XPATH[1]: hidden elements, reply forms, comment titles.
_HIDDEN_ID = re.compile("reader-comments|akismet")
_HIDDEN_CLASS = re.compile(
    "^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print"
    "| hidden| hide|noprint|notloaded"
)


def _is_hidden(element: _Element) -> bool:
    style = element.get("style", "")
    return bool(
        element.get("class") == "comments-title"
        or first_of(element, "id", "class").startswith("reply-")
        or "hidden" in first_of(element, "id", "style")
        or "display:none" in style
        or "display: none" in style
        or _HIDDEN_ID.search(element.get("id", ""))
        or _HIDDEN_CLASS.search(element.get("class", ""))
        or element.get("aria-hidden") == "true"
    )


_BARE_HIDDEN = _is_hidden(Element("div"))


def hidden(tree: _Element) -> Elements:
    """.//*[@class='comments-title' or starts-with(@id|@class, 'reply-') or
    re:test(@id|@style, 'hidden') or contains(@style, 'display:none') or
    contains(@style, 'display: none') or re:test(@id, 'reader-comments|akismet') or
    re:test(@class, HIDDEN_CLASS) or @aria-hidden='true']"""
    return [
        element
        for element in tree.iterdescendants(Element)
        if (_is_hidden(element) if element.attrib else _BARE_HIDDEN)
    ]


TWINS: dict[int, Callable[[_Element], Elements]] = {
    id(xpaths.RAW_TREE_PRUNE_XPATH[0]): infinite_scroll,
    id(xpaths.RAW_TREE_PRUNE_XPATH[1]): share_buttons,
    id(xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH[0]): comment_sections,
    id(xpaths.OVERALL_DISCARD_XPATH[0]): furniture,
    id(xpaths.OVERALL_DISCARD_XPATH[1]): hidden,
}


def twinned(expressions: list[XPath], use_twin: Callable[[], bool]) -> list[Twin]:
    """The expressions of one of trafilatura's lists, each with its twin."""
    return [Twin(xpath, TWINS[id(xpath)], use_twin) for xpath in expressions]
