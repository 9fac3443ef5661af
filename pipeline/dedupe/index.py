"""This run's landed articles for near-duplicate search within the run: their signatures and LSH buckets,
kept compact (numpy arrays, not an object per article or per bucket entry)."""

from __future__ import annotations

import numpy as np

from pipeline.dedupe.minhash import Signature


class RunSignatures:
    """The signatures of the articles this run landed, in uint32 blocks of `BLOCK` rows (a row each: 4 bytes a
    permutation, 512 bytes an article with 128) rather than an object per article. Blocks, not one matrix
    that doubles: growing never copies, and at most one block stands empty."""

    BLOCK = 4096

    def __init__(self, perms: int) -> None:
        self.perms = perms
        self.rows: dict[str, int] = {}
        self.minhash: list[np.ndarray] = []
        self.shingles: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, article_id: str, sig: Signature) -> None:
        block, row = divmod(len(self.rows), self.BLOCK)
        if block == len(self.minhash):
            self.minhash.append(np.empty((self.BLOCK, self.perms), dtype=np.uint32))
            self.shingles.append(np.empty(self.BLOCK, dtype=np.int64))
        self.minhash[block][row], self.shingles[block][row] = sig.minhash, sig.shingles
        self.rows[article_id] = len(self.rows)

    def __getitem__(self, article_id: str) -> Signature:
        block, row = divmod(self.rows[article_id], self.BLOCK)
        return Signature(int(self.shingles[block][row]), self.minhash[block][row])


class RunIndex:
    """This run's LSH buckets (band key -> articles landed in the run), kept compact.

    A dict of lists costs about 150 bytes an entry, and a run holds `lsh_bands` entries per landed article
    (6.4 million for 100k articles with 64 bands). Here the entries live in two sorted numpy arrays (12 bytes
    an entry), with the newest in a small dict until `FLUSH_AT` of them are merged in. Members come out in the
    order they were added, key by key, as a dict of lists would give them.
    """

    FLUSH_AT = 65_536
    FILTER_BITS = 1 << 26  # a bit per key hash: 8 MB, about 10% of the bits set at 6.4 million entries

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.owners = np.empty(0, dtype=np.int32)  # index into `ids`
        # Bit (key mod FILTER_BITS) is set for every key in the arrays: a key whose bit is clear is in no
        # bucket, without a binary search through the arrays (most keys are in none; the arrays outgrow the
        # CPU caches, so each search costs a few cache misses).
        self.filter = np.zeros(self.FILTER_BITS // 8, dtype=np.uint8)
        self.ids: list[str] = []
        self.pending: dict[int, list[int]] = {}
        self.pending_entries = 0

    def __len__(self) -> int:
        return len(self.keys) + self.pending_entries

    def add(self, article_id: str, keys: list[int]) -> None:
        owner = len(self.ids)
        self.ids.append(article_id)
        for key in keys:
            self.pending.setdefault(key, []).append(owner)
        self.pending_entries += len(keys)
        if self.pending_entries >= self.FLUSH_AT:
            self.flush()

    def members(self, keys: list[int]) -> list[str]:
        """Articles sharing at least one of `keys`, each once, in the order a dict of lists would give."""
        found: dict[int, None] = {}
        ranges: dict[int, tuple[int, int]] = {}
        if len(self.keys):
            # Keys passing the filter get one binary search each, and a second only for the keys found.
            query = np.asarray(keys, dtype=np.int64)
            bits = query & (self.FILTER_BITS - 1)
            maybe = np.flatnonzero((self.filter[bits >> 3] >> (bits & 7).astype(np.uint8)) & 1)
            lo = np.searchsorted(self.keys, query[maybe], side="left")
            found_at = self.keys[np.minimum(lo, len(self.keys) - 1)] == query[maybe]
            hit, lo = maybe[found_at], lo[found_at]
            if len(hit):
                hi = np.searchsorted(self.keys, query[hit], side="right")
                ranges = dict(zip(hit.tolist(), zip(lo.tolist(), hi.tolist(), strict=True), strict=True))
        for i, key in enumerate(keys):
            if i in ranges:
                a, b = ranges[i]
                found.update(dict.fromkeys(self.owners[a:b].tolist()))
            if key in self.pending:
                found.update(dict.fromkeys(self.pending[key]))
        return [self.ids[o] for o in found]

    def flush(self) -> None:
        """Merge the pending entries into the sorted arrays (after those of equal key: insertion order kept)."""
        if not self.pending:
            return
        new_keys = np.fromiter((k for k, os in self.pending.items() for _ in os), dtype=np.int64)
        new_owners = np.fromiter((o for os in self.pending.values() for o in os), dtype=np.int32)
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_owners = new_keys[order], new_owners[order]
        at = np.searchsorted(self.keys, new_keys, side="right")
        self.keys = np.insert(self.keys, at, new_keys)
        self.owners = np.insert(self.owners, at, new_owners)
        bits = new_keys & (self.FILTER_BITS - 1)
        np.bitwise_or.at(self.filter, bits >> 3, np.left_shift(1, bits & 7).astype(np.uint8))
        self.pending.clear()
        self.pending_entries = 0
