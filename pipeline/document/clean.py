"""Boilerplate removal: applies the rules of `pipeline.document.rules` to extracted text, counting each removal."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pipeline.document import rules
from pipeline.document.needed import caseless
from pipeline.errors import Reject
from pipeline.models import Article, Block
from pipeline.stage import Stage
from pipeline.text import (
    ends_as_sentence,
    first_sentence,
    fold,
    looks_like_text,
    normalise_line,
    unspaced_letters,
    word_count,
)

HEAD_ZONE_LINES = 8  # bylines and repeated headlines sit in the first lines, before the text starts
DERIVED_TITLE_CHARS = 120


@dataclass
class Cleaned:
    lines: list[str]
    author: str | None = None
    removed: Counter[str] = field(default_factory=Counter)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (rule, line) for each removal, in order

    def drop(self, rule: str, lines: Sequence[str]) -> int:
        self.removed[rule] += len(lines)
        self.dropped.extend((rule, line) for line in lines)
        return len(lines)


def clean_lines(
    lines: Sequence[str | Block],
    title: str | None,
    description: str | None = None,
    url: str | None = None,
    author: str | None = None,
) -> Cleaned:
    """Remove boilerplate lines and blocks; return the kept lines, a byline author if found, and removal counts.

    `lines` are plain strings (text files) or `Block`s (HTML, with structure the block rules use);
    `description` is the page's meta description, `url` its address and `author` its byline, if known.
    """
    blocks = [b for b in (_as_block(line) for line in lines) if b.text]
    lines = [b.text for b in blocks]
    out = Cleaned(lines=[])
    title_key = fold(title) if title else None
    description_key = fold(description) if description else None
    kept_kinds: list[str] = []
    in_head = True
    last_text = max(
        (n for n, b in enumerate(blocks) if b.kind in ("p", "quote") and looks_like_text(b.text)),
        default=len(blocks),
    )
    i = 0
    while i < len(lines):
        line = lines[i]
        if in_head and (i >= HEAD_ZONE_LINES or (looks_like_text(line) and blocks[i].kind != "head")):
            in_head = False
        if in_head:
            consumed = _head_rule(lines, i, title_key, out)
            if consumed:
                i += consumed
                continue
            if blocks[i].kind == "head" and _is_standfirst(line, description_key):
                i += out.drop(rules.STANDFIRST_RULE, [line])
                continue
        if not in_head and i < HEAD_ZONE_LINES and _late_byline(line):
            out.author = out.author or rules.BYLINE.fullmatch(line)["author"]
            i += out.drop(rules.BYLINE_RULE, [line])
            continue
        if url and line.rstrip("/") == url.rstrip("/"):
            i += out.drop(rules.OWN_URL_RULE, [line])
            continue
        if title_key and blocks[i].kind != "text" and fold(line) == title_key:  # HTML: page furniture
            i += out.drop(rules.REPEATED_HEADLINE_RULE, [line])
            continue
        block_rule = next(
            (r for r in rules.BLOCK_RULES if r.matches(blocks[i], in_head, i > last_text)), None
        )
        if block_rule is not None:
            i += out.drop(block_rule.name, [line])
            continue
        if rules.RELATED_HEADING.fullmatch(line):
            i += out.drop(rules.RELATED_LIST_RULE, lines[i : i + _related_block(blocks, i)])
            continue
        words = len(line.split())
        rule = None
        if words <= rules.LINE_RULE_WORDS:  # a longer line is text to every rule
            unspaced, folded = unspaced_letters(line), caseless(line)
            rule = next((r for r in rules.LINE_RULES if r.matches(line, words, unspaced, folded)), None)
        if rule is None:
            out.lines.append(line)
            kept_kinds.append(blocks[i].kind)
        else:
            out.drop(rule.name, [line])
            if rule.name == "avatar_byline" and out.author is None:
                out.author = rule.pattern.fullmatch(line)["author"]
            if rule.name == rules.PAYWALL_RULE and out.lines and _paywall_box(lines[i + 1 :], rule):
                out.drop(rules.PAYWALL_BOX_RULE, lines[i + 1 :])
                break
        i += 1
    pointers = pointer_lines(out.lines)
    if pointers:
        out.drop(rules.POINTER_LABEL_RULE, [out.lines[n] for n in pointers])
        for n in reversed(pointers):
            del out.lines[n], kept_kinds[n]
    thread = comment_thread_start(out.lines)
    if thread is not None:
        out.drop(rules.COMMENT_THREAD_RULE, out.lines[thread:])
        del out.lines[thread:], kept_kinds[thread:]
    box = author_box_start(out.lines, author or out.author)
    if box is not None:
        out.drop(rules.AUTHOR_BOX_RULE, out.lines[box:])
        del out.lines[box:], kept_kinds[box:]
    while len(out.lines) > 1 and kept_kinds[-1] == "head":  # a heading with nothing under it heads nothing
        kept_kinds.pop()
        out.drop(rules.DANGLING_HEADING_RULE, [out.lines.pop()])
    return out


THREAD_MIN_META = 2  # comment furniture lines a thread shows at least ...
THREAD_MAX_GAP = 4  # ... with at most this many lines between two of them, to the end
THREAD_AFTER = 0.3  # and it starts after this share of the lines: the article comes first


def comment_thread_start(lines: list[str]) -> int | None:
    """Where a thread of reader comments starts at the end of `lines`, or None.

    A thread is told by its shape, not its words alone: from its first furniture line (a relative time, a
    reply/like label: `rules.COMMENT_META`, short) to the end, such lines recur with at most `THREAD_MAX_GAP`
    lines between them, at least `THREAD_MIN_META` of them, and the last one near the end. The short line before
    the first (the commenter's handle) and a comments heading before that go with it.
    """
    meta = [
        i for i, line in enumerate(lines) if len(line.split()) <= 12 and rules.COMMENT_META.fullmatch(line)
    ]
    if len(meta) < THREAD_MIN_META or len(lines) - 1 - meta[-1] > THREAD_MAX_GAP:
        return None
    start = len(meta) - 1
    while start > 0 and meta[start] - meta[start - 1] - 1 <= THREAD_MAX_GAP:
        start -= 1
    first = meta[start]
    if len(meta) - start < THREAD_MIN_META or first < THREAD_AFTER * len(lines):
        return None
    if first > 0 and len(lines[first - 1].split()) <= 4 and not ends_as_sentence(lines[first - 1]):
        first -= 1  # the commenter's name
    if first > 0 and rules.COMMENT_HEADING.fullmatch(lines[first - 1]):
        first -= 1
    return first


_NAME_SEPARATORS = re.compile(r"\s*(?:[,;&|/]|\band\b|\bund\b|\bet\b|\by\b|\be\b)\s*")


def pointer_lines(lines: list[str]) -> list[int]:
    """Indexes of lines that open with a label the body repeats before " | " (see `rules.POINTER_LABEL`)."""
    labelled: dict[str, list[int]] = {}
    for n, line in enumerate(lines):
        if "|" not in line or (match := rules.POINTER_LABEL.fullmatch(line)) is None:
            continue
        label = match["label"]
        if len(label.split()) <= rules.POINTER_LABEL_MAX_WORDS and len(match["rest"].split()) >= 2:
            labelled.setdefault(fold(label), []).append(n)
    return sorted(n for found in labelled.values() if len(found) >= 2 for n in found)


def _paywall_box(rest: list[str], paywall: rules.LineRule) -> bool:
    """Whether the lines after a paywall prompt are its box: no article paragraph among them (a paragraph's
    length without a paywall phrase)."""
    return bool(rest) and not any(
        word_count(line) >= rules.PARAGRAPH_WORDS and not paywall.anywhere.search(line) for line in rest
    )


def author_box_start(lines: list[str], author: str | None) -> int | None:
    """Where the author's box starts in the body's last `AUTHOR_BOX_LINES` lines, or None: the first of them
    that starts with one of the byline's names in full ("Ana Ruiz is a reporter ..."; "Ana Ruiz" alone).

    Only personal names of two words or more count: one word, or "The ..." (an outlet), would match prose. The
    article's first line always stays.
    """
    if not author or len(lines) < 2:
        return None
    names = [
        n
        for n in _NAME_SEPARATORS.split(author)
        if len(n.split()) >= 2 and not n.lower().startswith("the ") and _looks_like_name(n)
    ]
    if not names:
        return None
    starts = re.compile(r"(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)")
    for i in range(max(1, len(lines) - rules.AUTHOR_BOX_LINES), len(lines)):
        if starts.match(lines[i]):
            return i
    return None


def _looks_like_name(text: str) -> bool:
    """A person's name as bylines give it: at most five words, each starting with a capital letter."""
    words = text.split()
    return len(words) <= 5 and all(w[:1].isupper() for w in words)


def _late_byline(line: str) -> bool:
    """A byline set after the lead paragraph: the lead word and a name, nothing else ("Von Nina Magoley")."""
    match = rules.BYLINE.fullmatch(line)
    return match is not None and match.end("author") == len(line.rstrip(" .")) and len(line.split()) <= 6


def _is_standfirst(line: str, description_key: str | None) -> bool:
    """A heading above the text that is the page's summary (its meta description). A heading that merely reads
    as a sentence stays: on real pages that is a lead paragraph set as a heading (fundus: 4 pages lost their
    lead that way, AEB gained nothing from it)."""
    return description_key is not None and fold(line) == description_key


def _as_block(line: str | Block) -> Block:
    if isinstance(line, Block):
        return replace(line, text=normalise_line(line.text))
    return Block(normalise_line(line))


def _head_rule(lines: list[str], i: int, title_key: str | None, out: Cleaned) -> int:
    """Apply the head-of-article rules at line i; return how many lines they consumed (0: none applied)."""
    line = lines[i]
    if title_key and fold(line) == title_key:
        return out.drop(rules.REPEATED_HEADLINE_RULE, [line])
    byline = rules.BYLINE.fullmatch(line)
    if byline and len(line.split()) <= 14:
        out.author = out.author or byline["author"]
        return out.drop(rules.BYLINE_RULE, [line])
    if fold(line) in ("by", "written by") and i + 1 < len(lines):
        following = lines[i + 1]
        if rules.NAME.fullmatch(following) and fold(following) != title_key:
            out.author = out.author or following
            return out.drop(rules.BYLINE_RULE, lines[i : i + 2])
    return 0


def _related_block(blocks: list[Block], start: int) -> int:
    """Length of the block a related-articles heading at `start` opens: the heading and its list items.

    Bulleted lines and lines that are all link (a linked headline, even one asking a question) are items.
    Unbulleted short lines are items only when they run to the end of the text, so a section heading after a
    stray "Read more" is never taken for a list.
    """
    end = start + 1
    while end < len(blocks) and end - start <= rules.MAX_LIST_ITEMS and _list_item(blocks[end]):
        end += 1
    tail = [b.text for b in blocks[end:]]
    if tail and len(tail) <= rules.MAX_LIST_ITEMS and not any(looks_like_text(t) for t in tail):
        end = len(blocks)
    return end - start


def _list_item(block: Block) -> bool:
    return bool(rules.BULLET.match(block.text)) or block.link_ratio >= rules.LINKED_HEADLINE


def derive_title(body: str) -> str:
    """A title from the lead sentence, cut at a word boundary when long: for documents without a headline."""
    lead = body.strip().split("\n", 1)[0]
    sentence = first_sentence(lead).strip()
    if len(sentence) <= DERIVED_TITLE_CHARS:
        return sentence.rstrip(".")
    cut = sentence[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:—–- ") + "…"


class CleanStage(Stage):
    """Apply the boilerplate rules; count removals as `clean.removed_<rule>`; derive a title when there is none."""

    name = "clean"

    def process(self, article: Article) -> Article:
        cleaned = clean_lines(
            article.blocks or article.body.split("\n"),
            article.title,
            article.description,
            article.url,
            article.author,
        )
        article.blocks = []
        if not cleaned.lines:
            raise Reject("empty_after_cleaning", "nothing but boilerplate was left")
        article.body = "\n\n".join(cleaned.lines)
        article.author = article.author or cleaned.author
        article.removed_rules = dict(cleaned.removed)
        for rule, n in cleaned.removed.items():
            self.ledger.add(self.name, f"removed_{rule}", n)
        if not article.title:
            article.title, article.title_source = derive_title(article.body), "derived"
        return article
