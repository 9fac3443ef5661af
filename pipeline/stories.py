"""Stories: articles from different sites that report the same event share a `story_id`.

An article is described by its whole text (`describe`):
- its words (crudely stemmed to 6 letters), each weighted by its rarity in the article's language (wordfreq's
  frequency lists, shipped in the package: nothing is downloaded), the headline's three times, the lead's (first
  two paragraphs) twice, the body's by 1 + ln(count); names and numbers (capitalised words not opening the text,
  digits) three times more; its `TERMS_KEPT` heaviest, unit length;
- the names of its headline and lead, a second vector (keys marked `NAME_MARK`);
- both vectors shorter for a text of fewer than `SHORT_TEXT_TERMS` words (it counts less in a centroid);
- the names it mentions, and its anchors: a place (`places.txt.gz`, GeoNames' names) it names at least
  `PLACE_REPEATS` times, another rare name at least `NAME_REPEATS` times, or a name that follows a rare first
  name (a person named in full) `FULL_NAME_REPEATS` times. Two reports of one event name the event's place and
  people; two look-alike events (two rounds of talks, two earthquakes, two arrests) are told apart by theirs.

A story is the sum of its members' vectors (its centroid, the heaviest terms kept), the names its members
mention, and its first article's anchors. An article joins the most similar open story when the word cosine
reaches `STORY_THRESHOLD`, the name cosine `NAME_THRESHOLD` (when both have names), neither side has an anchor the
other never mentions, and the story was seen within `STORY_WINDOW` (an undated article is placed at the run's
time); otherwise it starts a story of its own. The stories of one article that the joining article could also
have joined are merged into its story when they join it (`_adopt`), so two reports too unlike each other to join
still meet in a third that comes after them: within a batch the lone article takes the story's id; one handed on
before (an earlier batch, an earlier run) is moved by the load (`StoryStage.merges`). The thresholds and repeats were chosen on the
tune half of ECB+'s topics over shuffled orders (`evals.stories`): real reports of one event by different
outlets, two look-alike events per topic.

Stories persist in DuckDB (`story_index`, `story_terms`): a run finds candidate stories through its articles'
words, one query a batch of `LOOKUP_CHUNK` articles (none when the database has no stories), reading only the
index rows of stories open around the articles' dates, never by loading the history. Within a run, candidates
are found through an in-memory index of the words. Both ways, the `CANDIDATES` that share the most weight with the
article are scored exactly, and a word in more than `MAX_STORIES_PER_TERM` stories finds none.

The module is one piece: the description of an article, the story it is compared with and the join rule are one
measure, their constants chosen together on ECB+ (`evals.stories` takes one signal out at a time by setting them
here); split, a threshold would live apart from the weights it was chosen for.
"""

from __future__ import annotations

import gzip
import logging
import math
import re
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from pipeline.dedupe.compact import HexKeys, IdColumn
from pipeline.models import Article
from pipeline.rarity import rarity, weighable_languages
from pipeline.stage import Stage
from pipeline.store.history import History, StoryLookup

log = logging.getLogger(__name__)

