"""A word's rarity from compact tables: the answers wordfreq gives, without its dict of the whole language."""

from __future__ import annotations

import pytest
import wordfreq

from pipeline import rarity as rarity_module
from pipeline.rarity import rarity, weighable_languages

WORDS = {
    "en": [
        "the", "williams", "jamal", "earthquake", "zelensky", "don't", "don’t", "state-of-the-art", "covid-19",
        "2024", "3.5", "1,200", "u.s", "qwzxv", "a", "", "Paris", "naïve", "e-mail", "o'brien",
    ],
    "de": ["der", "straße", "über", "bundestag", "abgeordneten", "grüße", "xqzvw", "1990er"],
    "ru": ["москва", "и", "президент", "путин", "ёлка"],
    "ar": ["في", "الرئيس", "القاهرة"],
    "fr": ["l'assemblée", "aujourd'hui", "élysée", "qu’il"],
}  # fmt: skip


@pytest.mark.parametrize("language", sorted(WORDS))
def test_rarity_is_what_wordfreq_answers(language):
    for word in WORDS[language]:
        expected = max(0.5, 7.5 - wordfreq.zipf_frequency(word, language))
        assert rarity(word, language) == expected, word


def test_a_language_is_read_into_arrays_not_into_wordfreqs_dict():
    wordfreq.get_frequency_dict.cache_clear()
    wordfreq.get_frequency_list.cache_clear()
    rarity("parliament", "it")
    rarity("parlamento-europeo", "it")  # not in the list as such: tokenized, its parts looked up
    assert wordfreq.get_frequency_dict.cache_info().currsize == 0
    assert wordfreq.get_frequency_list.cache_info().currsize == 0
    table = rarity_module._table("it")
    words = sum(len(band) for band in wordfreq.read_cBpack(wordfreq.available_languages()["it"]))
    assert len(table.hashes) == len(table.bands) == words
    assert list(table.hashes) == sorted(table.hashes)


def test_words_not_in_the_list_are_cached_up_to_a_bound(monkeypatch):
    monkeypatch.setattr(rarity_module, "MISSES_CACHED", 10)
    table = rarity_module._table("es")
    table.misses.clear()
    for n in range(25):
        assert rarity(f"zzq{n}xv", "es") == 7.5  # unknown: Zipf 0
    assert 0 < len(table.misses) <= 10
    rarity("el", "es")  # a word of the list is answered from its band, not cached
    assert "el" not in table.misses


def test_languages_without_a_tokenizer_here_weigh_every_word_alike():
    for language in ("zh", "ja", "ko", None, "xx"):
        assert language not in weighable_languages()
        assert rarity("東京", language) == rarity("word", language) == 1.0
    assert {"en", "de", "ar", "ru"} <= weighable_languages()
