"""How topic terms match, pinned row by row: (query, stemming, text, the words it hits).

Each row names the exact substrings a topic hits (in body order), so a row says not just
"hits" but "hits on 'courts'"; [] means no match. The text is a string, or (title, text) for
rows about the title: and text: fields. config/README.md "How terms match" explains the rules.
"""

from typing import get_args

import pytest

from newswatch.query import parse_query
from newswatch.records import Stemming, TopicRule
from newswatch.topics import compile_topics, match_text

MIN_ROWS = 70  # the table must not shrink unnoticed

Text = str | tuple[str, str]  # the text, or (title, text)

GOLDEN: list[tuple[str, Stemming, Text, list[str]]] = [
    # stemming: plural (the default): the last word matches its singular and regular plurals
    ("court", "plural", "The courts ruled", ["courts"]),
    ("courts", "plural", "the court ruled", ["court"]),
    ("policy", "plural", "new policies on trade", ["policies"]),
    ("policies", "plural", "a policy shift", ["policy"]),
    ("tax", "plural", "taxes rose", ["taxes"]),
    ("church", "plural", "churches closed", ["churches"]),
    ("bus", "plural", "buses stopped", ["buses"]),
    ("crisis", "plural", "two crises at once", ["crises"]),
    ("crises", "plural", "the crisis deepened", ["crisis"]),
    ("analysis", "plural", "new analyses show", ["analyses"]),
    ("photo", "plural", "photos of the flood", ["photos"]),
    ("hero", "plural", "local heroes honoured", ["heroes"]),
    ("company", "plural", "tech companies", ["companies"]),
    ("EV", "plural", "sales of EVs rose", ["EVs"]),
    ("tariff", "plural", "New TARIFFS on steel", ["TARIFFS"]),
    ("court", "plural", "one court, two courts", ["court", "courts"]),
    ('"greenhouse gas"', "plural", "greenhouse gases rose", ["greenhouse gases"]),
    ("bias", "plural", "hidden biases", ["biases"]),
    ("lens", "plural", "two lenses", ["lenses"]),
    # possessives: the apostrophe (straight or curly) is a word boundary
    ("court", "plural", "the court's ruling", ["court"]),
    ("court", "plural", "the courts' rulings", ["courts"]),
    ("court", "plural", "the court\u2019s ruling", ["court"]),
    # plural is not stemming: other forms and look-alike plurals do not match
    ("election", "plural", "she was elected", []),
    ("election", "plural", "voters elect a mayor", []),
    ("court", "plural", "courting voters", []),
    ("court", "plural", "he courted her", []),
    ("police", "plural", "the area was policed", []),
    ("policy", "plural", "the police came", []),
    ("new", "plural", "the news today", []),
    ("it", "plural", "its shares fell", []),
    ("US", "plural", "she uses it", []),
    ("DOE", "plural", "what does it do", []),
    ("aid", "plural", "AIDS research", []),
    ("aid", "plural", "aid flows resumed", ["aid"]),
    # phrases: only the last word takes plural forms; words before it match exactly
    ('"rare earth"', "plural", "rare earths prices", ["rare earths"]),
    ('"rare earths"', "plural", "a rare earth mine", ["rare earth"]),
    ('"rare earth"', "plural", "rares earth", []),
    # stemming: none: exact words only (the apostrophe is still a boundary)
    ("court", "none", "the courts ruled", []),
    ("courts", "none", "the court ruled", []),
    ("court", "none", "the court ruled", ["court"]),
    ("court", "none", "the court's ruling", ["court"]),
    # stemming: full: English Snowball joins other forms of a word
    ("election", "full", "she was elected", ["elected"]),
    ("court", "full", "courting voters", ["courting"]),
    ("court", "full", "the courts ruled", ["courts"]),
    ("spending", "full", "they spend more", ["spend"]),
    ("policies", "full", "one policy", ["policy"]),
    ("companies", "full", "a company and two companies", ["company", "companies"]),
    # prefixes: a trailing * lets the last word continue; without it, whole words
    ("tariff*", "plural", "new tariffs", ["tariffs"]),
    ("tariff*", "plural", "tariffed goods", ["tariffed"]),
    ("tariff*", "plural", "a tariff", ["tariff"]),
    ("Taiwan*", "plural", "Taiwanese growers", ["Taiwanese"]),
    ("Taiwan", "plural", "Taiwanese growers", []),
    ("apple", "plural", "pineapple farmers", []),
    ("apple", "plural", "apple farmers", ["apple"]),
    ("apple", "plural", "apples and pears", ["apples"]),
    # case and accents fold on both sides
    ("taiwan", "plural", "TAIWAN votes", ["TAIWAN"]),
    ("taiwan", "plural", "ＴＡＩＷＡＮ votes", ["ＴＡＩＷＡＮ"]),
    ("resume", "plural", "Un résumé des faits", ["résumé"]),
    ("résumé", "plural", "a resume of events", ["resume"]),
    ("Istanbul", "plural", "İSTANBUL'da toplantı", ["İSTANBUL"]),
    ("Diyarbakir", "plural", "Diyarbakır valiliği", ["Diyarbakır"]),
    ("strasse", "plural", "Die Straße ist gesperrt", ["Straße"]),
    ("Straße", "plural", "Die Strasse ist gesperrt", ["Strasse"]),
    # gaps between words: space, hyphen, dash, line breaks, or nothing; not punctuation
    ('"rare earth"', "plural", "rare-earth magnets", ["rare-earth"]),
    ('"rare earth"', "plural", "rare – earth magnets", ["rare – earth"]),
    ('"rare earth"', "plural", "rare\nearth magnets", ["rare\nearth"]),
    ('"rare earth"', "plural", "rare\n\nearth magnets", ["rare\n\nearth"]),
    ('"rare earth"', "plural", "rareearth magnets", ["rareearth"]),
    ('"rare earth"', "plural", "rare.earth magnets", []),
    # CJK: terms match inside runs of CJK text, kana voicing counts, no plural forms
    ("台湾", "plural", "台湾海峡の緊張", ["台湾"]),
    ("関税", "plural", "日本の関税", ["関税"]),
    ("カス", "plural", "ガス価格", []),
    ("カス", "plural", "カスの山", ["カス"]),
    ("関税", "full", "日本の関税", ["関税"]),
    # other scripts: case and accents fold, but no English plural rules
    ("Москва", "plural", "Москва сегодня", ["Москва"]),
    ("Москва", "plural", "МОСКВА сегодня", ["МОСКВА"]),
    ("Москва", "plural", "около Москвы", []),
    ("Αθήνα", "plural", "ΑΘΗΝΑ σήμερα", ["ΑΘΗΝΑ"]),
    ("Αθήνα", "plural", "της Αθήνας", []),
    # overlapping terms: the longest counts
    (
        '"rare earth" OR "rare earth element"',
        "plural",
        "rare earth elements",
        ["rare earth elements"],
    ),
    # boolean operators, proximity and fields
    ("tariff AND steel", "plural", "steel tariffs", ["steel", "tariffs"]),
    ("tariff AND NOT steel", "plural", "steel tariffs", []),
    ("tariff AND NOT steel", "plural", "tariffs on cars", ["tariffs"]),
    ("tariff OR quota", "plural", "import quotas", ["quotas"]),
    ('"rare earth supply"~1', "plural", "supply of rare earths", ["supply", "rare", "earths"]),
    ('"rare earth supply"~0', "plural", "supply of rare earths", []),
    ("title:tariff", "plural", ("Tariffs rise", "steel news"), ["Tariffs"]),
    ("title:tariff", "plural", ("Steel news", "tariffs rise"), []),
    ("text:tariff", "plural", ("Tariffs rise", "steel news"), []),
    ("text:tariff", "plural", ("Steel news", "tariffs rise"), ["tariffs"]),
]


