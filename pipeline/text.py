"""Text utilities every phase shares: the one normalisation of a line, the folded form for comparing text,
what reads as prose, and sentence boundaries."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
# Where a sentence may end: . ! ? or …, perhaps a closing quote or bracket, then space; or a full stop, exclamation
# or question mark of Chinese and Japanese (。！？), which need no space after them.
_BREAK_CANDIDATE = re.compile(r"[.!?…][\"”’»)]*\s+|[。！？][」』）”]*")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that end with a full stop without ending the sentence, by language, lowercase and without their stop:
# titles and ranks (Dr., Gov., Sen., Hr., Sra.), street and company forms, months, "No.", "vs." and the like.
# A single letter (an initial: "George W. Bush") and a dotted abbreviation ("U.S.", "z.B.", "a.m.") need no list.
ABBREVIATIONS = _words(
    # en
    "mr mrs ms mx dr prof gov sen rep gen col lt sgt capt cmdr adm maj cpl pvt rev hon pres supt det insp "
    "st ave blvd rd mt ft jr sr inc corp co ltd llc bros dept univ assn est approx vs etc no nos vol fig "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun "
    # de
    "hr fr frl nr bzw ca evtl ggf inkl vgl usw zb dt str tel abs bd dipl ing mio mrd "
    # fr
    "mm mme mmes mlle mlles me mgr pr st ste "
    # es, pt, it
    "sra srta dña dn av avda dto lic ing arq sta sto dra profa sig sigg dott ecc pag "
    # nl
    "dhr mevr mw ir drs ing nr blz "
    # pl, ru, tr (Latin and Cyrillic)
    "ul prof dr hab mgr inż np tzw im г гг ул им т тыс млн млрд руб стр см doç yrd av"
)
# Months after an ordinal with a stop ("am 3. Mai", "1. januar", "15. října"): the date goes on.
_ORDINAL_MONTHS = _words(
    "januar jänner februar feber märz april mai juni juli august september oktober november dezember "
    "january february march may june july october december marts maj oktober "
    "tammikuuta helmikuuta maaliskuuta huhtikuuta toukokuuta kesäkuuta heinäkuuta elokuuta syyskuuta "
    "lokakuuta marraskuuta joulukuuta ledna února března dubna května června července srpna září října "
    "listopadu prosince"
)


def sentence_breaks(text: str):
    """Where each sentence after the first starts: offsets into `text`.

    A break follows . ! ? or … and space, where the next sentence starts with a capital, a digit, an opening
    quote or bracket, or a letter of a script without case; not after an abbreviation (`ABBREVIATIONS`), an
    initial or a dotted abbreviation. After 。！？ a sentence ends without space.
    """
    for m in _BREAK_CANDIDATE.finditer(text):
        end = m.end()
        if end >= len(text):
            return
        if m.group()[0] in "。！？":
            yield end
            continue
        nxt = text[end]
        if not (nxt.isupper() or nxt.isdigit() or nxt in '"“‘«(¿¡[' or (nxt.isalpha() and not nxt.islower())):
            continue
        if m.group()[0] == "." and _abbreviation_before(text, m.start()):
            continue
        yield end


def _abbreviation_before(text: str, stop: int) -> bool:
    """Is the word that ends at the full stop `stop` an abbreviation, an initial or a dotted abbreviation?"""
    start = stop
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in '"“‘«(':
        start -= 1
    word = text[start:stop]
    if not word:
        return False
    if word.isdigit() and len(word) <= 2:  # an ordinal before a month: "am 3. Mai"
        following = text[stop + 1 :].split(None, 1)
        return bool(following) and following[0].strip(",.").lower() in _ORDINAL_MONTHS
    if "." in word:  # "U.S", "z.B", "a.m": letters between stops
        return all(len(part) <= 2 and part.isalpha() for part in word.split("."))
    if len(word) == 1 and word.isalpha():  # an initial
        return True
    return word.lower() in ABBREVIATIONS


def split_sentences(text: str) -> list[str]:
    """`text` cut at its sentence breaks (`sentence_breaks`), each sentence stripped."""
    out, last = [], 0
    for at in sentence_breaks(text):
        out.append(text[last:at].strip())
        last = at
    out.append(text[last:].strip())
    return [s for s in out if s]


# A line that ends as a sentence does: . ! ? or …, perhaps followed by closing quotes or brackets.
SENTENCE_END = re.compile(r"[.!?…][\"”’)\]]*$")


def normalise_line(line: str) -> str:
    """Collapse runs of spaces (including no-break and zero-width ones) and strip: the only edits made to text,
    with entities the page shows as text decoded (see `decode_shown_entities`)."""
    if "&" in line:
        line = decode_shown_entities(line)
    return _SPACE.sub(" ", unicodedata.normalize("NFC", line)).strip()


# An entity a page's CMS escaped twice, so the reader sees "&nbsp;" or "&#8217;" as text: decoded, except where
# it would make markup of text (&lt; &gt; and their numbers stay as they are).
_SHOWN_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,9}|#[0-9]{2,6}|#[xX][0-9A-Fa-f]{2,5});")
_MARKUP_ENTITIES = frozenset({"&lt;", "&gt;", "&#60;", "&#62;", "&#x3c;", "&#x3e;"})


def decode_shown_entities(text: str) -> str:
    """`&nbsp;`, `&amp;`, `&#8217;` and the like, left as text, as the characters they name."""
    from html import unescape

    def decode(match: re.Match) -> str:
        entity = match.group(0)
        return entity if entity.lower() in _MARKUP_ENTITIES else unescape(entity)

    return _SHOWN_ENTITY.sub(decode, text)


def fold(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form, for comparing lines and bodies.

    NFKC, casefold, then only letters, digits (`str.isalnum`) and spaces are kept, runs of space becoming one.
    It runs on every body, paragraph and line several times, so ASCII text (NFKC and casefold change nothing
    there but case) takes a bytes-level path, about 7x faster; `tests/test_text.py` checks both paths
    give the same result for every code point.
    """
    if text.isascii():
        return " ".join(text.encode().lower().translate(None, _ASCII_PUNCTUATION).decode().split())
    return " ".join(_NOT_ALNUM_OR_SPACE.sub("", unicodedata.normalize("NFKC", text).casefold()).split())


