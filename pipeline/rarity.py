"""How rare a word is in its language: 7.5 minus its Zipf frequency in wordfreq's lists (shipped in the package).

wordfreq's own lookup keeps a language's list twice (its lists of words by frequency band and a dict of word to
frequency: ~45 MB for English, ~65 MB for German, for the life of the process) and caches up to 100,000 answers
on top. Here a language is two arrays instead: the sorted hashes of its words and each one's band (10 bytes a
word, 3.2 MB for English), read once from the same file. A word found there is answered from its band (every
word of every list tokenizes to itself, so that is what wordfreq answers too: `tests/test_rarity.py` checks the
two agree); any other goes through wordfreq's tokenizer as `wordfreq.word_frequency` does, with the bands in
place of its dict, and its answer is cached (up to `MISSES_CACHED` words, then cleared). A hash collision makes
an unknown word a known one about once in 10^13 lookups.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from functools import cache

MISSES_CACHED = 50_000  # a language's words not in its list, with their answers (tokenizing them is the cost)
_NEEDS_TOKENIZER = frozenset({"zh", "ja", "ko"})  # jieba and MeCab: not installed


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


class _Language:
    """One language's list as sorted word hashes and their frequency bands (centibels below 1)."""

    def __init__(self, language: str):
        import numpy as np
        from wordfreq import available_languages, cB_to_freq, read_cBpack

        bands = read_cBpack(available_languages("best")[language])
        if len(bands) > 1 << 16:
            raise ValueError(f"wordfreq's list for {language} has {len(bands)} bands: more than 16 bits")
        words = sum(len(band) for band in bands)
        hashes = np.fromiter((hash(w) for band in bands for w in band), dtype=np.int64, count=words)
        numbers = np.repeat(np.arange(len(bands), dtype=np.uint16), [len(band) for band in bands])
        del bands
        order = np.argsort(hashes, kind="stable")
        self.language = language
        self.hashes = array("q", hashes[order].tobytes())
        self.bands = array("H", numbers[order].tobytes())
        top = max(self.bands, default=0)
        # a word alone in its band: 1 / (1 / f) as wordfreq computes it, rounded as it rounds
        self.band_rarity = [_rarity_of(_zipf(1.0 / (1.0 / cB_to_freq(-b)))) for b in range(top + 1)]
        self.misses: dict[str, float] = {}

    def band(self, token: str) -> int | None:
        h = hash(token)
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
