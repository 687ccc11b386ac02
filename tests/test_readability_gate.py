"""The readability gate skips readability only where it cannot change trafilatura's text:
generated pages (hypothesis) and the bundled ones extract to the same text with and without it."""

from __future__ import annotations

from collections.abc import Iterator
from copy import copy
from importlib import resources

import pytest
import trafilatura
import trafilatura.external
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml.etree import tostring
from lxml.html import HtmlElement
from trafilatura.utils import load_html, trim

from newswatch import readability_gate
from newswatch.extract import EXTRACT_MODES, extract_options

WORDS = (
    "Taiwan tariffs rare earths minister said on Tuesday that the talks would resume, "
    "officials in Tokyo confirmed. Share this article Subscribe menu cookie home news sport"
).split()
SPACES = [" ", "\n", "\t", "\xa0", "\u3000", "\u2028", ""]
CLASSES = ["", "article", "content", "post-body", "sidebar", "comment", "footer", "menu", "ad-"]
BLOCKS = ["div", "p", "article", "section", "td", "li", "h2", "span", "a", "pre", "nav"]


@st.composite
def words(draw: st.DrawFn) -> str:
    chosen = draw(st.lists(st.sampled_from(WORDS), max_size=60))
    return "".join(w + draw(st.sampled_from(SPACES)) for w in chosen)


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        tag = draw(st.sampled_from(BLOCKS))
        cls = draw(st.sampled_from(CLASSES))
        inner = draw(words()) + "".join(draw(st.lists(children, max_size=4)))
        tail = draw(words())
        if tag in ("td", "li"):  # in their own containers, as pages have them
            outer = "table><tr" if tag == "td" else "ul"
            close = "tr></table" if tag == "td" else "ul"
            return f'<{outer}><{tag} class="{cls}">{inner}</{tag}></{close}>{tail}'
        return f'<{tag} class="{cls}">{inner}</{tag}>{tail}'

    return build()


leaves = st.one_of(
    words(),
    st.builds(lambda w: f"<script>var s = '{w}';</script>", words()),
    st.builds(lambda w: f"<style>.x {{}} /* {w} */</style>", words()),
    st.sampled_from(
        [
            '<iframe src="https://www.youtube.com/embed/x"></iframe>',
            '<iframe src="https://example.com/ad"></iframe>',
            "<br>",
            "<!-- a comment with words in it -->",
            "<noembed>" + "&amp;" * 60 + "</noembed>",
            "<xmp>a &lt; b &amp; c</xmp>",
            "<table><tr><td>1</td><td>2</td></tr></table>",
        ]
    ),
)
bodies = st.recursive(leaves, element, max_leaves=40)


@st.composite
def pages(draw: st.DrawFn) -> str:
    """A page, sometimes opening with a comment (lxml then parses it as a fragment, the body
    its root) and with words after </body> (then the root's tail)."""
    body = "".join(draw(st.lists(bodies, min_size=1, max_size=6)))
    opening = draw(st.sampled_from(["", "<!-- c -->", '<?xml version="1.0"?>']))
    after = draw(words())
    return f"{opening}<html><head><title>{draw(words())}</title></head><body>{body}</body>{after}</html>"


def readability_text(tree: HtmlElement) -> str:
    found = trafilatura.external.try_readability(copy(tree))
    return trim(tostring(found, method="text", encoding="utf-8").decode("utf-8"))


def texts(html: str, mode: str) -> tuple[str | None, str | None]:
    """(trafilatura's text as it runs, the same through the gate) with our options in `mode`."""
    options = extract_options(mode)
    whole = trafilatura.bare_extraction(html, **options)
    with readability_gate.gated():
        gated = trafilatura.bare_extraction(html, **options)
    assert not isinstance(whole, dict) and not isinstance(gated, dict)
    return (whole.text if whole else None), (gated.text if gated else None)


