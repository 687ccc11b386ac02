"""Our numpy MinHash and LSH give datasketch's numbers: signatures stored by earlier versions
still compare, and stories cluster as they did."""

from __future__ import annotations

import random

import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param
from hypothesis import given
from hypothesis import strategies as st

from newswatch import minhash, stories


def datasketch_signature(shingles: set[str]) -> MinHash:
    theirs = MinHash(num_perm=minhash.NUM_PERM, scheme="affine32")
    theirs.update_batch([s.encode() for s in shingles])
    return theirs


@given(st.sets(st.text(max_size=40), max_size=60))
def test_signatures_are_datasketchs_bit_for_bit(shingles: set[str]) -> None:
    ours = minhash.signature(shingles)
    theirs = datasketch_signature(shingles)
    assert minhash.to_bytes(ours) == theirs.hashvalues.astype("<u4").tobytes()
    assert (minhash.from_bytes(minhash.to_bytes(ours)) == ours).all()


def test_similar_texts_estimate_as_datasketch_does() -> None:
    rng = random.Random(5)
    words = [f"w{rng.randrange(3000)}" for _ in range(600)]
    edited = list(words)
    for i in rng.sample(range(600), 40):
        edited[i] = "changed"
    one, other = " ".join(words), " ".join(edited)
    ours = minhash.jaccard(stories.signature(one), stories.signature(other))
    theirs = datasketch_signature(stories.shingles(one)).jaccard(
        datasketch_signature(stories.shingles(other))
    )
    assert ours == pytest.approx(theirs, abs=0) and 0.5 < ours < 0.9


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
def test_bands_are_the_ones_datasketch_picks(threshold: float) -> None:
    assert minhash.bands(threshold) == _optimal_param(threshold, minhash.NUM_PERM, 0.5, 0.5)


def test_lsh_candidates_are_datasketchs() -> None:
    rng = random.Random(11)
    base = [f"s{rng.randrange(10_000)}" for _ in range(200)]
    sets = {}
    for n in range(60):  # variants of one text at every degree of overlap, and strangers
        keep = rng.randrange(0, 201)
        sets[f"k{n}"] = set(base[:keep]) | {f"x{n}-{i}" for i in range(200 - keep)}
    ours, theirs = minhash.LshIndex(0.8), MinHashLSH(threshold=0.8, num_perm=minhash.NUM_PERM)
    for key, shingles in sets.items():
        ours.insert(key, minhash.signature(shingles))
        theirs.insert(key, datasketch_signature(shingles))
    for shingles in list(sets.values())[:20]:
        query = minhash.signature(shingles)
        assert ours.query(query) == set(theirs.query(datasketch_signature(shingles)))


def test_no_shingles_give_the_empty_signature() -> None:
    empty = minhash.signature([])
    assert (empty == minhash.EMPTY).all() and minhash.jaccard(empty, empty) == 1.0
