"""English singular and plural forms of a folded word: what a topic's default `stemming: plural`
lets its terms match.

The semantics are those of Lucene's English minimal stemmer (Harman's "S" stemmer): a word
matches itself and its regular plural, nothing else: `court` = "courts", `policy` = "policies",
`tax` = "taxes", `crisis` = "crises", but not "courting", "elected" or "policed" (Snowball
stemming joins those, and each was a false hit on real pages). Possessives need no rule: the
apostrophe is a word boundary, so `court` already matches "court's" and "courts'".

Two words match when they share a singular. The rules work on folded (lower-case, accentless)
ASCII words; other scripts match exactly. A plural of two letters plus "s" counts (`EV` =
"EVs", `PC` = "PCs") unless it is a listed false plural ("its" is not "it"s, "has" not "ha"s);
so do other listed words that only look plural: "news" is not "new"s, "aids" rarely "aid"s, and
`DOE` must not match "does". An "-es" plural needs a stem of three letters, so `US` never
matches "uses".
"""

from __future__ import annotations

from functools import lru_cache

MIN_SINGULAR = 2  # "EVs", "PCs"; NOT_PLURALS lists the short words that only look plural
MIN_ES_STEM = 3  # "uses" is not "us" + "es"
VOWELS = "aeiou"
SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh", "o")  # taxes, churches, wishes, heroes
NOT_PLURALS = frozenset(
    {
        # short words ending in s whose singular would be another word
        "bis",
        "dos",
        "ems",
        "ers",
        "gas",
        "has",
        "his",
        "ifs",
        "ins",
        "its",
        "mis",
        "mrs",
        "ons",
        "res",
        "ups",
        "was",
        "yes",
        # longer words that only look plural
        "aids",
        "does",
        "goes",
        "news",
        "ours",
        "series",
        "species",
        "this",
        "thus",
        "yours",
        "economics",
        "ethics",
        "mathematics",
        "physics",
        "politics",
    }
)


@lru_cache(maxsize=1 << 16)
def singulars(word: str) -> frozenset[str]:
    """The word and each singular it may be the regular plural of."""
    found = {word}
    if not (word.isascii() and word.isalpha()) or word in NOT_PLURALS or not word.endswith("s"):
        return frozenset(found)
    if word.endswith("ies") and len(word) - 3 >= MIN_ES_STEM - 1 and word[-4] not in VOWELS:
        found.add(word[:-3] + "y")  # policies -> policy (but "ties" -> "tie" only)
    if word.endswith("ses") and len(word) - 3 >= MIN_ES_STEM:
        found.add(word[:-2] + "is")  # crises -> crisis, analyses -> analysis
    if (
        word.endswith("es")
        and len(word) - 2 >= MIN_ES_STEM
        and word[:-2].endswith(SIBILANT_ENDINGS)
    ):
        found.add(word[:-2])  # taxes -> tax, buses -> bus
    if not word.endswith(("ss", "us", "is")) and len(word) - 1 >= MIN_SINGULAR:
        found.add(word[:-1])  # courts -> court, houses -> house
    return frozenset(found)


@lru_cache(maxsize=1 << 12)
def plural_forms(word: str) -> tuple[str, ...]:
    """Every word that shares a singular with `word` (itself first): the spellings a term's
    last word may take in the text."""
    bases = singulars(word)
    candidates = [word]
    for base in sorted(bases):
        candidates.append(base)
        # The term itself ("gas" -> "gases", "bias" -> "biases") and each singular found for it
        # ("tariff" for "tariffs"; not "tariffs" again, which only a junk word would match).
        if base == word or singulars(base) == {base}:
            candidates += _plurals(base)
    return tuple(dict.fromkeys(c for c in candidates if c == word or singulars(c) & bases))


def _plurals(word: str) -> list[str]:
    """The regular English plurals of a singular (both for "-o": photos, heroes)."""
    if word.endswith("is"):
        return [word[:-2] + "es"]
    if word.endswith("o"):
        return [word + "s", word + "es"]
    if word.endswith(SIBILANT_ENDINGS):
        return [word + "es"]
    if word.endswith("y") and word[-2:-1] not in VOWELS:
        return [word[:-1] + "ies"]
    return [word + "s"]