@pytest.fixture(autouse=True, scope="module")
def installed() -> Iterator[None]:
    assert readability_gate.install(), "the gate did not install on this trafilatura"
    yield


@pytest.fixture
def readability_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of children of each page readability is given, as it is given them."""
    reads: list[int] = []
    run = trafilatura.external.try_readability

    def counted(tree: HtmlElement) -> HtmlElement:
        reads.append(len(tree))
        return run(tree)

    monkeypatch.setattr(trafilatura.external, "try_readability", counted)
    return reads


def test_the_gate_installs_on_the_pinned_trafilatura() -> None:
    assert trafilatura.__version__ == readability_gate.TRAFILATURA
    assert readability_gate.install()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_readabilitys_text_is_never_longer_than_the_bound(html: str) -> None:
    tree = load_html(html)
    assert tree is not None
    bound = readability_gate.readability_text_bound(tree)
    assert bound is None or len(readability_text(tree)) <= bound


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages(), st.sampled_from(sorted(EXTRACT_MODES)))
def test_gated_extraction_gives_trafilaturas_text_on_generated_pages(html: str, mode: str) -> None:
    whole, gated = texts(html, mode)
    assert gated == whole


@pytest.mark.parametrize("mode", sorted(EXTRACT_MODES))
@pytest.mark.parametrize(
    "page", ["site-page.html", "wire-page.html"], ids=["site page", "wire page"]
)
def test_gated_extraction_gives_trafilaturas_text_on_the_sample_pages(page: str, mode: str) -> None:
    html = (resources.files("newswatch") / "sample_day" / page).read_text()
    whole, gated = texts(html, mode)
    assert whole and gated == whole


SENTENCE = "The minister said on Tuesday that the talks would resume soon, officials confirmed. "


@pytest.mark.parametrize(
    "html",
    [
        # libxml2 reads noembed (xmp, noframes, plaintext) as raw text: readability's summary,
        # serialised as XML and parsed again, brings "&" back as "&amp;", longer than the page.
        f"<html><body><article><p>{SENTENCE * 4}</p><noembed>{'&' * 200}</noembed></article></body></html>",
        f"<html><body><article><p>{SENTENCE * 3}</p><xmp>{'&amp;' * 40}</xmp></article></body></html>",
        # A page that does not open with <html> is a fragment: words after </body> are the
        # root's tail, which readability's copy keeps.
        "<!-- c --><html><body><h2>Talks resume</h2>"
        f"<blockquote>{SENTENCE * 2}</blockquote></body>{'Words after the body end here. ' * 12}</html>",
    ],
    ids=["noembed", "xmp", "tail after body"],
)
def test_pages_whose_readability_text_outgrows_their_own_text_are_not_gated(html: str) -> None:
    tree = load_html(html)
    assert tree is not None
    bound = readability_gate.readability_text_bound(tree)
    assert bound is None or len(readability_text(tree)) <= bound
    for mode in sorted(EXTRACT_MODES):
        whole, gated = texts(html, mode)
        assert gated == whole, mode


def test_a_long_article_with_little_around_it_skips_readability(
    readability_reads: list[int],
) -> None:
    paragraphs = "".join(f"<p>{' '.join(WORDS)} Paragraph {i}.</p>" for i in range(12))
    html = (
        f"<html><body><nav><a href='/'>Home</a></nav><article>{paragraphs}</article></body></html>"
    )
    whole, gated = texts(html, "balanced")
    assert whole and gated == whole
    assert readability_reads[0] > 0, "outside the gate readability reads the page"
    assert readability_reads[1:] == [0], "inside it readability is given an empty page"


def test_plain_trafilatura_still_runs_readability_after_a_gated_call(
    readability_reads: list[int],
) -> None:
    html = "<html><body><article><p>" + " ".join(WORDS) * 8 + "</p></article></body></html>"
    with readability_gate.gated():
        trafilatura.extract(html)
    trafilatura.extract(html)
    assert readability_reads == [0, 1]
