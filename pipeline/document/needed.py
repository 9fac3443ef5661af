"""Reading a regex's shape to test it for less: the strings every match holds, and the parts worth searching.

`needed_substrings` reads off the pattern's parse strings one of which every match holds: a screen cheaper than
the regex, which then runs only where one is found. Two users: trafilatura's XPath regex tests
(`pipeline.document.xpaths`) and the clean stage's phrase rules (`pipeline.document.rules`), which are searched
case-insensitively: for those, `caseless` folds a line and `caseless_needed` the strings so that a substring test
between them is true wherever the regex, under `re.IGNORECASE`, could match. `top_alternatives` and
`searched_part` find a line rule's alternatives written `.*X.*`, which are searched for X instead.
"""

from __future__ import annotations

import _sre
import re
from re import _casefix
from re import _constants as sre
from re import _parser as sre_parse


def needed_substrings(pattern: str) -> tuple[str, ...] | None:
    """Strings one of which every match of `pattern` (searched, case-sensitive) contains, none holding another;
    None when there is no such set to read off: flags, or a match that can be empty or made of classes only."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    needed = _sequence(parsed.data)
    if not needed or any(not s for s in needed):
        return None
    needed = list(dict.fromkeys(needed))
    # a string holding another of the set adds nothing: whatever contains it contains the other
    needed = [s for s in needed if not any(t != s and t in s for t in needed)]
    return tuple(needed)


def _sequence(items) -> list[str] | None:
    """For a sequence of parse items: the best needed set of one of its parts (a run of literals, or a group
    that must match), best meaning its shortest string is longest."""
    candidates: list[list[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(["".join(run)])
            run = []
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # takes no characters: the runs on either side are still in the match, though not joined
        found = _item(op, av)
        if found:
            candidates.append(found)
    if run:
        candidates.append(["".join(run)])
    if not candidates:
        return None
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c)))


def _item(op, av) -> list[str] | None:
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & re.IGNORECASE:
            return None
        return _sequence(sub.data)
    if op is sre.BRANCH:
        needed: list[str] = []
        for alternative in av[1]:
            found = _sequence(alternative.data)
            if not found:
                return None  # this alternative may match without any of the others' strings
            needed.extend(found)
        return needed
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _high, sub = av
        return _sequence(sub.data) if low >= 1 else None
    if op is sre.ATOMIC_GROUP:
        return _sequence(av.data)
    return None  # a class, any character, a category, a back-reference, a conditional: no literal


# Case under re.IGNORECASE: a character matches a pattern's character when their simple lowercase forms are equal,
# or are in one of the few classes `re._casefix` adds (i and dotless ı, s and long ſ, the Greek variant letters,
# the old Cyrillic forms). Each class is folded to its lowest member, so both sides can be compared with `in`.
def _classes() -> dict[str, str]:
    canon: dict[str, str] = {}
    for code, others in _casefix._EXTRA_CASES.items():
        members = {code, *others}
        for member in list(members):
            members |= set(_casefix._EXTRA_CASES.get(member, ()))
        low = chr(min(members))
        for member in members:
            if chr(member) != low:
                canon[chr(member)] = low
    return canon


_CANON = _classes()
_CANON_TABLE = str.maketrans(_CANON)
_CANON_CHARS = re.compile("[" + re.escape("".join(_CANON)) + "]")


def caseless(line: str) -> str | None:
    """`line` folded for `caseless_needed` strings; None for a line that fold cannot serve (a character whose
    lowercase is two, U+0130), where the regex itself must be asked.

    `str.lower` gives the simple lowercase that `re` compares by for every other character; where it differs in
    context (a final sigma), the two forms are one class here.
    """
    low = line.lower()
    if len(low) != len(line):
        return None
    if not low.isascii() and _CANON_CHARS.search(low):
        low = low.translate(_CANON_TABLE)
    return low


def caseless_needed(pattern: str) -> tuple[str, ...] | None:
    """`needed_substrings(pattern)` folded as `caseless` folds a line: a line the regex matches under
    re.IGNORECASE holds one of them once folded (or `caseless` gave None for it)."""
    needed = needed_substrings(pattern)
    if needed is None:
        return None
    folded = ("".join(_fold_char(ch) for ch in s) for s in needed)
    return tuple(dict.fromkeys(folded))


def _fold_char(ch: str) -> str:
    low = chr(_sre.unicode_tolower(ord(ch)))  # the lowercase `re` itself compares
    return _CANON.get(low, low)


def top_alternatives(regex: str) -> list[str] | None:
    """The top-level alternatives of a regex written `(?:a|b|...)`, or None when it is not written so."""
    if not regex.startswith("(?:"):
        return None
    parts, depth, start, n, in_class = [], 0, 3, 3, False
    while n < len(regex):
        ch = regex[n]
        if ch == "\\":
            n += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if regex[n + 1 : n + 2] in ("]", "^"):  # "[]...]", "[^]...]": not the class's end
                n += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                if n != len(regex) - 1:
                    return None  # the group closes before the end: "(?:a)b"
                return [*parts, regex[start:n]]
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(regex[start:n])
            start = n + 1
        n += 1
    return None


def searched_part(alternative: str) -> str | None:
    """X of an alternative written `.*X.*` (the last `.*` not an escaped dot), else None."""
    if len(alternative) > 4 and alternative.startswith(".*") and alternative.endswith(".*"):
        head = alternative[:-2]
        escapes = len(head) - len(head.rstrip("\\"))
        if escapes % 2 == 0 and not alternative[2:].startswith(("*", "?", "+")):
            return alternative[2:-2]
    return None
