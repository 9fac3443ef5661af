"""The text utilities every phase shares: folding (both paths equal the definition), lines, sentences."""

from pipeline.text import ends_as_sentence, first_sentence, fold, looks_like_text, normalise_line


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


def test_normalise_line_collapses_every_kind_of_space_and_nothing_else():
    assert normalise_line("  a\u00a0 b\u200b\tc\u3000d  ") == "a b c d"
    assert normalise_line("Cafe\u0301") == "Café"  # NFC


def test_sentences():
    assert first_sentence("One here. Two there.") == "One here."
    assert first_sentence("No break at all") == "No break at all"
    assert ends_as_sentence('He said "yes."') and not ends_as_sentence("A heading")
    assert looks_like_text("This line has enough words in it to read as a sentence.")
    assert not looks_like_text("Short label")