_ASCII_PUNCTUATION = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c).isspace()))
_NOT_ALNUM_OR_SPACE = re.compile(r"[^\w\s]|_")  # \w is str.isalnum plus "_"; \s is str.isspace


# Scripts that do not put spaces between words (str.isalnum() is true for their letters): Han, kana, Hangul
# syllables and jamo (a Korean particle is written against its noun), Thai, Lao, Khmer, Myanmar, Tibetan, and
# fullwidth forms.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u2fdf\u3040-\u30ff"
    "\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff00-\uffef"
    "\U00020000-\U0003ffff]"
)


def word_character(ch: str) -> bool:
    """A letter or digit of a script that writes spaces between words: where two such characters meet across a
    markup boundary, a space was lost. False for Chinese, Japanese, Korean, Thai and the like."""
    return ch.isalnum() and not _UNSPACED.match(ch)


def unspaced_letters(text: str) -> int:
    """How many letters of `text` belong to scripts written without spaces (`word_character` is false for them).

    One regex scan: the line rules ask it of every non-ASCII line, and a loop over characters was the clean
    step's largest cost.
    """
    return len(_UNSPACED_LETTER.findall(text)) if not text.isascii() else 0


_UNSPACED_LETTER = re.compile(r"(?=[^\W_])" + _UNSPACED.pattern)  # [^\W_] is str.isalnum (see `fold`)


def looks_like_text(line: str) -> bool:
    """A line of article prose rather than a heading, caption or button label.

    In Chinese and Japanese, which write no spaces, two characters count as one word (a word there is one to
    three characters): a 40-character sentence ending in "。" is prose, as an 8-word one ending in "." is.
    """
    words = word_count(line)
    return words >= 20 or (words >= 8 and line.rstrip(_CLOSING).endswith(_SENTENCE_MARKS))


_CLOSING = '"”’)」』）'
_SENTENCE_MARKS = (".", "!", "?", "…", "。", "！", "？")
# Han, kana and half-width katakana: the scripts of Chinese and Japanese, written without spaces between words.
HAN_KANA = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)
CHARACTERS_PER_WORD = 2  # Chinese and Japanese words run one to three characters


def word_count(text: str) -> int:
    """Words of `text`: those between spaces, where a run of Chinese or Japanese characters counts one word per
    `CHARACTERS_PER_WORD` of them (at least one)."""
    words = text.split()
    if text.isascii():
        return len(words)
    return sum(max(1, len(HAN_KANA.findall(word)) // CHARACTERS_PER_WORD) for word in words)


def first_sentence(text: str) -> str:
    """The text up to its first sentence break (all of it when it has none), abbreviations included."""
    for at in sentence_breaks(text):
        return text[:at].rstrip()
    return text


def ends_as_sentence(line: str) -> bool:
    return SENTENCE_END.search(line) is not None
