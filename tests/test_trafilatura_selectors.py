"""Each Python twin of trafilatura's pruning selectors finds the elements its XPath expression
finds, in the same order: on the bundled pages, on pages made to hit their edges, and on
generated trees (hypothesis) whose attributes are spelt from the expressions' own patterns."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import lxml.html
import pytest
import trafilatura
import trafilatura.main_extractor
import trafilatura.settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml.etree import XPath, _Element
from trafilatura import xpaths
from trafilatura.settings import Document
from trafilatura.utils import load_html

from newswatch import trafilatura_gates, trafilatura_selectors
from newswatch.extract import extract_options

PAIRS: list[tuple[XPath, Callable[[_Element], list[_Element]]]] = [
    (xpath, trafilatura_selectors.TWINS[id(xpath)])
    for xpath in (
        *xpaths.RAW_TREE_PRUNE_XPATH,
        *xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH,
        *xpaths.OVERALL_DISCARD_XPATH,
        trafilatura.settings.BASIC_CLEAN_XPATH,
        xpaths.BODY_XPATH[0],
        xpaths.BODY_XPATH[2],
        xpaths.BODY_XPATH[3],
    )
]
TAGS = [
    "div", "section", "aside", "list", "details", "ol", "ul", "item", "p", "span", "h1",
    "article", "li", "a", "main", "footer", "script", "style", "svg", "template",
]  # fmt: skip
ATTRIBUTES = ["id", "class", "style", "role", "data-component", "data-lp-replacement-content",
              "aria-hidden", "itemprop"]  # fmt: skip
# Words of the expressions' patterns and tests, near misses, and case variants.
FRAGMENTS = [
    "", "x", "comment", "Comment", "commentary", "comments", "article-comments", "post-comments",
    "comol", "disqus_thread", "dsq-comments", "mvp-post-add-box", "mvp-post-add-wrap",
    "mvp-post-add", "infinite-scroll", "infinitescroll", "infinite", "elementor-share-buttons",
    "cookie", "nav", "Nav", "N", "NAV", "role", "menu", "bar", "ad", " ad ", "ad-", "-ad-",
    "share", "shar", "Share", "social", "hidden", "hide", "hide-", "-hide-", "reply-", "-reply-",
    "display:none", "display: none", "comments-title", "true", "True", "MostPopularStories",
    "akismet", "reader-comments", "message", "noprint", "notloaded", "footer", "Footer", "tags",
    "widget", "author", "byline", "premium", "related", "primary", "jp-", "dpsp-content",
    "post", "entry", "articleBody", "articleContent", "article-content", "article__body",
    "post-text", "story", "article", "postarea", "text", "cell", "fullText", "FULLTEXT",
    "story-body", "content", "content-main", "main-content", "Main-Content", "MAIN-CONTENT",
    "page-content", "Page-Content", "cookie-banner", "Cookie-Consent", "onetrust", "COOKIEBOT",
    "notice__cookie", "consent-manager",
]  # fmt: skip


def page(name: str) -> str:
    return (resources.files("newswatch") / "sample_day" / name).read_text()


def assert_same(tree: _Element) -> None:
    for xpath, twin in PAIRS:
        assert twin(tree) == xpath(tree), twin.__name__


@pytest.mark.parametrize("name", ["site-page.html", "wire-page.html"])
def test_twins_find_their_expressions_elements_on_the_bundled_pages(name: str) -> None:
    assert_same(load_html(page(name)))


EDGES = """<html><body>
<div class="comments" id="x">class named first, read for @id|@class</div>
<div id="x" class="cookie-bar">id named first: the consent test reads "x"</div>
<div id="reply-1" class="a">starts-with(@id|@class)</div><span class="b" id="reply-2">c</span>
<div style="color: red" id="hidden-box">id before style</div>
<p id="p1" style="x" data-lp-replacement-content="">present and empty</p>
<span role="Navigation">translate(@role, 'N', 'n')</span><span role="NAV">not translated</span>
<section class="infinite-scroll"><h1>the real article</h1><p>kept</p></section>
<section class="infinite-scroll"><p>appended article</p></section>
<div class="mvp-post-add-box"><h1>dropped despite its h1</h1></div>
<ul class="comment-list"><li>a list of comments</li></ul><ol id="commentary">not comments</ol>
<ol id="comol">a list by id</ol><details class="article-comments">closed</details>
<div class="comments-title">Comments</div><div aria-hidden="true">hidden</div>
<div><div><span class="share-tools">nested</span></div></div>
<aside class="post elementor-share-buttons">share</aside>
<main><div class="entry">first frame of its parent</div><div class="post">second</div>
<section><div class="post">first of another parent</div></section></main>
<div class="intro"><div class="x" id="footer-links">class named first: read "x"</div>
<div id="footer-nav" class="menu">id named first: read "footer-nav"</div></div>
<section><div itemprop="articleBody">the article</div></section>
<article role="article"><div class="FullText">fulltext, any case</div></article>
<div class="Page-Content">translate(@class, 'CP', 'cp')</div><script>var s;</script>
<div id="Cookie-Banner">consent, any case</div><footer>end</footer>
</body></html>"""


def test_twins_find_their_expressions_elements_at_the_edges_of_xpath_semantics() -> None:
    tree = lxml.html.fromstring(EDGES)
    assert all(xpath(tree) for xpath, _ in PAIRS)  # every expression finds something here
    assert_same(tree)
    assert_same(tree.find(".//div"))  # from an element: its descendants, not itself


@st.composite
def attribute_value(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(FRAGMENTS), max_size=3))
    return draw(st.sampled_from([" ", "-", "_", ""])).join(parts)


@st.composite
def element(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(TAGS))
    names = draw(st.lists(st.sampled_from(ATTRIBUTES), unique=True, max_size=4))  # in any order
    attributes = "".join(f' {name}="{draw(attribute_value())}"' for name in names)
    inner = "".join(draw(st.lists(children, max_size=4)))
    return f"<{tag}{attributes}>{inner}</{tag}>"


trees = st.recursive(
    st.sampled_from(["", "words", "<h1>Title</h1>", "<br>"]),
    lambda children: element(children),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trees, min_size=1, max_size=5))
def test_twins_find_their_expressions_elements_on_generated_trees(body: list[str]) -> None:
    assert_same(lxml.html.fromstring(f"<html><body>{''.join(body)}</body></html>"))


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    assert trafilatura_gates.install()


def test_gated_extractions_prune_through_the_twins_and_plain_ones_through_xpath(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A twin that found nothing would keep the page's consent banner: only gated calls see it."""
    html = page("site-page.html").replace(
        "<body>", '<body><div class="cookie-consent">We use cookies to improve the site.</div>', 1
    )
    options = extract_options("balanced")
    found: list[_Element] = []

    def finds_nothing(tree: _Element) -> list[_Element]:
        found.append(tree)
        return []

    for twin in trafilatura.main_extractor.OVERALL_DISCARD_XPATH:  # type: ignore[attr-defined]
        assert isinstance(twin, trafilatura_selectors.Twin)
        monkeypatch.setattr(twin, "twin", finds_nothing)
    plain = trafilatura.bare_extraction(html, **options)
    assert not found
    with trafilatura_gates.gated():
        gated = trafilatura.bare_extraction(html, **options)
    assert found
    assert isinstance(plain, Document) and isinstance(gated, Document)
    assert "We use cookies" not in (plain.text or "")
