"""How rare a word is in its language: 7.5 minus its Zipf frequency in wordfreq's lists (shipped in the package).

wordfreq's own lookup keeps a language's list twice (its lists of words by frequency band and a dict of word to
frequency: ~45 MB for English, ~65 MB for German, for the life of the process) and caches up to 100,000 answers
on top. Here a language is two arrays instead: the sorted 64-bit hashes (blake2b) of its words and each one's
band (10 bytes a word, 3.2 MB for English). A word found there is answered from its band (every word of every
list tokenizes to itself, so that is what wordfreq answers too: `tests/test_rarity.py` checks the two agree);
any other goes through wordfreq's tokenizer as `wordfreq.word_frequency` does, with the bands in place of its
dict, and its answer is cached (up to `MISSES_CACHED` words, then cleared). A hash collision makes an unknown
word a known one about once in 10^13 lookups.

Reading a list (gunzip, msgpack, hashing and sorting 300,000 words) costs about half a second a language
(0.41 s English, 0.52 s German), on every run. The arrays are a stable hash's, so the first run writes them to the
user's cache (`cache_dir()`, keyed by the list file) and later runs read them back in milliseconds; a cache that
cannot be written or read back whole is passed over, and the list read as before.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import struct
import tempfile
from array import array
from bisect import bisect_left
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

MISSES_CACHED = 50_000  # a language's words not in its list, with their answers (tokenizing them is the cost)
_NEEDS_TOKENIZER = frozenset({"zh", "ja", "ko"})  # jieba and MeCab: not installed
# a folder for the pipeline's caches, over $XDG_CACHE_HOME/article-pipeline
CACHE_ENV = "ARTICLE_PIPELINE_CACHE"
_MAGIC = b"article-pipeline rarity 1\n"  # a cached table's first bytes: its format; then its word count


def rarity(word: str, language: str | None) -> float:
    """7.5 minus the word's Zipf frequency, at least 0.5; 1.0 (all words equal) for a language wordfreq cannot
    read here.

    Chinese, Japanese and Korean need tokenizers (jieba, MeCab) that are not installed, so their words are
    weighed equally rather than failing the article.
    """
    if language not in weighable_languages():
        return 1.0
    return _table(language).rarity(word)


@cache
def weighable_languages() -> frozenset[str]:
    from wordfreq import available_languages

    return frozenset(available_languages()) - _NEEDS_TOKENIZER


def _zipf(freq: float | None) -> float:
    """`zipf_frequency`'s answer for a word of this frequency (None: not in the list): wordfreq's rounding, to 3
    significant digits and then to 2 decimals of Zipf, over its minimum (Zipf 0)."""
    from wordfreq import freq_to_zipf, zipf_to_freq

    least = zipf_to_freq(0.0)
    if freq is None:
        return round(freq_to_zipf(least), 2)
    freq = max(freq, least)
    return round(freq_to_zipf(round(freq, math.floor(-math.log(freq, 10)) + 3)), 2)


def _rarity_of(zipf: float) -> float:
    return max(0.5, 7.5 - zipf)


def cache_dir() -> Path:
    """Where caches live: `$ARTICLE_PIPELINE_CACHE`, else `$XDG_CACHE_HOME/article-pipeline`, else
    `~/.cache/article-pipeline`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "article-pipeline"


def word_key(word: str) -> int:
    """A word's 64-bit hash, the same in every process (`hash()` of a str is salted per process)."""
    return int.from_bytes(
        hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True
    )


