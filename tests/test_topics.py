"""Topic matching: the golden table of tricky cases, keyword lists, explanations and snippets."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.config.models import TopicConfig
from newswatch.records import TopicRule
from newswatch.topics import compile_topics, match_text


def topic(**fields: object) -> TopicRule:
    return TopicConfig.model_validate({"name": "t", "recipients": ["a@b.co"], **fields}).rule


def hits(text: str, query: str, *, title: str = "", **context: str) -> dict[str, int]:
    """The terms a query hits in a text, {} when the topic does not match."""
    matches = match_text(title, text, compile_topics([topic(query=query)]), **context)
    return matches[0].terms if matches else {}


def keyword_hits(text: str, *keywords: str, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    compiled = compile_topics([topic(keywords=list(keywords), exclude=list(exclude))])
    matches = match_text("", text, compiled)
    return matches[0].terms if matches else {}


GOLDEN = [
    # case and accents
    ("New TARIFFS on steel", "tariff", True),
    ("ＴＡＩＷＡＮ (full-width letters)", "Taiwan", True),
    ("Les économies d'Europe", "economy", True),
    ("A resume of events", "résumé", True),
    ("Un résumé des faits", "resume", True),
    ("Die Straße ist gesperrt", "strasse", True),
    # Turkish dotted capital İ and dotless ı
    ("İSTANBUL'da toplantı", "Istanbul", True),
    ("DİYARBAKIR valiliği", "diyarbakir", True),
    ("Diyarbakır valiliği", "Diyarbakir", True),
    # hyphens, spaces and no space are the same gap
    ("improving rare-earth supply chains", '"rare earth"', True),
    ("rareearth magnets", '"rare earth"', True),
    ("rare – earth magnets", '"rare earth"', True),
    ("rare earth magnets", '"rare-earth"', True),
    ("President Lai Ching te spoke", '"Lai Ching-te"', True),
    ("U.S.-Japan alliance", '"U.S.-Japan"', True),
    ("rare.earth magnets", '"rare earth"', False),
    ("AT&T shares", '"at t"', False),
    ("at t shares", "AT&T", False),
    ("AT&T shares", "AT&T", True),
    # singular and plural (Snowball stems), both ways
    ("Rare Earths prices", '"rare earth"', True),
    ("a tariff deal", "tariffs", True),
    ("the economies of Asia", "economy", True),
    ("taxes rose", "tax", True),
    ("critical minerals", '"critical mineral"', True),
    ("an earthquake hit", "earth", False),
    # whole words; prefixes only when asked for
    ("pineapple farmers", "apple", False),
    ("Taiwanese pineapple growers", "Taiwan", False),
    ("Taiwanese pineapple growers", "Taiwan*", True),
    ("Taiwan's leader", "Taiwan", True),
    ("“Taiwan” and «tariffs»", "Taiwan AND tariff", True),
    ("(Taiwan)", "Taiwan", True),
    ("tariffed goods", "tariff*", True),
    ("a tariff-free zone", "tariff*", True),
    ("photo-tariff", "tariff", True),
    ("subtariff", "tariff*", False),
    # phrases across line breaks and blank lines
    ("rare\nearth magnets", '"rare earth"', True),
    ("rare\n\n  earth magnets", '"rare earth"', True),
    ("the Taiwan\r\nStrait", '"Taiwan Strait"', True),
    # CJK terms match as substrings; kana voicing marks are kept
    ("日本と台湾の関係", "台湾", True),
    ("レアアースの供給", "レアアース", True),
    ("米国の関税措置", "関税", True),
    ("ガスの価格", "カス", False),
    # proximity: all words within N extra words, any order
    ("supply of rare earth is tight", '"rare earth supply"~5', True),
    (
        "rare earth, and after many many other words much later the supply",
        '"rare earth supply"~2',
        False,
    ),
    ("the supply chain for earths that are rare", '"rare earth supply"~5', True),
    # AND, OR, NOT, parentheses; NOT inside OR
    ("tariff talks", "tariff AND NOT war", True),
    ("tariff war", "tariff AND NOT war", False),
    ("trade deal signed", "tariff OR (trade AND NOT war)", True),
    ("trade war looms", "tariff OR (trade AND NOT war)", False),
    ("trade war and a tariff", "tariff OR (trade AND NOT war)", True),
    ("Taiwan and tariffs", "Taiwan tariff", True),
    ("Taiwan only", "Taiwan tariff", False),
    ("Taiwan only", "Taiwan -tariff", True),
]


@pytest.mark.parametrize(("text", "query", "expected"), GOLDEN)
def test_golden_table_of_tricky_cases(text: str, query: str, expected: bool) -> None:
    assert bool(hits(text, query)) is expected


def test_title_field_looks_only_at_the_title() -> None:
    assert hits("Taiwan in the text", "title:Taiwan", title="Votes") == {}
    assert hits("Polls opened", "title:Taiwan", title="Taiwan votes") == {"title:Taiwan": 1}
    assert hits("Taiwan in the text", "text:Taiwan", title="Votes") == {"text:Taiwan": 1}


def test_source_and_lang_fields_filter_on_the_feed_and_language() -> None:
    text = "New tariff on steel"
    assert hits(text, "tariff AND source:kyodo", source="Kyodo News") != {}
    assert hits(text, "tariff AND source:kyodo", source="AsiaWire") == {}
    assert hits(text, "tariff AND lang:en", lang="en-GB") != {}
    assert hits(text, "tariff AND lang:en", lang="ja") == {}


def test_min_hits_requires_that_many_occurrences() -> None:
    compiled = compile_topics([topic(query="tariff", min_hits=3)])
    assert match_text("", "a tariff, another tariff", compiled) == []
    (match,) = match_text("", "a tariff, another tariff, tariffs", compiled)
    assert match.terms == {"tariff": 3}


def test_keyword_list_is_an_or_of_phrases() -> None:
    assert keyword_hits("Taiwan Strait tension", "Taiwan Strait", "Taipei") == {"Taiwan Strait": 1}
    assert keyword_hits("Taipei and the Taiwan Strait", "Taiwan Strait", "Taipei") == {
        "Taipei": 1,
        "Taiwan Strait": 1,
    }


def test_terms_are_counted_per_configured_term() -> None:
    assert keyword_hits("Tariffs, tariffs and a tariff.", "tariff") == {"tariff": 3}


def test_exclude_term_vetoes_the_topic() -> None:
    assert keyword_hits("Taiwan baseball final", "Taiwan", exclude=("baseball",)) == {}


def test_topic_with_no_hits_yields_no_match() -> None:
    assert keyword_hits("Cherry blossoms open early in Tokyo.", "Taiwan", "tariff") == {}


def test_longer_phrase_wins_over_its_prefix() -> None:
    assert keyword_hits("a rare earth element", "rare earth", "rare earth element") == {
        "rare earth element": 1
    }


def test_offsets_point_at_the_hits_in_title_and_text() -> None:
    title, text = "Taiwan votes", "Voters in the\n\nTaiwan   Strait islands."
    compiled = compile_topics([topic(query='Taiwan OR "Taiwan Strait"')])
    (match,) = match_text(title, text, compiled)
    body = f"{title}\n\n{text}"
    assert {t: [body[a:b] for a, b in spans] for t, spans in match.offsets.items()} == {
        "Taiwan": ["Taiwan"],
        "Taiwan Strait": ["Taiwan   Strait"],
    }


def test_offsets_survive_characters_that_fold_to_several() -> None:
    text = "Die Straße und ﬁnal: Ｔａｉｗａｎ\u00ad’s tariff"
    compiled = compile_topics([topic(query="tariff OR taiwan")])
    (match,) = match_text("", text, compiled)
    assert [text[a:b] for spans in match.offsets.values() for a, b in spans] == [
        "Ｔａｉｗａｎ",
        "tariff",
    ]


def test_snippet_marks_each_hit_within_about_200_characters() -> None:
    text = (
        ("Filler sentence about the weather. " * 20)
        + "A new tariff on cars. "
        + ("More filler about the weather. " * 20)
    )
    (match,) = match_text("", text, compile_topics([topic(keywords=["tariff"])]))
    assert len(match.snippet) <= 210
    assert [match.snippet[a:b] for a, b in match.highlights] == ["tariff"]


def test_title_counts_as_text() -> None:
    compiled = compile_topics([topic(keywords=["Taiwan"])])
    (match,) = match_text("Taiwan votes", "Polls opened at eight.", compiled)
    assert match.terms == {"Taiwan": 1}


def test_disabled_topic_is_not_matched() -> None:
    compiled = compile_topics([topic(keywords=["Taiwan"], enabled=False)])
    assert match_text("", "Taiwan", compiled) == []


def test_many_topics_share_one_automaton_and_each_matches_alone() -> None:
    topics = [topic(name=f"t{i}", query=f"word{i} OR shared") for i in range(300)]
    compiled = compile_topics(topics)
    assert [m.topic for m in match_text("", "only word17 here", compiled)] == ["t17"]
    assert len(match_text("", "the shared term", compiled)) == 300


def test_offsets_stay_right_after_many_blank_lines() -> None:
    title = "Tariff  news"
    text = "Intro.\n\n\nA tariff\n\n here.  \n\n" + "Filler words.\n\n" * 30 + "Last tariff."
    compiled = compile_topics([topic(query="tariff")])
    (match,) = match_text(title, text, compiled)
    body = f"{title}\n\n{text}"
    assert [body[a:b] for a, b in match.offsets["tariff"]] == ["Tariff", "tariff", "tariff"]
    assert match.offsets["tariff"][-1][0] == len(body) - len("tariff.")


def test_snippet_prefers_the_text_and_never_runs_the_title_into_it() -> None:
    rare = compile_topics([TopicRule(name="re", query='"rare earth"')])
    body = "BEIJING – China said it would curb exports. The rare earth rules apply at once."
    (hit,) = match_text("China tightens rare earth controls", body, rare)
    assert hit.snippet.startswith("BEIJING") and "controls BEIJING" not in hit.snippet
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["rare earth"]
    taiwan = compile_topics([TopicRule(name="tw", query="Taiwan")])
    (hit,) = match_text("Taiwan vote looms", "Voters head to the polls on Saturday.", taiwan)
    assert hit.snippet == "Taiwan vote looms — Voters head to the polls on Saturday."
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["Taiwan"]


def _stemming_table() -> list[list[str]]:
    """The rows of config/README.md's table of what each `stemming` matches."""
    readme = (Path(__file__).resolve().parents[1] / "config" / "README.md").read_text()
    table = readme.split("How the last word of a term may vary", 1)[1].split("\n\n", 2)[1]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    assert rows[0] == ["term", "text", "`plural` (default)", "`none`", "`full`"]
    return rows[2:]


