"""The text utilities every phase shares: folding (both paths equal the definition), lines, sentences."""

from pipeline.text import (
    ends_as_sentence,
    first_sentence,
    fold,
    looks_like_text,
    normalise_line,
    split_sentences,
    unspaced_letters,
    word_character,
    word_count,
)


def test_fold_ignores_case_space_and_punctuation():
    assert fold("Hello,  World!") == fold("hello world")


def _fold_by_characters(text: str) -> str:
    """fold() as specified, one character at a time: the reference its fast paths must equal."""
    import unicodedata

    kept = (ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum() or ch.isspace())
    return " ".join("".join(kept).split())


def test_fold_equals_the_character_by_character_definition_for_every_code_point():
    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for i in range(0, len(every), 500):  # each chunk mixes scripts, marks, spaces and punctuation
        chunk = "".join(every[i : i + 500])
        assert fold(chunk) == _fold_by_characters(chunk), f"code points from U+{ord(every[i]):04X}"
    for ch in map(chr, range(128)):  # the ASCII path, each character between words
        text = f"Word{ch}NEXT {ch} x"
        assert text.isascii() and fold(text) == _fold_by_characters(text), repr(ch)
    mixed = "Ünïcode café, “quoted” — O’Brien_x 2nd"
    assert fold(mixed) == _fold_by_characters(mixed) == "ünïcode café quoted obrienx 2nd"


def test_unspaced_letters_counts_what_word_character_leaves_out_for_every_code_point():
    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for i in range(0, len(every), 5000):
        chunk = "".join(every[i : i + 5000])
        expected = sum(1 for ch in chunk if ch.isalnum() and not word_character(ch))
        assert unspaced_letters(chunk) == expected, f"code points from U+{ord(every[i]):04X}"
    assert unspaced_letters("中居正広氏は、東京で") == 9 and unspaced_letters("Zoë, 서울") == 2


def test_normalise_line_collapses_every_kind_of_space_and_nothing_else():
    assert normalise_line("  a\u00a0 b\u200b\tc\u3000d  ") == "a b c d"
    assert normalise_line("Cafe\u0301") == "Café"  # NFC


def test_sentences():
    assert first_sentence("One here. Two there.") == "One here."
    assert first_sentence("No break at all") == "No break at all"
    assert ends_as_sentence('He said "yes."') and not ends_as_sentence("A heading")
    assert looks_like_text("This line has enough words in it to read as a sentence.")
    assert not looks_like_text("Short label")


def test_prose_in_scripts_without_spaces_is_told_from_labels():
    # Written for this test: a Japanese and a Chinese sentence of news prose, and labels of a few characters.
    assert looks_like_text("市の交通局は十二日、来月から深夜の路線バスを増便すると発表した。")
    assert looks_like_text("市政府周二宣布，将从下个月起增加夜间公交线路的班次。")
    assert not looks_like_text("関連記事")
    assert not looks_like_text("＜震度4＞")
    assert not looks_like_text("最新消息")
    assert word_count("Tokyo 東京都庁") == 3 and word_count("one two") == 2


def test_sentences_do_not_end_at_abbreviations_initials_or_ordinal_dates():
    assert first_sentence("Gov. Newsom signed the bill. Critics objected.") == "Gov. Newsom signed the bill."
    assert (
        first_sentence("Dr. Ada Lee and Sen. Ron Wyden met. Then they left.")
        == "Dr. Ada Lee and Sen. Ron Wyden met."
    )
    assert first_sentence("The U.S. economy grew 3%. Jobs rose.") == "The U.S. economy grew 3%."
    assert first_sentence("George W. Bush spoke in Texas. He left.") == "George W. Bush spoke in Texas."
    assert first_sentence("Hr. Müller kam am 3. Mai an. Dann ging er.") == "Hr. Müller kam am 3. Mai an."
    assert first_sentence("La Sra. García habló. Luego se fue.") == "La Sra. García habló."
    assert first_sentence("The toll rose to 12. Officials said more.") == "The toll rose to 12."


def test_sentences_in_scripts_without_case_or_spaces():
    assert first_sentence("Он сказал это. Потом ушёл.") == "Он сказал это."
    assert first_sentence("引退を発表した。関係者によると、") == "引退を発表した。"
    assert first_sentence("他说：“好！”然后离开了。") == "他说：“好！”"
    assert split_sentences("Final word. ¿Qué pasa? «Rien.» Fin") == [
        "Final word.",
        "¿Qué pasa?",
        "«Rien.»",
        "Fin",
    ]
    assert (
        first_sentence("Prices fell. and then rose") == "Prices fell. and then rose"
    )  # lower case: no break


def test_word_character_is_false_for_scripts_written_without_spaces():
    assert all(word_character(c) for c in "aZ9éЖαا")
    assert not any(word_character(c) for c in "中あア한ไ က、 .")
