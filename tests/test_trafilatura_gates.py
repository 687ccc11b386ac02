"""The gates skip trafilatura's readability run and its page measure for the recall escalation
only where they cannot change its text: generated pages (hypothesis) and the bundled ones
extract to the same text with and without them."""

from __future__ import annotations

from collections.abc import Iterator
from copy import copy
from importlib import resources

import pytest
import trafilatura
import trafilatura.external
import trafilatura.utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml.etree import tostring
from lxml.html import HtmlElement
from trafilatura.utils import load_html, trim

from newswatch import trafilatura_gates
from newswatch.extract import EXTRACT_MODES, extract_options

WORDS = (
    "Taiwan tariffs rare earths minister said on Tuesday that the talks would resume, "
    "officials in Tokyo confirmed. Share this article Subscribe menu cookie home news sport"
).split()
# References to characters XML refuses (&#12;, &#1;...): the parser decodes them, html2txt raises
# on them; those Python counts as spaces readability's XML round trip makes U+FFFD.
SPACES = [" ", "\n", "\t", "\xa0", "\u3000", "\u2028", "", "&#11;", "&#12;", "&#x1f;", "&#1;",
          "&#x1b;", "&#xfffe;"]  # fmt: skip
CLASSES = [
    "", "article", "content", "post-body", "sidebar", "comment", "footer", "menu", "ad-",
    "cookie-banner",
]  # fmt: skip
BLOCKS = [
    "div", "p", "article", "section", "td", "li", "h2", "span", "a", "pre", "nav", "aside",
    "footer", "template", "svg", "blockquote",
]  # fmt: skip


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
            '<form action="/s"><label for="q">Search the news</label><input id="q" value="x">'
            "<textarea>Your letter to the editor</textarea><select><option>Tokyo</option>"
            "</select></form>",
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
    if draw(st.booleans()):  # no <body>: html2txt reads the whole tree
        return f"{opening}<div>{body}</div><p>{after}</p>"
    return f"{opening}<html><head><title>{draw(words())}</title></head><body>{body}</body>{after}</html>"


def readability_text(tree: HtmlElement) -> str:
    found = trafilatura.external.try_readability(copy(tree))
    return trim(tostring(found, method="text", encoding="utf-8").decode("utf-8"))


def texts(html: str, mode: str) -> tuple[str | None, str | None]:
    """(trafilatura's text as it runs, the same through the gate) with our options in `mode`."""
    options = extract_options(mode)
    whole = trafilatura.bare_extraction(html, **options)
    with trafilatura_gates.gated():
        gated = trafilatura.bare_extraction(html, **options)
    assert not isinstance(whole, dict) and not isinstance(gated, dict)
    return (whole.text if whole else None), (gated.text if gated else None)


