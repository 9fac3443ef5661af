"""Bylines the page prints under a label ("Autorin/Autor Roman Goncharenko", "(责编：牛镛、岳弘彬)"), for pages
whose metadata names no person (no author at all, or only the outlet).

The labels are data, per language: the words news pages print before their authors' names. A label counts when
it is the whole text of its element (the name is then the element's tail, its first child or the next element)
or starts a short line with a colon ("Autor: Max Muster"). What follows must read as one to four people's
names: capitalised words, or a short run of CJK characters, with no digits, addresses or sentences.
"""

from __future__ import annotations

import re

# What a page prints before its authors' names, per language. Words that also start ordinary text ("text",
# "by", "von") need the colon or an element of their own; no single CJK character (文, 글) is taken.
AUTHOR_LABELS: dict[str, tuple[str, ...]] = {
    "en": ("author", "authors", "written by", "words by", "reporter", "reported by"),
    "de": ("autor", "autorin", "autoren", "autorinnen", "autorin/autor", "autor/autorin", "text"),
    "fr": ("auteur", "auteurs", "autrice", "texte", "rédigé par", "écrit par"),
    "es": ("autor", "autora", "autores", "texto", "escrito por"),
    "it": ("autore", "autrice", "autori", "testo", "scritto da"),
    "pt": ("autor", "autora", "autores", "texto", "escrito por"),
    "nl": ("auteur", "auteurs", "tekst", "geschreven door"),
    "pl": ("autor", "autorka", "autorzy", "tekst"),
    "ru": ("автор", "авторы", "текст"),
    "tr": ("yazar", "yazan", "muhabir"),
    "ar": ("الكاتب", "بقلم", "المؤلف"),
    "ja": ("記者", "筆者", "執筆者"),
    "zh": ("作者", "记者", "記者", "责编", "责任编辑"),
    "ko": ("기자", "작성자"),
}
_WORDS = sorted({w for words in AUTHOR_LABELS.values() for w in words}, key=len, reverse=True)
_LABEL = re.compile(r"^[(（]?\s*(?:" + "|".join(map(re.escape, _WORDS)) + r")\s*(?P<colon>[:：])?\s*", re.I)
_NOT_BYLINES = {"script", "style", "title", "head", "a", "button", "option", "select", "textarea", "noscript"}
_BETWEEN_NAMES = re.compile(r"\s*(?:[,、;/&，]|\s(?:and|und|et|y|e|i|og|och|ve|en|и)\s)\s*")
# Lower-case words inside a person's name ("Ursula von der Leyen", "Luiz Inácio da Silva").
_PARTICLES = frozenset("de da di del della der den van von la le du dos das bin ibn al el ter zu".split())  # noqa: SIM905
_CJK_NAME = re.compile(r"^[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af·・]{2,6}$")
MAX_LINE_CHARS = 120


def person_names(text: str) -> list[str] | None:
    """The people a byline's text names (1 to 4), or None when it reads as anything else."""
    text = text.strip().strip("()（）").strip()
    if not text or len(text) > MAX_LINE_CHARS:
        return None
    names = [n.strip(" .") for n in _BETWEEN_NAMES.split(text) if n.strip(" .")]
    if not 1 <= len(names) <= 4:
        return None
    for name in names:
        if _CJK_NAME.match(name):
            continue
        words = name.split()
        if not 2 <= len(words) <= 4 or not words[0][:1].isupper():
            return None
        if not all(w[:1].isupper() or w.lower() in _PARTICLES for w in words):
            return None
        if not all(ch.isalpha() or ch in "-'’." for w in words for ch in w):
            return None  # digits, @, slashes: a date, a handle or an address, not a name
    return names


def labelled_authors(tree) -> str | None:
    """The first labelled byline in the page ("A; B"), or None. Reads the whole tree: call it before extraction
    prunes it."""
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag.lower() in _NOT_BYLINES:
            continue
        text = (el.text or "").strip()
        if not text or len(text) > MAX_LINE_CHARS or not (label := _LABEL.match(text)):
            continue
        rest = text[label.end() :]
        if rest:
            if not label.group("colon"):
                continue  # "Text about ...": a label word opening a sentence
            candidate = rest
        elif len(el):
            candidate = el[0].text_content() if isinstance(el[0].tag, str) else ""
        else:
            candidate = (el.tail or "").strip()
            if not candidate and (after := el.getnext()) is not None and isinstance(after.tag, str):
                candidate = after.text_content()
        if names := person_names(candidate):
            return "; ".join(names)
    return None
