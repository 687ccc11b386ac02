"""The rule editor on a real store filled by one pipeline run over the sample news day: what a
draft matches, what it gains and loses against a topic, its parse errors, and the entry to save."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
import yaml
from expected import TAKAICHI
from fastapi.testclient import TestClient
from helpers import dashboard_after_a_run
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.config.edit import topic_entry
from newswatch.dashboard.params import MAX_PARAMETER_CHARS
from newswatch.query import And, keywords_query, keywords_text, parse_query
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings

TOYOTA = "Toyota warns U.S. tariffs will cut profit by $9 billion"
TAKAICHI_COPY = "Japan eyes late-March Takaichi trip to U.S. for Trump summit"  # Asia Wire's
SEOUL = "Seoul raises defence spending for fourth year"
RARE_EARTH = "China tightens export controls on rare earth magnets"


@pytest.fixture
def client(settings: Settings, news_day: SampleDay) -> Iterator[TestClient]:
    """The dashboard over the stored sample day, past the login (tested in the browser test)."""
    with dashboard_after_a_run(raise_server_exceptions=False) as test_client:
        yield test_client


def listed(html: str) -> dict[str, str]:
    """Each listed article's title and its change against the topic ('' without a topic)."""
    rows = re.findall(r'<li class="hit ?([a-z]*)">.*?<a [^>]*>([^<]*)</a>', html, re.S)
    return {unescape(title): change for change, title in rows}


def counts(html: str) -> str:
    return " ".join(
        re.sub(r"<[^>]+>", "", line)
        for line in re.findall(r'<p class="counts">.*?</p>', html, re.S)
    )


def entry(html: str) -> str:
    found = re.search(r'<pre class="yaml"[^>]*><code>(.*?)</code></pre>', html, re.S)
    assert found, "no topics.yaml entry"
    return unescape(found.group(1))


def test_a_query_lists_the_stored_articles_it_matches_with_the_terms_marked(
    client: TestClient,
) -> None:
    response = client.get("/rules", params={"q": "tariff*"})
    assert response.status_code == 200
    html = response.text
    # Newest first: the summit story in both outlets, then Toyota; nothing is compared.
    assert list(listed(html)) == [TAKAICHI_COPY, TAKAICHI, TOYOTA]
    assert set(listed(html).values()) == {""}
    assert "<mark>tariffs</mark>" in html
    assert "3 of the 7 articles stored for the 30 days up to the newest one" in counts(html)
    assert "in 2 stories" in counts(html)
    assert "Expected: 0.5 alerts a day" in counts(html)  # 2 stories over the 4 days stored
    assert 'value="tariff*"' in html  # the editor keeps the draft
    assert yaml.safe_load(entry(html)) == [
        {"name": "new-topic", "title": "New topic", "query": "tariff*"}
    ]


def test_a_picked_topic_shows_what_the_draft_gains_and_loses(client: TestClient) -> None:
    # Drops the summit story (Takaichi), adds Seoul's defence budget, keeps Toyota.
    draft = "(tariff AND NOT Takaichi) OR Seoul"
    html = client.get("/rules", params={"q": draft, "topic": "tariffs"}).text
    assert listed(html) == {
        TAKAICHI_COPY: "lost",
        TAKAICHI: "lost",
        SEOUL: "gained",
        TOYOTA: "kept",
    }
    summary = counts(html)
    assert "2 of the 7 articles" in summary and "in 2 stories" in summary
    assert "matches 3 of these articles): 1 gained, 2 lost, 1 kept." in summary
    assert yaml.safe_load(entry(html)) == [{"name": "tariffs", "title": "Tariffs", "query": draft}]


def test_picking_a_topic_fills_the_editor_with_its_rule(client: TestClient) -> None:
    query = 'tariff OR "trade war" OR "import duty" OR "customs duty"'
    html = client.get("/rules", params={"topic": "tariffs"}).text
    assert f'value="{query.replace(chr(34), "&#34;")}"' in html
    assert '<option value="tariffs" selected>' in html
    assert set(listed(html).values()) == {"kept"}
    # The Load button replaces a draft; Preview keeps it.
    loaded = client.get("/rules", params={"topic": "tariffs", "q": "Seoul", "load": "1"}).text
    assert listed(loaded) == listed(html)
    kept = client.get("/rules", params={"topic": "tariffs", "q": "Seoul"}).text
    assert 'value="Seoul"' in kept and listed(kept) != listed(html)


