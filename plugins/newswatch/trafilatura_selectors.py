"""trafilatura's selectors, answered in Python: the same elements, in the same order.

trafilatura prunes, cleans and frames every page with XPath expressions whose predicates test
regular expressions (EXSLT `re:test`). libxml2 walks the whole tree through the descendant axis
and calls back into Python for each test of each candidate element: on the real pages the
expressions twinned here took ~3 ms of a ~10 ms extraction (bench/extract_cost.py). Each twin
walks the same elements with lxml's iterator, in C, and tests their attributes in Python with
the same patterns, which lxml's `re:test` compiles with `re` (IGNORECASE for its 'i' flag) and
searches the attribute's value with.

The twins keep these XPath rules:
- `.//*[self::a or self::b]`: descendant elements named a or b, in document order, not the
  context element itself.
- `@x` as a string: the attribute's value, "" where it is absent; `@x` alone: it is present,
  even empty; `@x='v'`: it is present and is v.
- `@x|@y` as a string: the value of whichever of the two the tag names first (the union's first
  node in document order), as `re:test`, `contains` and `starts-with` read it.

They answer for the trees trafilatura parses, called with an element: lxml's HTML parser gives
no DTD default attributes and no unexpanded entity references, which `get` reads and XPath does
not (an attack review found both on XML trees), and nests at most 255 deep (lxml frees each
element's proxy by walking up its ancestors: a twin costs more than its XPath only on trees
thousands deep, which that parser does not make). trafilatura_gates installs them for the
trafilatura version it pins, inside gated extractions only. tests/test_trafilatura_selectors.py holds each twin to its expression on the bundled pages
and on generated trees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml.etree import Element, XPath, _Element
from trafilatura import settings, xpaths

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


# BASIC_CLEAN_XPATH: what baseline, html2txt and justext's input drop before reading a page.
CLEANED_TAGS = frozenset(("aside", "fencedframe", "footer", "script", "style", "svg", "template"))
_COOKIE_CONSENT = re.compile(settings._COOKIE_CONSENT_RE, re.IGNORECASE)  # re:test's 'i'


def _is_chrome(element: _Element) -> bool:
    return bool(
        (element.tag == "div" and "footer" in first_of(element, "class", "id"))
        or _COOKIE_CONSENT.search(element.get("class", ""))
        or _COOKIE_CONSENT.search(element.get("id", ""))
    )


_BARE_CHROME = _is_chrome(Element("div"))


def page_chrome(tree: _Element) -> Elements:
    """.//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer|.//script|
    .//style|.//svg|.//template|.//*[re:test(@class, COOKIE, 'i') or re:test(@id, COOKIE, 'i')]
    (a union: document order, each element once)"""
    return [
        element
        for element in tree.iterdescendants(Element)
        if element.tag in CLEANED_TAGS or (_is_chrome(element) if element.attrib else _BARE_CHROME)
    ]


# BODY_XPATH[0], [2] and [3]: the frames trafilatura looks for the article in, best first.
_FRAMES = ("article", "div", "main", "section")
_ARTICLE_ID = re.compile(xpaths._alt(xpaths._ARTICLE_CONTENT_ID_TOKENS))
_ARTICLE_CLASS = re.compile(xpaths._alt(xpaths._ARTICLE_CONTENT_CLASS_TOKENS))


def _is_article_frame(element: _Element) -> bool:
    ident, cls = element.get("id"), element.get("class")
    return bool(
        cls in ("post", "entry")
        or element.get("itemprop") == "articleBody"
        or ident == "articleContent"
        or _ARTICLE_ID.search(ident or "")
        or _ARTICLE_CLASS.search(cls or "")
    )


_BARE_ARTICLE_FRAME = _is_article_frame(Element("div"))


def article_frames(tree: _Element) -> Elements:
    """.//*[self::article or self::div or self::main or self::section][@class='post' or
    @class='entry' or @itemprop='articleBody' or @id='articleContent' or
    re:test(@id, ARTICLE_ID) or re:test(@class, ARTICLE_CLASS)][1]

    The [1] belongs to the child step of `.//*`: each parent's first such child."""
    found = []
    parents = set()  # held, so each parent's proxy stays the same object
    for element in tree.iterdescendants(*_FRAMES):
        if _is_article_frame(element) if element.attrib else _BARE_ARTICLE_FRAME:
            parent = element.getparent()
            if parent not in parents:
                parents.add(parent)
                found.append(element)
    return found


