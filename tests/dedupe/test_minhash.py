"""The MinHash signatures stay the ones the databases already hold (datasketch 2.0's, which computed them before)."""

import hashlib

import numpy as np

from pipeline.dedupe.minhash import MinHasher, similarity

SEED_000 = "seeds/000_527c1e9419822988.txt"

# (text, shingles, sha256 of the signature's bytes, first four values): computed with datasketch 2.0.0's
# MinHash(num_perm=128, seed=1) over the same shingles, before the project computed them itself.
GOLDEN = [
    ("", 0, "9f56cda75fefeab9", [4294967295] * 4),
    ("one two", 1, "c402f4396e92e428", [2443747032, 589458269, 331383149, 2089365926]),
    (
        "The quick brown fox jumps over the lazy dog near the river bank today.",
        10,
        "921ea55baa74d2d2",
        [525945524, 308070412, 607579761, 515962279],
    ),
    (
        "中居正広氏は 東京で 会見した " * 3,
        3,
        "f15dc345c9ece5c7",
        [103136332, 93851937, 620148633, 1915049282],
    ),
]


def _digest(text: str, hasher: MinHasher) -> tuple[int, str, list[int]]:
    sig = hasher.signature(text)
    return sig.shingles, hashlib.sha256(sig.to_bytes()).hexdigest()[:16], sig.minhash[:4].tolist()


def test_signatures_are_the_ones_stored_by_earlier_versions():
    hasher = MinHasher(5, 128, 64)
    for text, *expected in GOLDEN:
        assert _digest(text, hasher) == tuple(expected), text
    with open(SEED_000, encoding="utf-8") as f:
        seed = f.read()
    assert _digest(seed, hasher) == (333, "0237bde14292b4b1", [33560140, 14661666, 20602416, 42954792])


def test_shingles_are_runs_of_words_of_the_folded_text():
    hasher = MinHasher(3, 8, 4)
    assert hasher.shingles("  ") == set()
    assert hasher.shingles("One, two!") == {b"one two"}
    assert hasher.shingles("a b c") == {b"a b c"}
    assert hasher.shingles("A b  c d. A b c") == {b"a b c", b"b c d", b"c d a", b"d a b"}
    assert hasher.shingles("Zoë  sagt: ja, ja") == {"zoë sagt ja".encode(), b"sagt ja ja"}


def test_a_text_longer_than_one_block_is_hashed_whole():
    hasher = MinHasher(1, 16, 8)
    words = [f"w{n}" for n in range(1000)]
    whole = hasher.signature(" ".join(words))
    parts = [hasher.signature(" ".join(words[i : i + 100])) for i in range(0, 1000, 100)]
    assert whole.shingles == 1000
    assert np.array_equal(whole.minhash, np.minimum.reduce([p.minhash for p in parts]))
    assert similarity(whole, hasher.signature(" ".join(reversed(words))))[0] == 1.0
