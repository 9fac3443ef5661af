"""A word's rarity from compact tables: the answers wordfreq gives, without its dict of the whole language."""

from __future__ import annotations

import os

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


def _fresh_table(language, monkeypatch, cache):
    monkeypatch.setenv(rarity_module.CACHE_ENV, str(cache))
    rarity_module._table.cache_clear()
    return rarity_module._table(language)


def test_a_table_is_cached_for_later_runs_and_read_back_the_same(tmp_path, monkeypatch):
    built = _fresh_table("pt", monkeypatch, tmp_path)
    (cached,) = (tmp_path / "rarity").glob("pt-*.bin")
    assert cached.stat().st_size == len(rarity_module._MAGIC) + 8 + 10 * len(built.hashes)

    def no_list(*args):
        raise AssertionError("the list was read again, not the cache")

    monkeypatch.setattr(rarity_module, "_read_list", no_list)
    again = _fresh_table("pt", monkeypatch, tmp_path)
    assert again is not built and again.hashes == built.hashes and again.bands == built.bands
    for word in ("de", "governo", "brasília", "qzxwv", "covid-19"):
        assert rarity(word, "pt") == max(0.5, 7.5 - wordfreq.zipf_frequency(word, "pt")), word
    rarity_module._table.cache_clear()


def test_word_keys_are_the_same_in_every_process():
    import subprocess
    import sys

    code = "from pipeline.rarity import word_key; print(word_key('Straße'), word_key('東京'))"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert seen == {f"{rarity_module.word_key('Straße')} {rarity_module.word_key('東京')}\n"}


@pytest.mark.parametrize("damage", ["truncated", "other format", "empty"])
def test_a_damaged_cache_is_read_as_no_cache_and_written_again(tmp_path, monkeypatch, damage):
    built = _fresh_table("nl", monkeypatch, tmp_path)
    (cached,) = (tmp_path / "rarity").glob("nl-*.bin")
    data = cached.read_bytes()
    cached.write_bytes({"truncated": data[:-3], "other format": b"x" + data[1:], "empty": b""}[damage])
    again = _fresh_table("nl", monkeypatch, tmp_path)
    assert again.hashes == built.hashes and again.bands == built.bands
    assert cached.read_bytes() == data
    assert rarity("het", "nl") == max(0.5, 7.5 - wordfreq.zipf_frequency("het", "nl"))
    rarity_module._table.cache_clear()


def test_a_cache_folder_that_cannot_be_written_is_passed_over(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    table = _fresh_table("sv", monkeypatch, blocker)
    assert len(table.hashes) > 100_000
    assert rarity("och", "sv") == max(0.5, 7.5 - wordfreq.zipf_frequency("och", "sv"))
    assert blocker.read_text() == "a file where the cache folder would be"
    rarity_module._table.cache_clear()


def test_without_a_home_folder_the_list_is_read_without_a_cache(monkeypatch):
    def no_home(cls):
        raise RuntimeError("Could not determine home directory")

    for name in (rarity_module.CACHE_ENV, "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(rarity_module.Path, "home", classmethod(no_home))
    rarity_module._table.cache_clear()
    assert rarity("und", "de") == max(0.5, 7.5 - wordfreq.zipf_frequency("und", "de"))
    rarity_module._table.cache_clear()