@pytest.mark.parametrize("row", _stemming_table(), ids=lambda row: f"{row[0]}:{row[1]}")
def test_stemming_table_in_the_config_readme_is_what_matching_does(row: list[str]) -> None:
    terms, texts = re.findall(r"`([^`]+)`", row[0]), row[1].split(", ")
    pairs = (
        list(zip(terms, texts, strict=True)) if len(terms) > 1 else [(terms[0], t) for t in texts]
    )
    for stemming, cell in zip(("plural", "none", "full"), row[2:], strict=True):
        for term, text in pairs:
            rule = TopicRule(name="t", query=term, stemming=stemming)  # type: ignore[arg-type]
            hit = bool(match_text("", text, compile_topics([rule])))
            assert hit == cell.startswith("✓"), (term, text, stemming, cell)


@pytest.mark.parametrize(
    ("query", "text", "marked"),
    [
        ("Taiwan", "Taiwanese officials met in Taiwan on Monday.", ["Taiwan"]),
        ("tariff", "The tariffing plan: a tariff.", ["tariff"]),
        ("court", "court courts court", ["court", "courts", "court"]),
    ],
)
def test_snippet_marks_the_words_that_matched_not_earlier_look_alikes(
    query: str, text: str, marked: list[str]
) -> None:
    (match,) = match_text("", text, compile_topics([topic(query=query)]))
    spans = [s for spans in match.offsets.values() for s in spans]
    assert [match.snippet[a:b] for a, b in match.highlights] == marked
    assert [text[a:b] for a, b in sorted(spans)] == marked
    assert [a for a, _ in match.highlights] == [a for a, _ in sorted(spans)]  # same places


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(["tariff", "Tariffs", "tariffing", "steel", "the", "—", "«", "x"]),
        min_size=1,
        max_size=80,
    ),
    gaps=st.lists(
        st.sampled_from([" ", "  ", "\n", "\n\n", " \t ", "\u00a0", "\u2003 "]), min_size=80
    ),
    title=st.sampled_from(["", "Tariff news", "  Steel  "]),
)
def test_every_highlight_is_a_word_that_matched_whatever_the_whitespace(
    words: list[str], gaps: list[str], title: str
) -> None:
    text = "".join(word + gap for word, gap in zip(words, gaps, strict=False))
    matches = match_text(title, text, compile_topics([topic(query="tariff")]))
    for match in matches:
        marked = [match.snippet[a:b] for a, b in match.highlights]
        assert marked and all(word.casefold() in ("tariff", "tariffs") for word in marked)
        padded = f" {match.snippet} "  # a highlight is a whole word, not a piece of "tariffing"
        assert all(
            not padded[a].isalnum() and not padded[b + 1].isalnum() for a, b in match.highlights
        )