def row_id(row: tuple[str, Stemming, Text, list[str]]) -> str:
    query, stemming, text, expected = row
    shown = " | ".join(text) if isinstance(text, tuple) else text
    return f"{query} [{stemming}] in {shown!r} -> {expected or 'no match'}"


def hit_words(query: str, stemming: Stemming, text: Text) -> list[str]:
    """The substrings the topic hits, in body order; [] when it does not match."""
    title, body_text = text if isinstance(text, tuple) else ("", text)
    matcher = compile_topics([TopicRule(name="t", query=query, stemming=stemming)])
    matches = match_text(title, body_text, matcher)
    if not matches:
        return []
    body = f"{title}\n\n{body_text}" if title else body_text
    spans = sorted(span for spans in matches[0].offsets.values() for span in spans)
    return [body[start:end] for start, end in spans]


@pytest.mark.parametrize(("query", "stemming", "text", "expected"), GOLDEN, ids=map(row_id, GOLDEN))
def test_term_hits_exactly_these_words(
    query: str, stemming: Stemming, text: Text, expected: list[str]
) -> None:
    assert hit_words(query, stemming, text) == expected


def test_golden_table_is_valid_and_does_not_shrink() -> None:
    assert len(GOLDEN) >= MIN_ROWS
    for query, stemming, _, _ in GOLDEN:
        parse_query(query)  # raises QueryError naming the problem
        assert stemming in get_args(Stemming)