# Chosen on ECB+'s tune half over 24 shuffled orders (`evals.stories`; the order articles come in decides which
# story each can join): the highest F1 that merges at most 1% of look-alike pairs on average. 0.5/0.3 merged 3.0%
# (up to 8.8% in one order); 0.54/0.1 2.3%, 0.56/0.1 1.2%, 0.58/0.1 1.0%.
STORY_THRESHOLD = 0.58
NAME_THRESHOLD = 0.1  # the headline's and lead's names of the article and of the story
STORY_WINDOW = timedelta(days=3)  # an event's coverage clusters within days; older stories are closed
TERMS_KEPT = 80  # an article's heaviest words: enough to compare whole texts
# A text of fewer words than this ("The parliament election is over in Turkmenistan.") has vectors that long
# (its words / this), not unit length: its cosines are unchanged, but in a centroid it counts as its share of
# a text, so a one-line report does not pull a story towards its three words, where a look-alike event's
# reports then join (ECB+ tune half, file order: look-alike pairs merged 12 -> 0 of 1,342, F1 0.732 -> 0.740).
SHORT_TEXT_TERMS = 10
CENTROID_TERMS = 80  # a story's
NAMES_KEPT = 24  # names and numbers of the headline and lead
MENTIONS_KEPT = 400  # names a story's members mention, kept for the anchors check
PLACE_REPEATS = 4  # a place named this often is where the article's event happens
NAME_REPEATS = 6  # another name this often is what the article is about
PLACE_RARITY = 2.0  # 7.5 - Zipf: a place name rarer than "the", "for", "sea" (also the names of towns)
NAME_RARITY = 3.0  # rarer than the common words a sentence capitalises ("Friday", "Europe")
# A surname is often a common word ("Williams", "Jackson") while the person named in full is not: a name that
# follows a first name rarer than `FIRST_NAME_RARITY` ("Jamal Williams", not "Red Sox" or "New York") anchors
# after `FULL_NAME_REPEATS` mentions, whatever its own rarity (above `PLACE_RARITY`). On the tune half, shuffled:
# look-alike pairs merged 0.98% -> 0.59% at equal F1; F1 is flat for a first name's rarity from 3.25 to 4.0.
FIRST_NAME_RARITY = 3.5
FULL_NAME_REPEATS = 5
TITLE_WEIGHT, LEAD_WEIGHT, BODY_WEIGHT, NAME_BOOST = 3.0, 2.0, 1.0, 3.0
LEAD_PARAGRAPHS = 2
WEIGHT_DIGITS = 4  # weights rounded, as the stored index keeps them
LOOKUP_TERMS = 24  # an article's words candidate stories are found by
CANDIDATES = 8  # stories scored exactly for an article: those sharing the most of its weight
LOOKUP_CHUNK = 500  # articles whose stored candidates one query finds
STORED_KEPT = 4096  # stored stories kept read (a chunk's candidates: at most CANDIDATES * LOOKUP_CHUNK)
# A word in more of this run's stories (or of the stored stories open around a batch) than this is too common to
# find an event by: it is not looked up, so a run's cost stays linear in its size whatever the history holds (it
# still counts in the score of a story found through another).
MAX_STORIES_PER_TERM = 100
# A word's postings once it is in more of this run's stories than that: dropped (4 bytes a story each, most of the
# index in a large run), as it is never looked up again.
TOO_COMMON = array("i")
# Words of a text read at most: the body of a 10,000-word page weighs as its first 3,000 words.
MAX_WORDS = 3000
NAME_MARK = "@"  # a name term's key: "@zelens" beside the word term "zelens"
_WORD = re.compile(r"[^\W\d_][\w'’-]*|\d[\d.,:]*\d|\d")
_LETTERS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # a name: letters, maybe an apostrophe inside
_POSSESSIVE = re.compile(r"['’]s$")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "as",
        "at",
        "by",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "into",
        "over",
        "after",
        "before",
        "about",
        "says",
        "said",
        "will",
        "would",
        "could",
        "should",
        "may",
        "can",
        "not",
        "no",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
        "him",
        "them",
        "who",
        "which",
        "what",
        "when",
        "where",
        "than",
        "then",
        "there",
        "also",
        "more",
        "one",
        "two",
        "new",
        "being",
        "do",
        "does",
        "did",
        "up",
        "out",
        "so",
        "if",
        "we",
        "you",
        "i",
        "our",
        "your",
        "all",
        "any",
        "amid",
    ]
)
_PLACES = Path(__file__).resolve().parent / "data" / "places.txt.gz"


@dataclass(frozen=True, slots=True)
class Description:
    """What an article is compared by: word and name terms (names under `NAME_MARK` keys), the names it
    mentions, and its anchors."""

    terms: dict[str, float]
    mentioned: frozenset[str]
    anchors: frozenset[str]


def describe(title: str | None, body: str, language: str | None) -> Description:
    title = title or ""
    title_words, title_names = _scan(title, language)
    body_words, body_names = _scan(body, language)
    lead_end = _lead_end(body)
    lead_words = [w for w in body_words if w[3] < lead_end]
    # A headline in title case capitalises every word: there a word is a name only when the text writes it so.
    named_in_text = {stem for stem, _, named, _ in body_words if named}
    title_case = _title_case(title)
    weights: Counter[str] = Counter()
    names: dict[str, float] = {}
    parts = (
        (title_words, TITLE_WEIGHT, False, title_case),
        (lead_words, LEAD_WEIGHT, False, False),
        (body_words, BODY_WEIGHT, True, False),
    )
    for words, part_weight, by_count, check_names in parts:
        counts: Counter[str] = Counter()
        heaviest: dict[str, float] = {}
        for stem, rare, named, _ in words:
            if named and check_names:
                named = stem in named_in_text
            counts[stem] += 1
            weight = rare * NAME_BOOST if named else rare
            if weight > heaviest.get(stem, 0.0):
                heaviest[stem] = weight
            if named and not by_count and rare > names.get(stem, 0.0):
                names[stem] = rare
        for stem, n in counts.items():
            weights[stem] += part_weight * (1 + math.log(n) if by_count else 1.0) * heaviest[stem]
    kept = dict(weights.most_common(TERMS_KEPT))
    length = min(1.0, len(kept) / SHORT_TEXT_TERMS)
    terms = _unit(kept, length)
    top_names = dict(sorted(names.items(), key=lambda kv: -kv[1])[:NAMES_KEPT])
    terms.update((NAME_MARK + stem, w) for stem, w in _unit(top_names, length).items())
    mentioned, anchors = _mentions(title_names, body_names, language)
    return Description(terms, mentioned, anchors)


