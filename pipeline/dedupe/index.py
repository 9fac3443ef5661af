"""This run's landed articles for near-duplicate search within the run: their signatures and LSH buckets,
kept compact (numpy arrays, not an object per article or per bucket entry), and what is read back only for
a candidate (signatures, each article's band keys) spilled to a temporary file (`pipeline.dedupe.compact`)."""

from __future__ import annotations

from array import array

import numpy as np

from pipeline.dedupe.compact import HexKeys, IdColumn, Spill
from pipeline.dedupe.minhash import Signature


class RunSignatures:
    """The signatures of the articles this run landed, by article id, in uint32 blocks of `BLOCK` rows (a row
    each: 4 bytes a permutation, 512 bytes an article with 128) rather than an object per article.

    Only the newest block is in memory: a full one goes to a temporary file (`Spill`) and its place in
    `minhash` and `shingles` becomes its offset there. A signature is read back only for a candidate that
    shares a band, so what stays in memory is one block and 16 bytes an article (the id's row).
    """

    BLOCK = 4096

    def __init__(self, perms: int) -> None:
        self.perms = perms
        self.rows = HexKeys(16)  # article id -> row
        self.count = 0
        self.minhash: list[np.ndarray | int] = []  # a block, or the offset of a spilled one
        self.shingles: list[np.ndarray | int] = []
        self.spill = Spill()

    def __len__(self) -> int:
        return self.count

    def __contains__(self, article_id: str) -> bool:
        return article_id in self.rows

    def add(self, article_id: str, sig: Signature) -> None:
        block, row = divmod(self.count, self.BLOCK)
        if block == len(self.minhash):
            self.minhash.append(np.empty((self.BLOCK, self.perms), dtype=np.uint32))
            self.shingles.append(np.empty(self.BLOCK, dtype=np.int64))
        self.minhash[block][row], self.shingles[block][row] = sig.minhash, sig.shingles
        self.rows[article_id] = self.count
        self.count += 1
        if row == self.BLOCK - 1:  # full: to the file
            self.minhash[block] = self.spill.append(self.minhash[block].tobytes())
            self.shingles[block] = self.spill.append(self.shingles[block].tobytes())

    def __getitem__(self, article_id: str) -> Signature:
        at = self.rows.get(article_id)
        if at is None:
            raise KeyError(article_id)
        block, row = divmod(at, self.BLOCK)
        minhash, shingles = self.minhash[block], self.shingles[block]
        if isinstance(minhash, np.ndarray):
            return Signature(int(shingles[row]), minhash[row])
        width = 4 * self.perms
        values = np.frombuffer(self.spill.read(minhash + row * width, width), dtype=np.uint32)
        return Signature(
            int(np.frombuffer(self.spill.read(shingles + 8 * row, 8), dtype=np.int64)[0]), values
        )


