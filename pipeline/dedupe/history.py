"""The landed history's answers to dedupe's questions, asked in bulk a chunk of articles at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pipeline.store.history import History


class _Lookup:
    """A bulk query memoised per key: `prefetch` asks for many keys at once, `get` for one (a miss queries)."""

    def __init__(self, fetch: Callable[[list], dict]):
        self.fetch = fetch
        self.values: dict = {}
        self.asked: set = set()

    def prefetch(self, keys: Iterable) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in self.asked]
        if missing:
            self.values.update(self.fetch(missing))
            self.asked.update(missing)

    def get(self, key):
        self.prefetch((key,))
        return self.values.get(key)


class HistoryCache:
    """The landed history's answers to dedupe's questions, fetched a chunk of articles at a time.

    History does not change during a run (the load comes after), so a bulk answer is the one a query per
    article would give. `clear` drops the answers between chunks: memory stays bounded by the chunk.
    """

    def __init__(self, store: History):
        self.store = store
        self.queries = 0
        self.clear()

    def clear(self) -> None:
        self.landed = _Lookup(self._counted(self.store.landed_hashes))
        self.first_by_hash = _Lookup(self._counted(self.store.ids_for_hashes))
        self.known = _Lookup(self._counted(self._known_by_uri))
        self.paragraphs = _Lookup(self._counted(self.store.paragraph_counts))
        self.bands = _Lookup(self._counted(self.store.band_members))
        self.signatures = _Lookup(self._counted(self.store.signatures))

    def _counted(self, fetch):
        def counted(keys):
            self.queries += 1
            return fetch(keys)

        return counted

    def _known_by_uri(self, uris: list[str]) -> dict[str, dict[str, str]]:
        by_uri: dict[str, dict[str, str]] = {}
        for (uri, chash), original in self.store.known_duplicates(uris).items():
            by_uri.setdefault(uri, {})[chash] = original
        return by_uri

    def landed_hash(self, article_id: str) -> str | None:
        return self.landed.get(article_id)

    def id_for_hash(self, content_hash: str) -> str | None:
        return self.first_by_hash.get(content_hash)

    def known_duplicate(self, source_uri: str, content_hash: str) -> str | None:
        return (self.known.get(source_uri) or {}).get(content_hash)

    def paragraph_counts(self, host: str, keys: list[int]) -> dict[int, int]:
        pairs = [(host, k) for k in keys]
        self.paragraphs.prefetch(pairs)
        return {k: n for (h, k) in pairs if (n := self.paragraphs.values.get((h, k))) is not None}

    def near_candidates(self, band_keys: list[int]) -> list[tuple[str, int, bytes]]:
        """Landed articles sharing at least one LSH band: (article_id, shingles, minhash)."""
        self.bands.prefetch(band_keys)
        ids = list(dict.fromkeys(aid for key in band_keys for aid in self.bands.values.get(key, ())))
        self.signatures.prefetch(ids)
        return [(aid, *self.signatures.values[aid]) for aid in ids if aid in self.signatures.values]