def _lead_end(body: str) -> int:
    """Where the body's first `LEAD_PARAGRAPHS` non-empty paragraphs end."""
    at, seen = 0, 0
    for line in body.split("\n"):
        at += len(line) + 1
        if line.strip():
            seen += 1
            if seen == LEAD_PARAGRAPHS:
                return at
    return at


# Per language, a word as written (lowercased) -> (stem, rarity), or None for a word not compared; cleared when
# it holds `_CACHED_WORDS` (a run's vocabulary, not the language's).
_WORD_INFO: dict[str | None, dict[str, tuple[str, float] | None]] = {}
_CACHED_WORDS = 300_000


def _scan(
    text: str, language: str | None
) -> tuple[list[tuple[str, float, bool, int]], list[tuple[str, bool, float]]]:
    """The words of `text` worth comparing, as (stem, rarity, is a name or number, offset), and its
    capitalised words (lowercased, a possessive's "s" dropped, hyphenated names apart), each with whether
    it opens the text and the rarity of the capitalised word just before it (a first name; 0 if none); the
    first `MAX_WORDS` words."""
    info = _WORD_INFO.setdefault(language, {})
    if len(info) > _CACHED_WORDS:
        info.clear()
    words, capitalised = [], []
    before, before_end = "", -2  # the last capitalised token (lowercased) and where it ends
    for n, match in enumerate(_WORD.finditer(text)):
        if n >= MAX_WORDS:
            break
        token = match.group(0)
        lowered = token.lower()
        known = info.get(lowered, _UNSEEN)
        if known is _UNSEEN:
            word = lowered.strip("'’-")
            skip = (len(word) < 3 and not word.isdigit()) or word in _STOP
            known = info[lowered] = None if skip else (word[:6], rarity(word, language))
        upper = token[0].isupper()
        if known is not None:
            words.append(
                (known[0], known[1], (upper and match.start() > 0) or token[0].isdigit(), match.start())
            )
        if upper:
            opens = match.start() == 0
            adjacent = before and before_end == match.start() - 1 and text[before_end] == " "
            first = rarity(before, language) if adjacent else 0.0
            for part in token.split("-") if "-" in token else (token,):
                if part[:1].isupper():
                    part = _POSSESSIVE.sub("", part.lower()).strip("'’")
                    if len(part) >= 3 and _LETTERS.fullmatch(part):
                        capitalised.append((part, opens, first))
            before, before_end = ("" if "-" in token else lowered.strip("'’-")), match.end()
    return words, capitalised


_UNSEEN = object()
_NEVER = 1 << 62  # mentions for a name too common to anchor


def _mentions(
    title: list[tuple[str, bool, float]], body: list[tuple[str, bool, float]], language: str | None
) -> tuple[frozenset[str], frozenset[str]]:
    """The names (rarer than `PLACE_RARITY`) the headline and body mention, and the anchors among them: a place
    named `PLACE_REPEATS` times in the body, another name rarer than `NAME_RARITY` `NAME_REPEATS` times, or one
    that follows a first name (`FIRST_NAME_RARITY`) somewhere `FULL_NAME_REPEATS` times (a text's first word not
    counted)."""
    mentioned: set[str] = set()
    places: Counter[str] = Counter()
    others: Counter[str] = Counter()
    repeats: dict[str, int] = {}  # the mentions that make another name an anchor
    for names, counted in ((title, False), (body, True)):
        for word, opens, first in names:
            how_rare = rarity(word, language)
            if how_rare < PLACE_RARITY:
                continue
            mentioned.add(word)
            if not counted or opens:
                continue
            if is_place(word):
                places[word] += 1
                continue
            others[word] += 1
            if word not in repeats:
                repeats[word] = NAME_REPEATS if how_rare >= NAME_RARITY else _NEVER
            if first >= FIRST_NAME_RARITY:
                repeats[word] = min(repeats[word], FULL_NAME_REPEATS)
    anchors = {w for w, n in places.items() if n >= PLACE_REPEATS}
    anchors.update(w for w, n in others.items() if n >= repeats[w])
    return frozenset(mentioned), frozenset(anchors)


def warm_up() -> None:
    """Load what the first article's description needs, ahead of it: wordfreq's import (0.27 s) and the place
    names (0.2 s). Lazily loaded, they fell on the run's last seconds, when only this process works; a run
    calls this early, in a background thread (`ValidateStage.warm_up`)."""
    weighable_languages()
    _place_hashes()