class RunIndex:
    """This run's LSH buckets (band key -> articles landed in the run), kept compact: 6 bytes an entry.

    A dict of lists costs about 150 bytes an entry, and a run holds `lsh_bands` entries per landed article
    (12.8 million for 200k articles with 64 bands). Entries move through three levels, newest first:

    - a dict of lists (`pending`), until `FLUSH_AT` entries are merged into
    - the young arrays: keys (int64) and article numbers (int32) sorted by key, then article, until `YOUNG_AT`
      entries are merged into
    - the old arrays: the keys' partitions (by their top `PARTITION_BITS`), 64 to a group held in one pair of
      arrays: a 16-bit tag of the key and the article number, sorted by partition, tag, then article (where
      each partition starts in its group is kept beside). Partition and tag are 28 bits of the key:
      a match is a candidate, checked against the article's own keys, which are spilled to a temporary file
      (`Spill`) and read back only then (a tag matching by chance costs one read of 512 bytes, about once
      an article at 200k).

    So the answer is exactly a dict of lists': members come out in the order they were added, key by key.
    Each merge copies no more than one level (or one group): merging into one array of the whole index
    needed twice its memory for a moment, and copying it at every merge made time grow faster than the run.
    Groups rather than an array pair per partition: reallocating 8,192 small arrays at every merge left the
    heap fragmented, about 400 bytes an article at 200k.
    """

    FLUSH_AT = 65_536
    # 3 MB of young arrays at most: a flush copies them, so at 1 << 20 (12 MB) they held 21 MB beside the old
    # arrays for a moment, at 1 << 18 13 MB (40k articles); more, smaller ages cost no measurable time
    YOUNG_AT = 1 << 18
    FILTER_BITS = 1 << 26  # a bit per key hash: 8 MB, about 17% of the bits set at 12.8 million entries
    PARTITION_BITS = 12  # 4096 partitions
    GROUP_BITS = 6  # in 64 groups of 64
    PART_SHIFT = 64 - PARTITION_BITS  # a key's top bits: its partition
    TAG_SHIFT = PART_SHIFT - 16  # the 16 bits below them: its tag
    LOCAL_BITS = PARTITION_BITS - GROUP_BITS  # a partition's number within its group

    def __init__(self) -> None:
        groups, per_group = 1 << self.GROUP_BITS, 1 << self.LOCAL_BITS
        self.tags = [np.empty(0, dtype=np.uint16) for _ in range(groups)]
        self.owners = [np.empty(0, dtype=np.int32) for _ in range(groups)]  # article numbers, rows of `ids`
        self.bounds = [
            [0] * (per_group + 1) for _ in range(groups)
        ]  # where each partition starts in its group
        self.old = 0  # entries in the groups
        # Bit (key mod FILTER_BITS) is set for every key in the arrays: a key whose bit is clear is in none,
        # without a search (most keys are in none; the arrays outgrow the CPU caches, so each binary search
        # costs a few cache misses).
        self.filter = np.zeros(self.FILTER_BITS // 8, dtype=np.uint8)
        self.young_keys = np.empty(0, dtype=np.int64)
        self.young_owners = np.empty(0, dtype=np.int32)
        self.ids = IdColumn()
        self.spill = Spill()  # every article's keys, int64, one after another
        self.starts = array("q", [0])  # article number -> where its keys start in the spill (in keys)
        self.pending: dict[int, list[int]] = {}
        self.pending_entries = 0

    def __len__(self) -> int:
        return self.merged + self.pending_entries

    @property
    def merged(self) -> int:
        """Entries in the arrays (young and old)."""
        return self.old + len(self.young_keys)

    @property
    def keys(self) -> np.ndarray:
        """The merged entries' keys (young) and tags (old), as int64 (a copy: for inspection)."""
        return np.concatenate([self.young_keys, *(t.astype(np.int64) for t in self.tags)])

    @property
    def nbytes(self) -> int:
        """Memory the index holds (arrays, filter, id column); the pending dict not counted."""
        arrays = sum(t.nbytes for t in self.tags) + sum(o.nbytes for o in self.owners)
        arrays += self.young_keys.nbytes + self.young_owners.nbytes + self.filter.nbytes
        return arrays + self.starts.itemsize * len(self.starts) + 8 * len(self.ids)

    def add(self, article_id: str, keys: list[int]) -> None:
        owner = self.ids.append(article_id)
        self.spill.append(np.asarray(keys, dtype=np.int64).tobytes())
        self.starts.append(self.starts[-1] + len(keys))
        for key in keys:
            self.pending.setdefault(key, []).append(owner)
        self.pending_entries += len(keys)
        if self.pending_entries >= self.FLUSH_AT:
            self.flush()

    def keys_of(self, owner: int) -> list[int]:
        """The band keys article number `owner` was added with (read back from the spill)."""
        start, end = self.starts[owner], self.starts[owner + 1]
        return np.frombuffer(self.spill.read(8 * start, 8 * (end - start)), dtype=np.int64).tolist()

    def members(self, keys: list[int]) -> list[str]:
        """Articles sharing at least one of `keys`, each once, in the order a dict of lists would give."""
        old: dict[int, list[int]] = {}
        young: dict[int, tuple[int, int]] = {}  # position in `keys` -> its range in the young arrays
        if self.merged:
            query = np.asarray(keys, dtype=np.int64)
            bits = query & (self.FILTER_BITS - 1)
            maybe = np.flatnonzero((self.filter[bits >> 3] >> (bits & 7).astype(np.uint8)) & 1)
            if self.old:
                old = self._old_members(keys, maybe.tolist())
            if len(self.young_keys) and len(maybe):
                asked = query[maybe]
                lo = np.searchsorted(self.young_keys, asked, side="left")
                hit = self.young_keys[np.minimum(lo, len(self.young_keys) - 1)] == asked
                if hit.any():
                    hi = np.searchsorted(self.young_keys, asked[hit], side="right")
                    young = dict(
                        zip(maybe[hit].tolist(), zip(lo[hit].tolist(), hi.tolist(), strict=True), strict=True)
                    )
        found: dict[int, None] = {}
        for i, key in enumerate(keys):  # per key: old, then young, then pending (article numbers ascending)
            if i in old:
                found.update(dict.fromkeys(old[i]))
            if i in young:
                a, b = young[i]
                found.update(dict.fromkeys(self.young_owners[a:b].tolist()))
            if key in self.pending:
                found.update(dict.fromkeys(self.pending[key]))
        return [self.ids[o] for o in found]

    def _old_members(self, keys: list[int], maybe: list[int]) -> dict[int, list[int]]:
        """Position in `keys` (of those in `maybe`) -> the articles holding that key in the partitions."""
        out: dict[int, list[int]] = {}
        held: dict[int, set[int]] = {}  # article number -> its keys, read once per call
        for i in maybe:
            key = keys[i]
            part = (key >> self.PART_SHIFT) & ((1 << self.PARTITION_BITS) - 1)
            group, local = part >> self.LOCAL_BITS, part & ((1 << self.LOCAL_BITS) - 1)
            start, end = self.bounds[group][local], self.bounds[group][local + 1]
            if start == end:
                continue
            tag = np.uint16((key >> self.TAG_SHIFT) & 0xFFFF)
            tags = self.tags[group][start:end]
            lo = int(tags.searchsorted(tag, side="left"))
            if lo == len(tags) or tags[lo] != tag:
                continue
            hi = int(tags.searchsorted(tag, side="right"))
            owners = []
            for owner in self.owners[group][start + lo : start + hi].tolist():
                if owner not in held:
                    held[owner] = set(self.keys_of(owner))
                if key in held[owner]:
                    owners.append(owner)
            out[i] = owners
        return out

    def flush(self) -> None:
        """Merge the pending entries into the young arrays, after those of equal key (insertion order)."""
        if not self.pending:
            return
        new_keys = np.fromiter((k for k, os in self.pending.items() for _ in os), dtype=np.int64)
        new_owners = np.fromiter((o for os in self.pending.values() for o in os), dtype=np.int32)
        order = np.argsort(new_keys, kind="stable")  # a key's articles stay in the order they came
        new_keys, new_owners = new_keys[order], new_owners[order]
        at = np.searchsorted(self.young_keys, new_keys, side="right")
        self.young_keys = np.insert(self.young_keys, at, new_keys)
        self.young_owners = np.insert(self.young_owners, at, new_owners)
        bits = new_keys & (self.FILTER_BITS - 1)
        np.bitwise_or.at(self.filter, bits >> 3, np.left_shift(1, bits & 7).astype(np.uint8))
        self.pending.clear()
        self.pending_entries = 0
        if len(self.young_keys) >= self.YOUNG_AT:
            self.age()

    def age(self) -> None:
        """Merge the young arrays into the groups, after the entries of equal partition and tag: articles
        added later have higher numbers, so each group stays sorted by partition, tag, then article.

        The young keys are sorted (as signed ints), so each group's (the keys' top bits') are one slice of
        them: a group at a time, the merge needs temporary arrays of one group's entries, not of all young
        ones (sorting them all at once took 20 MB more for a moment, at 1 << 20 of them).
        """
        keys, owners = self.young_keys, self.young_owners
        if not len(keys):
            return
        per_group = 1 << self.LOCAL_BITS
        slices = self._group_slices(keys)
        for group in range(len(self.tags)):
            a, b = slices[group]
            if a == b:
                continue
            group_keys, group_owners = keys[a:b], owners[a:b]
            parts = ((group_keys >> self.PART_SHIFT) & ((1 << self.PARTITION_BITS) - 1)).astype(np.int32)
            tags = ((group_keys >> self.TAG_SHIFT) & 0xFFFF).astype(np.uint16)
            order = np.lexsort((group_owners, tags, parts))  # stable: as the young arrays had them
            tags, group_owners = tags[order], group_owners[order]
            locals_ = parts[order] & (per_group - 1)
            sort_keys = locals_ << 16 | tags  # (partition in the group, tag) as one int
            sizes = np.diff(self.bounds[group])
            held = np.repeat(np.arange(per_group, dtype=np.int32), sizes) << 16 | self.tags[group]
            at = np.searchsorted(held, sort_keys, side="right")
            self.tags[group] = np.insert(self.tags[group], at, tags)
            self.owners[group] = np.insert(self.owners[group], at, group_owners)
            sizes += np.bincount(locals_, minlength=per_group)
            self.bounds[group] = [0, *np.cumsum(sizes).tolist()]
        self.old += len(keys)
        self.young_keys = np.empty(0, dtype=np.int64)
        self.young_owners = np.empty(0, dtype=np.int32)

    def _group_slices(self, keys: np.ndarray) -> list[tuple[int, int]]:
        """Where each group's keys are in `keys` (sorted as signed int64): a group is a range of the unsigned
        top bits, so negative keys hold the upper half of the groups, in order, before the lower half."""
        groups = len(self.tags)
        shift = 64 - self.GROUP_BITS
        lows = [(g << shift) - (1 << 64) if g >= groups // 2 else g << shift for g in range(groups)]
        starts = np.searchsorted(keys, np.array(lows, dtype=np.int64), side="left").tolist()
        ends = [*starts[1 : groups // 2], len(keys), *starts[groups // 2 + 1 :], starts[0]]
        return list(zip(starts, ends, strict=True))