_STORY_ID = re.compile(xpaths._alt(xpaths._STORY_ID_TOKENS))
_FULLTEXT = re.compile("fulltext", re.IGNORECASE)
_STORY_CLASS = re.compile(xpaths._alt(xpaths._STORY_CLASS_TOKENS))


def _is_story_frame(element: _Element) -> bool:
    ident, cls = element.get("id"), element.get("class")
    return bool(
        element.get("role") == "article"
        or ident in ("article", "story")
        or cls in ("postarea", "art-postcontent", "text", "cell", "story")
        or _STORY_ID.search(ident or "")
        or _FULLTEXT.search(cls or "")
        or _STORY_CLASS.search(cls or "")
    )


_BARE_STORY_FRAME = _is_story_frame(Element("div"))


def story_frame(tree: _Element) -> Elements:
    """(.//*[self::article or self::div or self::main or self::section][@role='article' or
    @id='article' or @id='story' or @class='postarea' or @class='art-postcontent' or
    @class='text' or @class='cell' or @class='story' or re:test(@id, STORY_ID) or
    re:test(@class, 'fulltext', 'i') or re:test(@class, STORY_CLASS)])[1]"""
    for element in tree.iterdescendants(*_FRAMES):
        if _is_story_frame(element) if element.attrib else _BARE_STORY_FRAME:
            return [element]
    return []


_MAIN_ID = re.compile(xpaths._alt(xpaths._MAIN_CONTENT_ID_TOKENS))
_MAIN_CLASS = re.compile(xpaths._alt(xpaths._MAIN_CONTENT_CLASS_TOKENS))


def _is_content_frame(element: _Element) -> bool:
    ident, cls = element.get("id", ""), element.get("class", "")
    return bool(
        ident == "content"  # "" where absent, as @id='content' is false there
        or cls == "content"
        or _MAIN_ID.search(ident)
        or _MAIN_CLASS.search(cls)
        or "main-content" in ident.replace("C", "c").replace("M", "m")
        or "main-content" in cls.replace("C", "c").replace("M", "m")
        or "page-content" in cls.replace("C", "c").replace("P", "p")
    )


_BARE_CONTENT_FRAME = _is_content_frame(Element("div"))


def content_frame(tree: _Element) -> Elements:
    """(.//*[self::article or self::div or self::main or self::section][@id='content' or
    @class='content' or re:test(@id, MAIN_ID) or re:test(@class, MAIN_CLASS) or
    contains(translate(@id, 'CM','cm'), 'main-content') or
    contains(translate(@class, 'CM','cm'), 'main-content') or
    contains(translate(@class, 'CP','cp'), 'page-content')])[1]"""
    for element in tree.iterdescendants(*_FRAMES):
        if _is_content_frame(element) if element.attrib else _BARE_CONTENT_FRAME:
            return [element]
    return []


TWINS: dict[int, Callable[[_Element], Elements]] = {
    id(xpaths.RAW_TREE_PRUNE_XPATH[0]): infinite_scroll,
    id(xpaths.RAW_TREE_PRUNE_XPATH[1]): share_buttons,
    id(xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH[0]): comment_sections,
    id(xpaths.OVERALL_DISCARD_XPATH[0]): furniture,
    id(xpaths.OVERALL_DISCARD_XPATH[1]): hidden,
    id(settings.BASIC_CLEAN_XPATH): page_chrome,
    id(xpaths.BODY_XPATH[0]): article_frames,
    id(xpaths.BODY_XPATH[2]): story_frame,
    id(xpaths.BODY_XPATH[3]): content_frame,
}


def twinned(expressions: list[XPath], use_twin: Callable[[], bool]) -> list[XPath | Twin]:
    """The expressions of one of trafilatura's lists, each with its twin where it has one."""
    return [twin(xpath, use_twin) for xpath in expressions]


def twin(xpath: XPath, use_twin: Callable[[], bool]) -> XPath | Twin:
    """The expression with its twin, or the expression itself where it has none."""
    answer = TWINS.get(id(xpath))
    return xpath if answer is None else Twin(xpath, answer, use_twin)
