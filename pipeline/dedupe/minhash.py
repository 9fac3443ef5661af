"""MinHash signatures over word shingles, their LSH band keys, and the similarity of two signatures.

A signature is computed once per article body in the extraction worker (`precompute_signature`) and travels
with the article as bytes (`pack`/`unpack`: the setup it was made with, the shingle count, the signature and
its band keys), so dedupe reuses it in whatever process it runs.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import cache

import numpy as np

from pipeline.models import Article
from pipeline.text import fold

MIN_CONTAINED_SHARE = 0.3  # measured on the dedupe eval set (make eval): below it, containment is noise
_HEAD = struct.Struct("<4I")  # shingle size, permutations, bands, shingle count


@dataclass(frozen=True)
class Signature:
    shingles: int
    minhash: np.ndarray  # uint32, one value per permutation

    def to_bytes(self) -> bytes:
        return self.minhash.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, shingles: int, blob: bytes) -> Signature:
        return cls(shingles, np.frombuffer(blob, dtype="<u4"))


@cache
def _hasher(shingle_size: int, perms: int, bands: int) -> MinHasher:
    return MinHasher(shingle_size, perms, bands)


def precompute_signature(article: Article, setup: tuple[int, int, int]) -> None:
    """The whole body's MinHash signature and band keys, kept on the article for dedupe to reuse.

    Run in the extraction workers, where it is parallel: dedupe compares the body without its site's template
    paragraphs, which only the run knows, but for most articles that is the whole body.
    """
    hasher = _hasher(*setup)
    sig = hasher.signature(article.body)
    article.body_signature = pack(setup, sig, hasher.band_keys(sig))


def pack(setup: tuple[int, int, int], sig: Signature, band_keys: list[int]) -> bytes:
    """A signature and its band keys as bytes, headed by the setup that made them."""
    return (
        _HEAD.pack(*setup, sig.shingles)
        + sig.minhash.astype("<u4").tobytes()
        + np.asarray(band_keys, dtype="<i8").tobytes()
    )


def unpack(blob: bytes) -> tuple[tuple[int, int, int], Signature, list[int]]:
    """`pack`'s inverse: (setup, signature, band keys)."""
    shingle_size, perms, bands, shingles = _HEAD.unpack_from(blob)
    start = _HEAD.size
    minhash = np.frombuffer(blob, dtype="<u4", count=perms, offset=start).astype(np.uint32)
    keys = np.frombuffer(blob, dtype="<i8", count=bands, offset=start + 4 * perms).tolist()
    return (shingle_size, perms, bands), Signature(shingles, minhash), keys


class MinHasher:
    """Word-shingle MinHash signatures and their LSH band keys."""

    def __init__(self, shingle_size: int, perms: int, bands: int):
        from datasketch import MinHash  # imported here: keeps DAG parsing and CLI --help light

        self._minhash = MinHash
        self.shingle_size, self.perms, self.bands = shingle_size, perms, bands
        self.rows = perms // bands
        self._seed_hash = MinHash(num_perm=perms, seed=1)  # permutations are computed once and reused

    def shingles(self, text: str) -> set[bytes]:
        words = fold(text).split()
        n = self.shingle_size
        if len(words) <= n:
            return {" ".join(words).encode()} if words else set()
        return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}

    def signature(self, text: str) -> Signature:
        shingles = self.shingles(text)
        m = self._minhash(
            num_perm=self.perms, seed=1, permutations=self._seed_hash.permutations, scheme="affine32"
        )
        m.update_batch(list(shingles))
        return Signature(len(shingles), m.hashvalues.astype(np.uint32))

    @property
    def setup(self) -> tuple[int, int, int]:
        return self.shingle_size, self.perms, self.bands

    def of(self, article: Article, text: str) -> tuple[Signature, list[int]]:
        """Signature and band keys of `text`, a form of the article's body: the body's are computed once,
        in the extraction worker (`precompute_signature`), and reused here when `text` is the whole body."""
        if article.body_signature is not None and text == article.body:
            setup, sig, keys = unpack(article.body_signature)
            if setup == self.setup:
                return sig, keys
        sig = self.signature(text)
        return sig, self.band_keys(sig)

    def band_keys(self, sig: Signature) -> list[int]:
        """One signed 64-bit key per band: the band's index and values, hashed."""
        keys = []
        values = sig.minhash.astype("<u4")
        for band in range(self.bands):
            chunk = values[band * self.rows : (band + 1) * self.rows].tobytes()
            digest = hashlib.blake2b(band.to_bytes(2, "little") + chunk, digest_size=8).digest()
            keys.append(int.from_bytes(digest, "little", signed=True))
        return keys


def similarity(a: Signature, b: Signature) -> tuple[float, float]:
    """Estimated (Jaccard, containment of the smaller shingle set in the larger).

    Containment is estimated as J·(|A|+|B|)/((1+J)·|A|), which multiplies the MinHash error by about
    |B|/|A|: for a text under `MIN_CONTAINED_SHARE` of the other's size it is noise (shared site boilerplate
    alone could pass), so it is reported as 0 and only Jaccard counts.
    """
    jaccard = float(np.mean(a.minhash == b.minhash))
    small, large = sorted((a.shingles, b.shingles))
    if small == 0 or small < MIN_CONTAINED_SHARE * large:
        return jaccard, 0.0
    # |A∩B| = J·|A∪B| and |A∪B| = (|A|+|B|)/(1+J)
    containment = jaccard * (small + large) / ((1 + jaccard) * small)
    return jaccard, min(containment, 1.0)