def is_place(word: str) -> bool:
    """Whether the lowercased word is a place's name (a city of 15,000 people or more, a country, a US state)."""
    places = _place_hashes()
    h = hash(word)
    i = bisect_left(places, h)
    return i < len(places) and places[i] == h


@cache
def _place_hashes() -> array:
    """The place names as their sorted hashes (2 MB, against 27 for a set of the 256,000 strings); a hash
    collision makes a word a place one time in ~70 billion."""
    lines = gzip.decompress(_PLACES.read_bytes()).decode("utf-8").splitlines()
    return array("q", sorted({hash(line) for line in lines if line and not line.startswith("#")}))


def _title_case(title: str) -> bool:
    """Most of the headline's words of 4 letters or more start with a capital ("Zelensky Pushes for Talks")."""
    words = [w for w in title.split() if len(w) >= 4 and w[0].isalpha()]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) > len(words) / 2


def _unit(terms: dict[str, float], length: float = 1.0) -> dict[str, float]:
    """The vector scaled to `length` (unit, unless a short text's); {} for no terms."""
    norm = math.sqrt(sum(w * w for w in terms.values()))
    if not norm or not length:
        return {}
    return {t: round(w * length / norm, WEIGHT_DIGITS) for t, w in terms.items()}


def merged(story: dict[str, float], article: dict[str, float]) -> dict[str, float]:
    """A story's terms with an article's added: the sum of the members' vectors (unit, a short text's shorter),
    the heaviest `CENTROID_TERMS` words and `NAMES_KEPT` names kept."""
    total = Counter(story)
    total.update(article)
    words = [(t, w) for t, w in total.items() if not t.startswith(NAME_MARK)]
    names = [(t, w) for t, w in total.items() if t.startswith(NAME_MARK)]
    kept = (
        sorted(words, key=lambda kv: -kv[1])[:CENTROID_TERMS]
        + sorted(names, key=lambda kv: -kv[1])[:NAMES_KEPT]
    )
    return {t: round(w, WEIGHT_DIGITS) for t, w in kept}


def _norms(terms: dict[str, float]) -> tuple[float, float]:
    """The lengths of the word terms and of the name terms."""
    words = names = 0.0
    for term, weight in terms.items():
        if term.startswith(NAME_MARK):
            names += weight * weight
        else:
            words += weight * weight
    return math.sqrt(words), math.sqrt(names)


def similarity(a: dict[str, float], b: dict[str, float]) -> tuple[float, float | None]:
    """The cosine of the word terms, and of the name terms (None when either has none)."""
    dot = [0.0, 0.0]
    norms_a, norms_b = [0.0, 0.0], [0.0, 0.0]
    for term, weight in a.items():
        kind = term.startswith(NAME_MARK)
        norms_a[kind] += weight * weight
        other = b.get(term)
        if other is not None:
            dot[kind] += weight * other
    for term, weight in b.items():
        norms_b[term.startswith(NAME_MARK)] += weight * weight
    words = dot[0] / math.sqrt(norms_a[0] * norms_b[0]) if norms_a[0] and norms_b[0] else 0.0
    names = dot[1] / math.sqrt(norms_a[1] * norms_b[1]) if norms_a[1] and norms_b[1] else None
    return words, names


def _lookup_terms(terms: dict[str, float]) -> list[str]:
    """The article's `LOOKUP_TERMS` heaviest words: what candidate stories are found by (its rare words and
    names; the rest would find every story sharing "police")."""
    words = [(w, t) for t, w in terms.items() if not t.startswith(NAME_MARK)]
    return [t for _, t in sorted(words, reverse=True)[:LOOKUP_TERMS]]


def _lookup(description: Description, when: datetime, terms: list[str] | None = None) -> StoryLookup:
    """What the database finds an article's stored candidates by: its lookup words (`_lookup_terms`, unless
    given), their weights, and the window of stories open at its time."""
    if terms is None:
        terms = _lookup_terms(description.terms)
    return StoryLookup(terms, [description.terms[t] for t in terms], when - STORY_WINDOW, when + STORY_WINDOW)


def _description(article: Article) -> Description:
    """An article's description; a title the pipeline derived from the body is not a headline."""
    return describe(
        article.title if article.title_source == "source" else None, article.body, article.language
    )


def joins(words: float, names: float | None) -> bool:
    """Whether similarities this high join an article to a story."""
    return words >= STORY_THRESHOLD and (names is None or names >= NAME_THRESHOLD)


