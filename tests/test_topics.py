import pytest
from newswatch.config import TopicConfig
from newswatch.topics import compile_topics, match_text


def topics_hit(text: str, *keywords: str, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    compiled = compile_topics(
        [
            TopicConfig(
                name="t", keywords=list(keywords), exclude=list(exclude), recipients=["a@b.co"]
            )
        ]
    )
    matches = match_text("", text, compiled)
    return matches[0].terms if matches else {}


@pytest.mark.parametrize(
    ("text", "keyword", "hits"),
    [
        ("New TARIFFS on steel", "tariff", True),
        ("a tariff deal", "tariffs", False),  # the term's plural is matched, not its singular
        ("improving rare-earth supply chains", "rare earth", True),
        ("Rare Earths prices", "rare earth", True),
        ("rareearth magnets", "rare earth", True),
        ("rare\nearth magnets", "rare earth", True),
        ("the economies of Asia", "economy", True),
        ("taxes rose", "tax", True),
        ("pineapple farmers", "apple", False),
        ("Taiwanese pineapple growers", "Taiwan", False),
        ("Taiwan's leader", "Taiwan", True),
        ("日本と台湾の関係", "台湾", True),
        ("レアアースの供給", "レアアース", True),
        ("U.S.-Japan alliance", "U.S.-Japan", True),
    ],
)
def test_keyword_rules(text: str, keyword: str, hits: bool) -> None:
    assert bool(topics_hit(text, keyword)) is hits


def test_terms_are_counted_per_configured_term() -> None:
    assert topics_hit("Tariffs, tariffs and a tariff.", "tariff") == {"tariff": 3}


def test_exclude_term_vetoes_the_topic() -> None:
    assert topics_hit("Taiwan baseball final", "Taiwan", exclude=("baseball",)) == {}


def test_topic_with_no_hits_yields_no_match() -> None:
    assert topics_hit("Cherry blossoms open early in Tokyo.", "Taiwan", "tariff") == {}


def test_longer_phrase_wins_over_its_prefix() -> None:
    assert topics_hit("a rare earth element", "rare earth", "rare earth element") == {
        "rare earth element": 1
    }


def test_snippet_marks_each_hit_within_about_200_characters() -> None:
    text = (
        ("Filler sentence about the weather. " * 20)
        + "A new tariff on cars. "
        + ("More filler about the weather. " * 20)
    )
    compiled = compile_topics([TopicConfig(name="t", keywords=["tariff"], recipients=["a@b.co"])])
    (match,) = match_text("", text, compiled)
    assert len(match.snippet) <= 210
    assert [match.snippet[a:b] for a, b in match.highlights] == ["tariff"]


def test_title_counts_as_text() -> None:
    compiled = compile_topics([TopicConfig(name="t", keywords=["Taiwan"], recipients=["a@b.co"])])
    (match,) = match_text("Taiwan votes", "Polls opened at eight.", compiled)
    assert match.terms == {"Taiwan": 1}


def test_disabled_topic_is_not_matched() -> None:
    compiled = compile_topics(
        [TopicConfig(name="t", keywords=["Taiwan"], recipients=["a@b.co"], enabled=False)]
    )
    assert match_text("", "Taiwan", compiled) == []