def test_a_keyword_topic_is_edited_as_the_query_it_stands_for(client: TestClient) -> None:
    html = client.get("/rules", params={"topic": "defense-spending"}).text
    assert "0 gained, 0 lost, 3 kept" in counts(html)
    keywords = ["defense spending", 'a "quoted" one', "back\\slash"]
    node = parse_query(keywords_text(keywords, ["x y"]))
    assert node == parse_query(
        '("defense spending" OR "a \\"quoted\\" one" OR "back\\\\slash") AND NOT ("x y")'
    )
    assert isinstance(node, And) and node.children[0] == keywords_query(keywords)


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("tariff AND (", 12, "the query ends inside parentheses: expected &#39;)&#39;"),
        ("tariff AND AND Japan", 11, "unexpected AND: expected a term or &#39;(&#39; before it"),
        ("taiwan~2", 6, "fuzzy matching (word~N) is not supported"),
    ],
)
def test_a_parse_error_shows_its_position_and_nothing_else(
    client: TestClient, query: str, position: int, message: str
) -> None:
    html = client.get("/rules/preview", params={"q": query, "topic": "tariffs"}).text
    assert f"position {position}: {message}" in html
    # The query as typed, the character at the position under a caret.
    shown = re.search(
        r'<p class="query-shown"><code>(.*?)<span class="at" title="position (\d+)">', html, re.S
    )
    assert shown is not None
    assert unescape(shown.group(1)) == query[:position] and int(shown.group(2)) == position
    assert "<li" not in html and "counts" not in html and 'class="yaml"' not in html


def test_the_fragment_is_the_preview_alone(client: TestClient) -> None:
    fragment = client.get("/rules/preview", params={"q": "rare earth"}).text
    page = client.get("/rules", params={"q": "rare earth"}).text
    for part in ["<html", "<header", "<nav", "<form", "<h1"]:
        assert part not in fragment and part in page, part
    assert fragment.strip() in page
    assert list(listed(fragment)) == [TAKAICHI_COPY, TAKAICHI, RARE_EARTH]
    assert "<mark>rare</mark> <mark>earth</mark>" in fragment
    empty = client.get("/rules/preview").text
    assert "Type a query" in empty and "<li" not in empty


@pytest.mark.parametrize("path", ["/rules", "/rules/preview"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"q={'x' * (MAX_PARAMETER_CHARS + 1)}", f"longer than {MAX_PARAMETER_CHARS} characters"),
        ("q=tariff%00", "holds a control character"),
        ("q=tariff%0AOR%20x", "holds a control character"),
        ("q=%ff", "not valid UTF-8"),
        ("days=0", "days: expected a whole number from 1 to 90"),
        ("days=91", "days: expected a whole number from 1 to 90"),
        ("days=7.5", "days: expected a whole number from 1 to 90"),
        ("topic=nosuch", "topic: no topic &#39;nosuch&#39;; known: defense-spending, rare-earths"),
        (f"topic={'t' * 201}", "topic: at most 200 characters"),
    ],
)
def test_hostile_parameters_get_a_400_page_in_the_dashboards_layout(
    client: TestClient, path: str, query: str, message: str
) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert '<p class="error" role="alert"><strong>400</strong>' in response.text
    assert message in response.text
    assert "<header>" in response.text and 'href="static/dashboard.css"' in response.text


@pytest.mark.parametrize(
    "query",
    [
        "No",
        "x #y",
        "2025-13-45",
        'it\'s OR "phrase: with colon" OR hash#',
        'title:"12:30" AND NOT x',
        '"a \\"quoted\\" b" OR c',
        "@mention OR `tick` OR %percent OR null",
        'x OR "\u2028 line separator" OR \ufeffbom',
    ],
)
def test_the_entry_shown_reads_back_as_the_query(client: TestClient, query: str) -> None:
    html = client.get("/rules", params={"q": query, "topic": "taiwan"}).text
    assert 'class="query-error"' not in html  # a query the editor accepts
    assert yaml.safe_load(entry(html)) == [{"name": "taiwan", "title": "Taiwan", "query": query}]


@settings(max_examples=300, deadline=None)
@given(
    query=st.text(st.characters(codec="utf-8"), max_size=60),
    title=st.text(max_size=20),
)
def test_any_topic_entry_reads_back_as_written(query: str, title: str) -> None:
    written = topic_entry({"name": "t", "title": title, "query": query})
    assert yaml.safe_load(written) == [{"name": "t", "title": title, "query": query}]
    assert written.startswith("  - name: t\n    title: ")