@pytest.fixture
def page_measures(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of each page text trafilatura measures for its recall escalation."""
    measures: list[int] = []
    measure = trafilatura.html2txt

    def counted(tree: HtmlElement, clean: bool = True) -> str:
        measures.append(len(text := measure(tree, clean)))
        return text

    monkeypatch.setattr(trafilatura, "html2txt", counted)
    return measures


@pytest.fixture(autouse=True, scope="module")
def installed() -> Iterator[None]:
    assert trafilatura_gates.install(), "the gate did not install on this trafilatura"
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
    assert trafilatura.__version__ == trafilatura_gates.TRAFILATURA
    assert trafilatura_gates.install()


FORM_PAGE = (
    "<html><head><title>Talks</title></head><body><form id='aspnetForm'><label>Name</label>"
    "<input name='n' value='v'><textarea>Letters</textarea><select><option>A</option></select>"
    f"<article><p>{'Taiwan tariffs rare earths. ' * 20}</p></article></form></body></html>"
)


def test_gated_trees_are_the_same_trees_with_plain_element_classes() -> None:
    plain = load_html(FORM_PAGE)
    with trafilatura_gates.gated():
        gated = load_html(FORM_PAGE)
    assert plain is not None and gated is not None
    assert tostring(gated) == tostring(plain)
    assert {type(e).__name__ for e in plain.iter("form", "input", "textarea", "select", "label")} == {
        "FormElement", "InputElement", "TextareaElement", "SelectElement", "LabelElement"
    }  # fmt: skip
    assert {type(e) for e in gated.iter()} == {HtmlElement}
    assert {type(e) for e in copy(gated).iter()} == {HtmlElement}, "copies keep the classes"
    whole, through_gates = texts(FORM_PAGE, "balanced")
    assert whole and through_gates == whole


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_readabilitys_text_is_never_longer_than_the_bound(html: str) -> None:
    tree = load_html(html)
    assert tree is not None
    bound = trafilatura_gates.readability_text_bound(tree)
    assert bound is None or len(readability_text(tree)) <= bound


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_the_page_text_is_never_longer_than_its_bound(html: str) -> None:
    tree = load_html(html)
    assert tree is not None
    bound = trafilatura_gates.page_text_bound(tree)  # None: html2txt may raise, it is measured
    assert bound is None or len(trafilatura.html2txt(tree)) <= bound


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
        # ... and control characters there: readability's XML round trip makes each a U+FFFD.
        f"<span><p>{SENTENCE * 5}</p><p>More words.</p></span>" + "&#11; " * 300,
        # In precision mode trafilatura prunes the page's copy before readability reads it;
        # moving this tail (a vertical tab) into its parent's text raises.
        '<div><div class="sidebar"></div>Taiwan&#11;</div><p>Taiwan Taiwan </p>',
    ],
    ids=[
        "noembed",
        "xmp",
        "tail after body",
        "control characters after the body",
        "control character moved by the pruning",
    ],
)
def test_pages_whose_readability_text_outgrows_their_own_text_are_not_gated(html: str) -> None:
    tree = load_html(html)
    assert tree is not None
    bound = trafilatura_gates.readability_text_bound(tree)
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
    with trafilatura_gates.gated():
        trafilatura.extract(html)
    trafilatura.extract(html)
    assert readability_reads == [0, 1]


def test_an_article_that_is_most_of_its_page_is_not_measured_for_the_escalation(
    page_measures: list[int],
) -> None:
    paragraphs = "".join(f"<p>{' '.join(WORDS)} Paragraph {i}.</p>" for i in range(4))
    html = (
        "<html><body><nav><a href='/'>Home</a></nav><script>var x = 1;</script>"
        f"<article>{paragraphs}</article><footer>About us. Contact.</footer></body></html>"
    )
    whole, gated = texts(html, "balanced")
    assert whole and len(whole) < 3000 and gated == whole
    assert len(page_measures) == 1, "outside the gate trafilatura measures the page"


def test_a_short_article_on_a_page_of_other_text_is_still_measured_and_retried(
    page_measures: list[int],
) -> None:
    """Under a fifth of the page: trafilatura retries in recall mode, gated or not."""
    links = "".join(f"<ul><li><a href='/{i}'>{' '.join(WORDS)}</a></li></ul>" for i in range(20))
    html = f"<html><body><article><p>{SENTENCE * 3}</p></article>{links}</body></html>"
    whole, gated = texts(html, "balanced")
    assert whole and gated == whole
    assert len(page_measures) == 2, "the gate cannot rule the retry out, so the page is measured"
    assert len(whole) < 0.2 * page_measures[0]


@pytest.mark.parametrize("where", ["<div>&#12;</div>", "<pre>def f():\n&#12;\n    pass</pre>"])
def test_a_page_html2txt_raises_on_is_still_measured_and_fails_as_without_the_gates(
    where: str,
) -> None:
    """html2txt sets a text holding a form feed and lxml refuses it: trafilatura gives no text
    for the page, and neither does it through the gates."""
    html = f"<html><body><p>{SENTENCE * 3}</p>{where}</body></html>"
    tree = load_html(html)
    assert tree is not None and trafilatura_gates.page_text_bound(tree) is None
    for mode in ("balanced", "fast"):
        assert texts(html, mode) == (None, None), mode


def test_the_page_bound_holds_past_the_removed_elements_it_subtracts() -> None:
    """Deeply nested removed elements beyond _MOST_REMOVED are not subtracted: a looser bound."""
    svgs = "<svg>Icon</svg>" * (trafilatura_gates._MOST_REMOVED + 500)
    html = (
        f"<html><body><article><p>{SENTENCE * 4}</p></article>"
        f"<aside>{'<div>' * 200}{svgs}{'</div>' * 200}</aside><p>{SENTENCE}</p></body></html>"
    )
    tree = load_html(html)
    assert tree is not None
    bound = trafilatura_gates.page_text_bound(tree)
    assert bound is not None and len(trafilatura.html2txt(tree)) <= bound
    whole, gated = texts(html, "balanced")
    assert whole and gated == whole


def test_the_invalid_characters_shortcut_covers_what_trafilaturas_pattern_removes() -> None:
    installed = trafilatura.utils.INVALID_XML_CHARS
    assert isinstance(installed, trafilatura_gates.InvalidXmlChars)
    removed = {c for c in map(chr, range(0x110000)) if installed.regex.match(c)}
    assert removed == set(trafilatura_gates.INVALID_XML)


@pytest.mark.parametrize("char", ["\x01", "\x0b", "\x1f", "\ufffe", "\uffff"])
def test_a_page_holding_an_invalid_character_loses_it_through_the_gates_too(char: str) -> None:
    html = f"<html><body><article><p>{SENTENCE * 3}Tai{char}wan</p></article></body></html>"
    whole, gated = texts(html, "balanced")
    assert whole and "Taiwan" in whole and gated == whole


# Found by an attack review: lxml refuses every character XML does not allow, not only those
# Python counts as spaces, so each of these made trafilatura fail where the gates skipped the
# pass that raises, and gave a text.
REFUSED_PAGES = [
    f"<html><body><article><p>{SENTENCE * 3}</p></article><div><div class='cookie-banner'>c</div>"
    "Tai{ref}wan</div></body></html>",
    f"<html><body><article><p>{SENTENCE * 3}</p></article><div><span><template>i</template>"
    "Taiwan{ref}</span></div></body></html>",
    '<div><div class="sidebar"></div>Taiwan{ref}</div><p>Taiwan Taiwan </p>',
]


@pytest.mark.parametrize("mode", sorted(EXTRACT_MODES))
@pytest.mark.parametrize("reference", ["&#1;", "&#x8;", "&#x1b;", "&#xfffe;", "&#11;"])
@pytest.mark.parametrize("page", REFUSED_PAGES, ids=["cookie banner", "template", "sidebar"])
def test_a_page_holding_a_character_xml_refuses_extracts_as_without_the_gates(
    page: str, reference: str, mode: str
) -> None:
    whole, gated = texts(page.format(ref=reference), mode)
    assert gated == whole
