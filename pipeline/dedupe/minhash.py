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
_EMPTY = np.uint32(0xFFFFFFFF)  # an empty text's value for every permutation
_BLOCK = 256  # shingles hashed at once per permutation block


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


def _permutations(perms: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutations' (a, b), odd a: datasketch's, drawn from numpy's RandomState(seed) as it does."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, perms, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, perms, dtype=np.uint32)
    return a, b


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, element-wise (uint32 products wrap: the modulo 2^32 it needs)."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


class MinHasher:
    """Word-shingle MinHash signatures and their LSH band keys.

    The signatures are datasketch 2.0's `MinHash(num_perm=perms, seed=1)` ("affine32": SHA-1's first 32 bits of
    each shingle, mixed by MurmurHash3's finalizer, then `a * h + b` mod 2^32 per permutation), bit for bit, so
    the signatures a database already holds stay comparable; computed here with numpy alone, because importing
    datasketch imports scipy (0.6 s and tens of MB in each process that computes one).
    """

    def __init__(self, shingle_size: int, perms: int, bands: int):
        self.shingle_size, self.perms, self.bands = shingle_size, perms, bands
        self.rows = perms // bands
        self._a, self._b = _permutations(perms, seed=1)

    def shingles(self, text: str) -> set[bytes]:
        """The folded text's runs of `shingle_size` words, as UTF-8 (the whole text when it is shorter)."""
        folded = fold(text).encode()  # words joined by single spaces: a shingle is a slice of it
        if not folded:
            return set()
        spaces = np.flatnonzero(np.frombuffer(folded, dtype=np.uint8) == 32)
        n = self.shingle_size
        if len(spaces) < n:
            return {folded}
        starts = np.concatenate(([0], spaces + 1))[: len(spaces) + 2 - n].tolist()
        ends = np.concatenate((spaces, [len(folded)]))[n - 1 :].tolist()
        return set(map(folded.__getitem__, map(slice, starts, ends)))

    def signature(self, text: str) -> Signature:
        shingles = self.shingles(text)
        lowest = np.full(self.perms, _EMPTY, dtype=np.uint32)
        if shingles:
            digests = b"".join(hashlib.sha1(shingle).digest()[:4] for shingle in shingles)
            hashed = _fmix32(np.frombuffer(digests, dtype="<u4").astype(np.uint32)).reshape(-1, 1)
            # in blocks of rows that stay in the CPU's cache: 2.6x faster than one (shingles x perms) array
            block = np.empty((min(len(hashed), _BLOCK), self.perms), dtype=np.uint32)
            for start in range(0, len(hashed), _BLOCK):
                chunk = hashed[start : start + _BLOCK]
                rows = block[: len(chunk)]
                np.multiply(chunk, self._a, out=rows)
                np.add(rows, self._b, out=rows)
                np.minimum(lowest, rows.min(axis=0), out=lowest)
        return Signature(len(shingles), lowest)

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
