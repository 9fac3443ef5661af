import pytest

from pipeline.document.enrich import EnrichStage, canonical_url, content_hash, count_words, detect_language
from pipeline.stage import Ledger
from tests.conftest import make_article


@pytest.mark.parametrize(
    "url,expected",
    [
        (
            "HTTPS://News.Example.COM:443/a/b?utm_source=x&utm_medium=y&id=7#top",
            "https://news.example.com/a/b?id=7",
        ),
        ("http://news.example.com:80", "http://news.example.com/"),
        ("http://news.example.com:8080/x?fbclid=1", "http://news.example.com:8080/x"),
        ("ftp://news.example.com/x", None),
        ("file:///etc/passwd", None),
        ("not a url", None),
        (None, None),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_content_hash_ignores_case_space_and_punctuation_only():
    a = "The vote passed, 7-2.\n\nIt takes effect in May."
    assert content_hash(a) == content_hash("the vote passed 72  it takes effect in may")
    assert content_hash(a) != content_hash(a.replace("May", "June"))


def test_language_detection():
    assert (
        detect_language("The council approved the budget after a long debate about transit funding.") == "en"
    )
    assert (
        detect_language("Le conseil municipal a approuvé le budget après un long débat sur les transports.")
        == "fr"
    )
    assert detect_language("ok") is None


def test_ids_come_from_url_else_from_the_file_path():
    stage = EnrichStage(Ledger(), run_id="r1")
    body = "Some words of an article body that is long enough to classify as English text."
    by_url = stage.apply(make_article(body, url="https://ex.example/a?utm_campaign=z", source_uri="/a.html"))
    same_url = stage.apply(make_article(body + " More.", url="https://ex.example/a", source_uri="/b.html"))
    by_path = stage.apply(make_article(body, source_uri="/data/site/c.txt"))
    assert by_url.article_id == same_url.article_id and by_url.url == "https://ex.example/a"
    assert by_path.article_id != by_url.article_id and len(by_path.article_id) == 16
    assert by_path.source == "site" and by_url.source == "ex.example"
    assert by_path.word_count == len(body.split()) and by_path.language == "en" and by_path.run_id == "r1"


@pytest.mark.parametrize(
    "text,words",
    [
        ("The council voted on Tuesday.", 5),
        ("先日、不正に改造したiPhoneを販売", 13),  # 12 Japanese characters and one spaced word
        ("Rates rose — again — in May", 5),
        ("서울 시의회는 화요일에 투표했다", 4),  # Korean is written with spaces
        ("", 0),
    ],
)
def test_word_count_counts_unspaced_scripts_by_character(text, words):
    assert count_words(text) == words


def test_a_japanese_article_gets_a_language_and_a_real_word_count():
    body = "先日、不正に改造したiPhoneを販売したとして、商標法違反の疑いで20代の男性が逮捕されたというニュースを耳にしました。"
    a = EnrichStage(Ledger(), "run-1").apply(make_article(body))
    assert a.language == "ja" and a.word_count > 30


def test_word_count_is_the_spaced_tokens_holding_a_letter_or_digit_for_every_code_point():
    """The regex count equals its definition: tokens of str.split() with an alphanumeric character, plus one per
    Han or kana character (each then a token boundary), whatever the characters and spaces."""
    import random

    from pipeline.text import HAN_KANA as _UNSPACED

    def by_definition(text: str) -> int:
        tokens = _UNSPACED.sub(" ", text).split()
        return sum(1 for t in tokens if any(ch.isalnum() for ch in t)) + len(_UNSPACED.findall(text))

    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    rng = random.Random(1)
    for i in range(0, len(every), 3000):
        chunk = every[i : i + 3000] + [" "] * 600 + ["\u3000", "\x1c", "\u2028", "_", "-", "—"] * 50
        rng.shuffle(chunk)
        text = "".join(chunk)
        assert count_words(text) == by_definition(text), f"code points from U+{ord(every[i]):04X}"