def agree(
    article: Description | Story, story_mentioned: frozenset[str], story_anchors: frozenset[str]
) -> bool:
    """Neither side has an anchor the other never mentions (the first side an article, or a story)."""
    return article.anchors <= story_mentioned and story_anchors <= article.mentioned


def _open(first_seen: datetime, last_seen: datetime, when: datetime) -> bool:
    """The story was seen within the window before `when`, and did not start long before it."""
    return last_seen >= when - STORY_WINDOW >= first_seen - 2 * STORY_WINDOW


@dataclass(slots=True)
class Story:
    """A story in this run: its centroid, the names its members mention, its first article's anchors, when it
    was first and last seen, how many articles it holds. Joined stories from the database come in as one."""

    story_id: str
    terms: dict[str, float]
    mentioned: frozenset[str]
    anchors: frozenset[str]
    first_seen: datetime
    last_seen: datetime
    size: int = 1  # its articles; a story stored before sizes were kept reads as 2 (not known to be alone)

    def widened(
        self,
        terms: dict[str, float],
        mentioned: frozenset[str],
        first_seen: datetime,
        last_seen: datetime,
        size: int = 1,
    ) -> Story:
        """The story with a member (an article's description, or a story of `size` articles) added: the summed
        centroid, the names both mention (unless that passes `MENTIONS_KEPT`), its own anchors, the wider
        window."""
        names = self.mentioned | mentioned
        return Story(
            self.story_id,
            merged(self.terms, terms),
            names if len(names) <= MENTIONS_KEPT else self.mentioned,
            self.anchors,
            min(self.first_seen, first_seen),
            max(self.last_seen, last_seen),
            self.size + size,
        )

    def stored(self) -> dict:
        """The story as `story_index.terms` keeps it."""
        return {
            "terms": self.terms,
            "mentioned": sorted(self.mentioned),
            "anchors": sorted(self.anchors),
            "size": self.size,
        }

    @classmethod
    def from_stored(cls, story_id: str, stored: dict, first: datetime, last: datetime) -> Story:
        return cls(
            story_id,
            {t: float(w) for t, w in stored.get("terms", {}).items()},
            frozenset(stored.get("mentioned", ())),
            frozenset(stored.get("anchors", ())),
            first,
            last,
            int(stored.get("size", 2)),
        )


