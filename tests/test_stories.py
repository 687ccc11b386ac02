import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from newswatch import sample_day
from newswatch.minhash import jaccard
from newswatch.stories import StoryIndex, from_bytes, same_headline, shingles, signature, to_bytes

WIRE = (
    "TOKYO – Japan has sounded out the United States about the possibility of a visit by Prime "
    "Minister Sanae Takaichi in the latter half of March for a summit with President Donald Trump, "
    "a government source said Wednesday, as Tokyo looks to reaffirm its alliance with Washington "
    "amid tensions with Beijing. The first U.S. trip as prime minister could allow Takaichi to "
    "exchange views with Trump and align positions ahead of his expected April visit to China."
)


def index_with(text: str, story_id: int = 1) -> StoryIndex:
    index = StoryIndex(threshold=0.8)
    index.add("a", story_id, signature(text))
    return index


def test_syndicated_copy_with_different_boilerplate_joins_the_story() -> None:
    copy = "(Kyodo) " + WIRE + " Copyright Kyodo News."
    assert index_with(WIRE).find(signature(copy)) == 1


def test_a_different_story_starts_a_new_one() -> None:
    other = "China tightens export controls on rare earth magnets, the commerce ministry said on Tuesday."
    assert index_with(WIRE).find(signature(other)) is None


def test_light_rewrite_joins_but_a_heavy_one_does_not() -> None:
    light = WIRE.replace("said Wednesday", "said on Wednesday")
    heavy = (
        " ".join(WIRE.split()[: len(WIRE.split()) // 2])
        + " Analysts expect little from the meeting."
    )
    index = index_with(WIRE)
    assert index.find(signature(light)) == 1
    assert index.find(signature(heavy)) is None


def test_cjk_text_is_shingled_by_characters() -> None:
    text = "日本政府は台湾有事に関する首相の発言をめぐり中国との対話を続ける方針を示した"
    assert all(len(s) == 5 for s in shingles(text))
    assert index_with(text).find(signature(text + "。")) == 1


def test_signatures_survive_the_database_round_trip() -> None:
    minhash = signature(WIRE)
    assert jaccard(from_bytes(to_bytes(minhash)), minhash) == 1.0


def test_most_similar_story_wins() -> None:
    index = StoryIndex(threshold=0.5)
    index.add("a", 1, signature(WIRE))
    index.add("b", 2, signature(WIRE + " Extra closing sentence about the yen and stocks today."))
    assert index.find(signature(WIRE)) == 1


def test_sample_day_pages_are_distinct_stories() -> None:
    texts = [sample_day.page(name) for name in sorted(sample_day.pages())]
    index = StoryIndex()
    for i, text in enumerate(texts):
        assert index.find(signature(text)) is None
        index.add(str(i), i, signature(text))


def test_headlines_compare_by_content_words_and_by_characters_in_japanese() -> None:
    title = "Japan sounds out U.S. on Takaichi visit in late March for Trump summit"
    assert same_headline(title, "Japan sounds out U.S. on Takaichi visit for Trump summit (via X)")
    assert not same_headline("Alpha: Taiwan election result", "Beta: Taiwan typhoon damage")
    # Japanese is not spaced: one changed particle must not make a copy another article.
    assert same_headline("高市首相、3月下旬の訪米を調整", "高市首相が3月下旬の訪米を調整")
    assert not same_headline("高市首相、3月下旬の訪米を調整", "台湾のパイナップル農家、豊作を期待")


@given(
    st.lists(st.sampled_from(["taiwan", "tariffs", "Rare", "earth", "Straße", "a1"]), max_size=12)
)
def test_shingles_are_the_texts_word_four_grams(words: list[str]) -> None:
    """Signatures stored by earlier versions compare with new ones only if shingling stays
    the same: every run of four consecutive (folded) words, or the whole text when shorter."""
    folded = [unicodedata.normalize("NFKC", w).casefold() for w in words]
    grams = {" ".join(folded[i : i + 4]) for i in range(len(folded) - 3)}
    short = {" ".join(folded)} if folded else set()
    assert shingles(" ".join(words)) == (grams if len(folded) >= 4 else short)