class _Language:
    """One language's list as sorted word hashes and their frequency bands (centibels below 1)."""

    def __init__(self, language: str):
        from wordfreq import available_languages, cB_to_freq

        source = Path(available_languages("best")[language])
        cached = _cache_file(language, source)
        tables = _read_cached(cached) if cached is not None else None
        if tables is None:
            tables = _read_list(language, source)
            if cached is not None:
                _write_cached(cached, *tables)
        self.language = language
        self.hashes, self.bands = tables
        top = max(self.bands, default=0)
        # a word alone in its band: 1 / (1 / f) as wordfreq computes it, rounded as it rounds
        self.band_rarity = [_rarity_of(_zipf(1.0 / (1.0 / cB_to_freq(-b)))) for b in range(top + 1)]
        self.misses: dict[str, float] = {}

    def band(self, token: str) -> int | None:
        h = word_key(token)
        i = bisect_left(self.hashes, h)
        return self.bands[i] if i < len(self.hashes) and self.hashes[i] == h else None

    def rarity(self, word: str) -> float:
        band = self.band(word)
        if band is not None:
            return self.band_rarity[band]
        known = self.misses.get(word)
        if known is None:
            if len(self.misses) >= MISSES_CACHED:
                self.misses.clear()
            known = self.misses[word] = _rarity_of(_zipf(self._frequency(word)))
        return known

    def _frequency(self, word: str) -> float | None:
        """wordfreq's `_word_frequency(word, language)` over the bands (None: a token not in the list)."""
        from wordfreq import cB_to_freq, digit_freq, lossy_tokenize, smash_numbers

        tokens = lossy_tokenize(word, self.language)
        if not tokens:
            return None
        one_over = 0.0
        for token in tokens:  # 1 / f = 1 / f1 + 1 / f2 + ...
            smashed = smash_numbers(token)
            band = self.band(smashed)
            if band is None:
                return None
            freq = cB_to_freq(-band)
            if smashed != token:
                freq *= digit_freq(token)
            one_over += 1.0 / freq
        return 1.0 / one_over


@cache
def _table(language: str) -> _Language:
    return _Language(language)


def _read_list(language: str, source: Path) -> tuple[array, array]:
    """wordfreq's list for `language` as (sorted word hashes, their bands)."""
    import numpy as np
    from wordfreq import read_cBpack

    bands = read_cBpack(str(source))
    if len(bands) > 1 << 16:
        raise ValueError(f"wordfreq's list for {language} has {len(bands)} bands: more than 16 bits")
    words = sum(len(band) for band in bands)
    hashes = np.fromiter((word_key(w) for band in bands for w in band), dtype=np.int64, count=words)
    numbers = np.repeat(np.arange(len(bands), dtype=np.uint16), [len(band) for band in bands])
    del bands
    order = np.argsort(hashes, kind="stable")
    return array("q", hashes[order].tobytes()), array("H", numbers[order].tobytes())


def _cache_file(language: str, source: Path) -> Path | None:
    """The cached table for this list file as it is now (its path, size and time in the key), or None when
    the file cannot be looked at or there is no cache folder."""
    try:
        info = source.stat()
        folder = cache_dir()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to be found
        return None
    key = hashlib.sha256(f"{_MAGIC!r}\x1f{source.resolve()}\x1f{info.st_size}\x1f{info.st_mtime_ns}".encode())
    return folder / "rarity" / f"{language}-{key.hexdigest()[:16]}.bin"


def _read_cached(path: Path) -> tuple[array, array] | None:
    """A cached table, or None when there is none or it is not whole (written by another format, cut short)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + 8
    if not data.startswith(_MAGIC) or len(data) < head:
        return None
    (words,) = struct.unpack_from("<Q", data, len(_MAGIC))
    if len(data) != head + 10 * words:
        return None
    hashes, bands = array("q"), array("H")
    hashes.frombytes(data[head : head + 8 * words])
    bands.frombytes(data[head + 8 * words :])
    return hashes, bands


def _write_cached(path: Path, hashes: array, bands: array) -> None:
    """Write a table for later runs, whole or not at all (a temporary file renamed); a folder that cannot be
    written is passed over."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_MAGIC + struct.pack("<Q", len(hashes)))
                out.write(hashes.tobytes())
                out.write(bands.tobytes())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("rarity table for %s not cached: %s", path.name, exc)