class StoryTable:
    """The stories this run started or joined, in columns: a row number (slot) each, in the order first added.

    A run holds one story per article it does not group (nearly one an article in a large run), so a story is
    not a `Story` here (its dicts and sets took ~10 KB) but ranges of shared arrays: its terms as numbers into
    the run's table of terms with their weights (8 bytes a term), its anchors and mentioned names as numbers (4
    bytes each), first and last seen as microseconds. Adding a story again under its id (a join) gives it new
    ranges in the same slot. `story(slot)` reads one back as a `Story`.
    """

    def __init__(self) -> None:
        self.ids = IdColumn()
        self.slots = HexKeys(16)  # story id -> slot
        self.first_seen = array("q")
        self.last_seen = array("q")
        self.term_start = array("q")
        self.term_count = array("H")
        self.name_start = array("q")  # its anchors, then the names it mentions
        self.anchor_count = array("H")
        self.name_count = array("H")
        self.word_norms = array("f")
        self.name_norms = array("f")
        self.sizes = array("I")  # articles in each story
        self.term_numbers = array("I")
        self.term_weights = array("f")
        self.name_numbers = array("I")
        self.term_names: list[str] = []
        self.term_number: dict[str, int] = {}
        self.closed: set[int] = set()  # slots of stories taken out (`close`)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, story_id: str) -> bool:
        return story_id in self.slots

    def slot(self, story_id: str) -> int | None:
        return self.slots.get(story_id)

    def add(self, story: Story) -> int:
        """Add a story (or replace the one of that id); return its slot."""
        slot = self.slots.get(story.story_id)
        if slot is None:
            slot = self.ids.append(story.story_id)
            self.slots[story.story_id] = slot
            for column in (self.first_seen, self.last_seen, self.term_start, self.name_start):
                column.append(0)
            for column in (self.term_count, self.anchor_count, self.name_count):
                column.append(0)
            self.word_norms.append(0.0)
            self.name_norms.append(0.0)
            self.sizes.append(0)
        self.sizes[slot] = story.size
        self.first_seen[slot], self.last_seen[slot] = _micros(story.first_seen), _micros(story.last_seen)
        self.term_start[slot], self.term_count[slot] = len(self.term_numbers), len(story.terms)
        self.term_numbers.extend(self.number(t) for t in story.terms)
        self.term_weights.extend(story.terms.values())
        self.word_norms[slot], self.name_norms[slot] = _norms(story.terms)
        names = [*sorted(story.anchors), *sorted(story.mentioned)]
        self.name_start[slot], self.name_count[slot] = len(self.name_numbers), len(names)
        self.anchor_count[slot] = len(story.anchors)
        self.name_numbers.extend(self.number(n) for n in names)
        return slot

    def number(self, term: str) -> int:
        """The term's number in the run's table of terms (given one the first time)."""
        number = self.term_number.get(term)
        if number is None:
            number = self.term_number[term] = len(self.term_names)
            self.term_names.append(term)
        return number

    def is_open(self, slot: int, when: datetime) -> bool:
        """`_open` for the story in `slot`, in microseconds."""
        at = _micros(when) - _WINDOW_US
        return self.last_seen[slot] >= at >= self.first_seen[slot] - 2 * _WINDOW_US

    def similarity(
        self, slot: int, words: dict[int, float], names: dict[int, float], norms: tuple[float, float]
    ) -> tuple[float, float | None]:
        """`similarity` of an article (its word and name terms by number, and their norms) and the story."""
        start, end = self.term_start[slot], self.term_start[slot] + self.term_count[slot]
        word_dot = name_dot = 0.0
        for number, weight in zip(self.term_numbers[start:end], self.term_weights[start:end], strict=True):
            if (a := words.get(number)) is not None:
                word_dot += a * weight
            elif (a := names.get(number)) is not None:
                name_dot += a * weight
        word_norm, name_norm = self.word_norms[slot], self.name_norms[slot]
        return (
            word_dot / (norms[0] * word_norm) if norms[0] and word_norm else 0.0,
            name_dot / (norms[1] * name_norm) if norms[1] and name_norm else None,
        )

    def agree(self, slot: int, description: Description) -> bool:
        """`agree` for the story in `slot`."""
        start, anchors = self.name_start[slot], self.anchor_count[slot]
        numbers = self.name_numbers[start : start + self.name_count[slot]]
        names = self.term_names
        if any(names[n] not in description.mentioned for n in numbers[:anchors]):
            return False
        if not description.anchors:
            return True
        mentioned = set(numbers[anchors:])
        return all(self.term_number.get(a, -1) in mentioned for a in description.anchors)

    def story(self, slot: int) -> Story:
        start, count = self.term_start[slot], self.term_count[slot]
        names = self.term_names
        terms = {
            names[n]: round(w, WEIGHT_DIGITS)
            for n, w in zip(
                self.term_numbers[start : start + count],
                self.term_weights[start : start + count],
                strict=True,
            )
        }
        start, anchors = self.name_start[slot], self.anchor_count[slot]
        numbers = self.name_numbers[start : start + self.name_count[slot]]
        return Story(
            self.ids[slot],
            terms,
            frozenset(names[n] for n in numbers[anchors:]),
            frozenset(names[n] for n in numbers[:anchors]),
            _datetime(self.first_seen[slot]),
            _datetime(self.last_seen[slot]),
            self.sizes[slot],
        )

    def __getitem__(self, story_id: str) -> Story:
        slot = self.slots.get(story_id)
        if slot is None:
            raise KeyError(story_id)
        return self.story(slot)

    def values(self) -> Iterator[Story]:
        """The stories, but those closed."""
        return (self.story(slot) for slot in range(len(self)) if slot not in self.closed)

    def close(self, slot: int) -> None:
        """Take a story out: its article went to another story. Never open again, not among `values`."""
        self.closed.add(slot)
        self.last_seen[slot] = self.first_seen[slot] = _micros(datetime.min)


_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_WINDOW_US = STORY_WINDOW // _MICROSECOND


def _micros(when: datetime) -> int:
    """A naive UTC time as microseconds since 1970: exact, so comparisons are those of the datetimes."""
    return (when - _EPOCH) // _MICROSECOND


def _datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class StoryStage(Stage):
    """Give each article about to land a `story_id`; count `joined` and `started` stories."""

    name = "stories"

    batch_size = LOOKUP_CHUNK

    def __init__(self, ledger, history: History | None, now: datetime):
        super().__init__(ledger)
        self.history, self.now = history, now
        self.stories = StoryTable()  # stories this run started or joined
        # word -> slots of the stories whose terms held it (4 bytes each), or TOO_COMMON
        self.by_term: dict[str, array] = {}
        self._history_has_stories = history is not None and history.has_stories()
        # id(article) -> its description, lookup words and stored candidates, found for the batch
        self._ahead: dict[int, tuple[Description, list[str], list[str]]] = {}
        # stored stories read, the latest `STORED_KEPT` (the history does not change during a run)
        self._stored: dict[str, Story] = {}
        # the stories of one article started in this batch, by id: their articles are not handed on yet
        self._lone: dict[str, Article] = {}
        self._in_batch = False
        # stories of one article handed on earlier (in an earlier batch, or stored by an earlier run) that went
        # into another story: id -> that story's id (the load moves their articles)
        self.merges: dict[str, str] = {}

    def process_batch(self, articles: list[Article]) -> list:
        """The stored candidates of the whole batch first (one query for each few days its dates span), then
        each article in order."""
        if self._history_has_stories:
            try:
                self._prefetch(articles)
            except Exception:  # each article asks again (and, failing, stays a story of its own)
                log.exception("story lookup failed for a batch of %d articles", len(articles))
                self._ahead.clear()
        self._in_batch = True
        try:
            return super().process_batch(articles)
        finally:
            self._ahead.clear()
            self._lone.clear()
            self._in_batch = False

    def _prefetch(self, articles: list[Article]) -> None:
        ahead = [(a, _description(a), a.published_at or self.now) for a in articles]
        ahead.sort(key=lambda item: item[2])
        group: list[tuple[Article, Description, datetime]] = []
        for item in ahead:
            if group and item[2] - group[0][2] > STORY_WINDOW:
                self._look_up(group)
                group = []
            group.append(item)
        self._look_up(group)

    def _look_up(self, group: list[tuple[Article, Description, datetime]]) -> None:
        """The stored candidates of articles dated within a few days of each other: one query."""
        if not group:
            return
        lookups = [_lookup(description, when) for _, description, when in group]
        found = self.history.story_candidates(lookups, CANDIDATES, MAX_STORIES_PER_TERM)
        wanted = set()
        for (article, description, _), lookup, story_ids in zip(group, lookups, found, strict=True):
            self._ahead[id(article)] = (description, lookup.terms, story_ids)
            wanted.update(story_ids)
        self._read_stored(wanted)

    def _read_stored(self, story_ids: set[str]) -> None:
        missing = [sid for sid in story_ids if sid not in self._stored and sid not in self.stories]
        if not missing:
            return
        for story_id, stored, first, last in self.history.stories(missing):
            if len(self._stored) >= STORED_KEPT:
                del self._stored[next(iter(self._stored))]
            self._stored[story_id] = Story.from_stored(story_id, stored, first, last)

    def process(self, article: Article) -> Article:
        """Never rejects: the article already passed validation, and copies may point at it. A failure to
        group it leaves it a story of its own (logged and counted as `failed`)."""
        try:
            return self._group(article)
        except Exception:
            log.exception("story grouping failed on %s; it stays a story of its own", article.source_uri)
            article.story_id = article.article_id
            self.ledger.add(self.name, "failed")
            return article

    def _group(self, article: Article) -> Article:
        when = article.published_at or self.now
        ahead = self._ahead.pop(id(article), None)
        if ahead is not None:
            description, lookup_terms, stored = ahead
        else:
            description = _description(article)
            lookup_terms = _lookup_terms(description.terms)
            stored = (
                self._stored_candidates(description, lookup_terms, when) if self._history_has_stories else []
            )
        best, best_score = None, 0.0
        passing: list[int | Story] = []  # the stories the article could join
        for candidate, words, names in self._scores(description, when, stored, lookup_terms):
            if joins(words, names):
                if isinstance(candidate, int):
                    agreed = self.stories.agree(candidate, description)
                else:
                    agreed = agree(description, candidate.mentioned, candidate.anchors)
                if agreed:
                    passing.append(candidate)
                    if words > best_score:
                        best, best_score = candidate, words
        if best is not None:
            passing = [c for c in passing if c is not best]
            if isinstance(best, int):
                best = self.stories.story(best)
            self._lone.pop(best.story_id, None)
            article.story_id = best.story_id
            joined = best.widened(description.terms, description.mentioned, when, when)
            if passing:
                joined = self._adopt(joined, passing)
            old = best.terms if best.story_id in self.stories else {}
            self._index(self.stories.add(joined), joined.terms, old)  # words new to the story
            self.ledger.add(self.name, "joined")
        else:
            article.story_id = article.article_id
            story = Story(
                article.story_id, description.terms, description.mentioned, description.anchors, when, when
            )
            self._index(self.stories.add(story), story.terms, {})
            if self._in_batch:
                self._lone[story.story_id] = article
            self.ledger.add(self.name, "started")
        return article

    def _adopt(self, story: Story, passing: list[int | Story]) -> Story:
        """`story`, just joined, with the lone articles it now joins: a story of one article that the joining
        article could also have joined, if the two stories join (cosines and anchors, as an article and a
        story). Two reports that share too little for either to join the other (the seeds' 001 and 002) then
        both join a third that comes after them, as they do when it comes first. A lone article of this batch
        is not handed on yet: it takes the story's id. One handed on before (an earlier batch, an earlier run)
        is moved by the load (`merges`). Its story is closed; counted `regrouped` (and, for this run's
        articles, one `started` fewer, one more `joined`)."""
        for candidate in passing:
            if isinstance(candidate, int):
                if self.stories.sizes[candidate] != 1:
                    continue
                lone = self.stories.story(candidate)
            elif candidate.size != 1 or candidate.story_id in self.merges:
                continue
            else:
                lone = candidate
            if not joins(*similarity(story.terms, lone.terms)) or not agree(
                lone, story.mentioned, story.anchors
            ):
                continue
            article = self._lone.pop(lone.story_id, None)
            if article is not None:
                article.story_id = story.story_id
            else:
                self.merges[lone.story_id] = story.story_id
            story = story.widened(lone.terms, lone.mentioned, lone.first_seen, lone.last_seen, lone.size)
            if isinstance(candidate, int):
                self._unindex(candidate, lone.terms)
                self.stories.close(candidate)
                self.ledger.add(self.name, "started", -1)
                self.ledger.add(self.name, "joined")
            self.ledger.add(self.name, "regrouped")
        return story

    def _unindex(self, slot: int, terms: dict[str, float]) -> None:
        for term in terms:
            if (slots := self.by_term.get(term)) is not None and slot in slots:  # never in TOO_COMMON
                slots.remove(slot)

    def _index(self, slot: int, terms: dict[str, float], old: dict[str, float]) -> None:
        for term in terms:
            if term in old or term.startswith(NAME_MARK):
                continue
            slots = self.by_term.get(term)
            if slots is None:
                self.by_term[term] = array("i", (slot,))
            elif slots is not TOO_COMMON:
                slots.append(slot)
                if len(slots) > MAX_STORIES_PER_TERM:
                    self.by_term[term] = TOO_COMMON

    def _stored_candidates(self, description: Description, terms: list[str], when: datetime) -> list[str]:
        """An article's stored candidates when the batch did not find them (`apply`): a query of its own."""
        (found,) = self.history.story_candidates(
            [_lookup(description, when, terms)], CANDIDATES, MAX_STORIES_PER_TERM
        )
        self._read_stored(set(found))
        return found

    def _scores(
        self,
        description: Description,
        when: datetime,
        stored: list[str],
        lookup_terms: list[str] | None = None,
    ) -> list[tuple[int | Story, float, float | None]]:
        """Open stories that share a word with the article, with the word and name cosines: the `CANDIDATES`
        of this run's stories (found through the term index) sharing the most of the article's weight, and
        `stored`, those of earlier runs the database found (`lookup_terms`: the article's, when known)."""
        terms = description.terms
        shared: dict[int, float] = {}
        for term in lookup_terms if lookup_terms is not None else _lookup_terms(terms):
            slots = self.by_term.get(term)
            if not slots:  # not in this run's stories, or in too many of them
                continue
            weight = terms[term]
            for slot in slots:
                shared[slot] = shared.get(slot, 0.0) + weight
        best = sorted(shared, key=shared.__getitem__, reverse=True)[:CANDIDATES]
        table = self.stories
        out: list[tuple[int | Story, float, float | None]] = []
        if best:
            numbers = table.term_number
            words = {numbers[t]: w for t, w in terms.items() if t in numbers and not t.startswith(NAME_MARK)}
            names = {numbers[t]: w for t, w in terms.items() if t in numbers and t.startswith(NAME_MARK)}
            norms = _norms(terms)
            for slot in best:
                if table.is_open(slot, when):
                    out.append((slot, *table.similarity(slot, words, names, norms)))
        for story_id in stored:
            if story_id in self.merges:  # went into another story in this run
                continue
            slot = table.slot(story_id)
            if slot is None:
                story = self._stored.get(story_id)
                if story is None:  # read more than `STORED_KEPT` ago
                    self._read_stored({story_id})
                    story = self._stored.get(story_id)
                if story is not None and _open(story.first_seen, story.last_seen, when):
                    out.append((story, *similarity(terms, story.terms)))
            elif slot not in best and table.is_open(slot, when):  # joined in this run, not a candidate
                out.append((slot, *similarity(terms, table.story(slot).terms)))
        return out

    def rows(self) -> Iterator[dict]:
        """The stories this run started or changed, then those it merged into others, for the load step."""
        for s in self.stories.values():
            yield {
                "story_id": s.story_id,
                "terms": s.stored(),
                "first_seen": s.first_seen.isoformat(),
                "last_seen": s.last_seen.isoformat(),
            }
        for story_id, into in self.merges.items():
            yield {"story_id": story_id, "merged_into": into}
