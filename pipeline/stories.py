"""Stories: articles from different sites that report the same event share a `story_id`.

An article is described by the words of its lead sentence (where news writing states the event: who did what),
each weighted by its rarity in the language (wordfreq's frequency lists, shipped in the package: nothing is
downloaded), so "Zelensky invites Putin" weighs more than "said on Monday". A story is described by its first
article, its representative. A new article joins the story whose representative's lead is most similar (cosine
of the weighted vectors) when that similarity reaches `STORY_THRESHOLD` and the story was last seen within
`STORY_WINDOW`; otherwise it starts a story of its own. Comparing with the representative, not with any member,
keeps stories from drifting: a chain of loosely related articles does not become one story.

Stories persist in DuckDB (`story_index`, `story_terms`): a run finds candidate stories through the terms of its
articles (index lookups, one query per article, none when the database has no stories), never by loading the
history. Within a run, stories are found and scored through an in-memory term index.
"""

from __future__ import annotations

import logging
import math
import re
import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from pipeline.dedupe.compact import HexKeys, IdColumn
from pipeline.models import Article
from pipeline.stage import Stage
from pipeline.store.history import History
from pipeline.text import first_sentence, looks_like_text

log = logging.getLogger(__name__)

STORY_THRESHOLD = 0.5  # measured on the seeds: same event 0.54-0.62 with the first article, others <= 0.39
STORY_WINDOW = timedelta(days=3)  # an event's coverage clusters within days; older stories are closed
TERMS_KEPT = 16  # the rarest terms of a lead: enough to compare, small to store and to look up
# A lead sentence's words read at most: news leads are shorter (ECB+'s longest is 53 words); a text without
# sentence punctuation would otherwise be weighed word by word whole (600 unseen words: 13 ms, against 8 ms).
MAX_LEAD_WORDS = 80
# A term in more of this run's stories than this is too common to find an event by: it is not looked up, so
# a run's cost stays linear in its size (stories sharing only such terms with an article are not compared).
MAX_STORIES_PER_TERM = 100
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
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
        "amid",
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
        "new",
    ]
)


def lead_sentence(body: str) -> str:
    """The first sentence of the first paragraph of prose (section headings above it are skipped)."""
    paragraphs = [p for p in body.strip().split("\n") if p.strip()]
    first = next((p for p in paragraphs if looks_like_text(p)), paragraphs[0] if paragraphs else "")
    return first_sentence(first)


def lead_terms(body: str, language: str | None) -> dict[str, float]:
    """The lead sentence's words (crudely stemmed to 6 letters), weighted by rarity: 7.5 - Zipf frequency."""
    terms: dict[str, float] = {}
    for token in _WORD.findall(lead_sentence(body))[:MAX_LEAD_WORDS]:
        word = token.lower().strip("'’-")
        if len(word) < 3 or word in _STOP:
            continue
        stem = word[:6]
        terms[stem] = max(terms.get(stem, 0.0), _rarity(word, language))
    return dict(sorted(terms.items(), key=lambda kv: -kv[1])[:TERMS_KEPT])


def _rarity(word: str, language: str | None) -> float:
    """7.5 minus the word's Zipf frequency; 1.0 (all words equal) for a language wordfreq cannot read here.

    Chinese, Japanese and Korean need tokenizers (jieba, MeCab) that are not installed, so their words are
    weighed equally rather than failing the article.
    """
    if language not in _weighable_languages():
        return 1.0
    from wordfreq import zipf_frequency

    return max(0.5, 7.5 - zipf_frequency(word, language))


@cache
def _weighable_languages() -> frozenset[str]:
    from wordfreq import available_languages

    return frozenset(available_languages()) - _NEEDS_TOKENIZER


_NEEDS_TOKENIZER = frozenset({"zh", "ja", "ko"})


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(weight * b[term] for term, weight in a.items() if term in b)
    return dot / math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))


def _norm(terms: dict[str, float]) -> float:
    return math.sqrt(sum(w * w for w in terms.values()))


def _open(story: StoryRow, when: datetime) -> bool:
    """The story was seen within the window before `when`, and did not start long before it."""
    return story.last_seen >= when - STORY_WINDOW >= story.first_seen - 2 * STORY_WINDOW


@dataclass(slots=True)
class StoryRow:
    """A story as stored: its representative's terms, and when it was first and last seen.

    A story from the database, or one of this run's read out of its `StoryTable`.
    """

    story_id: str
    names: tuple[str, ...]
    weights: array
    first_seen: datetime
    last_seen: datetime

    @classmethod
    def of(
        cls, story_id: str, terms: dict[str, float], first_seen: datetime, last_seen: datetime
    ) -> StoryRow:
        names = tuple(sys.intern(t) for t in terms)
        return cls(story_id, names, array("d", terms.values()), first_seen, last_seen)

    @property
    def terms(self) -> dict[str, float]:
        return dict(zip(self.names, self.weights, strict=True))


_FLOAT = struct.Struct("<d")
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_WINDOW_US = STORY_WINDOW // _MICROSECOND


def _micros(when: datetime) -> int:
    """A naive UTC time as microseconds since 1970: exact, so comparisons are those of the datetimes."""
    return (when - _EPOCH) // _MICROSECOND


def _datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class StoryTable:
    """The stories this run started or joined, in columns: a row number (slot) each, in the order they were
    first added, like the keys of a dict of `StoryRow`s.

    A `StoryRow` per story took about 600 bytes with its dict entries, and a run holds one per story it
    starts (nearly one an article). Here a story is its id (8 bytes, `IdColumn`, and 16 for id -> slot),
    first and last seen as microseconds (16), its vector's length (8), and its terms as numbers into a table
    of the run's terms and of the weights they take (8 bytes a term); adding a story again under the same id replaces
    it in its slot, as a dict would.
    """

    def __init__(self) -> None:
        self.ids = IdColumn()
        self.slots = HexKeys(16)  # story id -> slot
        self.first_seen = array("q")
        self.last_seen = array("q")
        self.norms = array("d")  # vector lengths of the stories this run started (0 for others)
        self.term_start = array("q")  # slot -> where its terms start in term_numbers and term_weights
        self.term_count = array("I")
        self.term_numbers = array("i")
        self.term_weights = array("I")  # numbers into weight_values
        # The distinct weights, few (a weight is 7.5 minus a Zipf frequency rounded to 0.01): a number of 4 bytes
        # stands for a float of 8, in the stories' terms and in the postings of `StoryStage.by_term`.
        self.weight_values: list[float] = []
        self.weight_number: dict[bytes, int] = {}  # by the float's bits: exact, -0.0 apart from 0.0
        self.term_names: list[str] = []
        self.term_number: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, story_id: str) -> bool:
        return story_id in self.slots

    def slot(self, story_id: str) -> int | None:
        return self.slots.get(story_id)

    def add(
        self, story_id: str, terms: dict[str, float], first: datetime, last: datetime, norm: float = 0.0
    ) -> int:
        """Add a story (or replace the one of that id); return its slot."""
        slot = self.slots.get(story_id)
        if slot is None:
            slot = self.ids.append(story_id)
            self.slots[story_id] = slot
            for column in (self.first_seen, self.last_seen, self.term_start):
                column.append(0)
            self.norms.append(0.0)
            self.term_count.append(0)
        self.first_seen[slot], self.last_seen[slot], self.norms[slot] = _micros(first), _micros(last), norm
        self.term_start[slot], self.term_count[slot] = len(self.term_numbers), len(terms)
        for term, weight in terms.items():
            self.term_numbers.append(self.number(term))
            self.term_weights.append(self.weight(weight))
        return slot

    def weight(self, value: float) -> int:
        """The weight's number in `weight_values` (given one the first time)."""
        bits = _FLOAT.pack(value)
        number = self.weight_number.get(bits)
        if number is None:
            number = self.weight_number[bits] = len(self.weight_values)
            self.weight_values.append(float(value))
        return number

    def number(self, term: str) -> int:
        """The term's number in the run's table of terms (given one the first time)."""
        number = self.term_number.get(term)
        if number is None:
            number = self.term_number[term] = len(self.term_names)
            self.term_names.append(term)
        return number

    def seen(self, slot: int, when: datetime) -> None:
        """The story was reported at `when`: widen its first and last seen."""
        at = _micros(when)
        self.last_seen[slot] = max(self.last_seen[slot], at)
        self.first_seen[slot] = min(self.first_seen[slot], at)

    def is_open(self, slot: int, when: datetime) -> bool:
        """`_open` for the story in `slot`, in microseconds."""
        at = _micros(when) - _WINDOW_US
        return self.last_seen[slot] >= at >= self.first_seen[slot] - 2 * _WINDOW_US

    def dot(self, slot: int, weights: dict[int, float]) -> float:
        """The story's terms among `weights` (term number -> weight), each times its weight there, added in
        the story's term order."""
        start = self.term_start[slot]
        end = start + self.term_count[slot]
        values = self.weight_values
        return sum(
            weights[n] * values[w]
            for n, w in zip(self.term_numbers[start:end], self.term_weights[start:end], strict=True)
            if n in weights
        )

    def row(self, slot: int) -> StoryRow:
        start = self.term_start[slot]
        end = start + self.term_count[slot]
        names = tuple(self.term_names[n] for n in self.term_numbers[start:end])
        return StoryRow(
            self.ids[slot],
            names,
            array("d", (self.weight_values[w] for w in self.term_weights[start:end])),
            _datetime(self.first_seen[slot]),
            _datetime(self.last_seen[slot]),
        )

    def __getitem__(self, story_id: str) -> StoryRow:
        slot = self.slots.get(story_id)
        if slot is None:
            raise KeyError(story_id)
        return self.row(slot)

    def values(self) -> Iterator[StoryRow]:
        return (self.row(slot) for slot in range(len(self)))


class StoryStage(Stage):
    """Give each article about to land a `story_id`; count `joined` and `started` stories."""

    name = "stories"

    def __init__(self, ledger, history: History | None, now: datetime):
        super().__init__(ledger)
        self.history, self.now = history, now
        self.stories = StoryTable()  # stories this run started or joined
        # The stories this run started, by term: their slots in `stories`, and the term's weight in each
        # representative as its number in `stories.weight_values` (arrays: 8 bytes a posting, not a str, a
        # tuple and a float object each).
        self.by_term: dict[str, tuple[array, array]] = {}
        self._history_has_stories = history is not None and history.has_stories()

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
        terms = lead_terms(article.body, article.language)
        when = article.published_at or self.now
        best, best_score = None, 0.0
        for story, score in self._scores(terms, when):
            if score > best_score:
                best, best_score = story, score
        if best is not None and best_score >= STORY_THRESHOLD:
            if isinstance(best, StoryRow):  # a stored story, joined for the first time in this run
                article.story_id = best.story_id
                best = self.stories.add(best.story_id, best.terms, best.first_seen, best.last_seen)
            else:
                article.story_id = self.stories.ids[best]
            self.stories.seen(best, when)
            self.ledger.add(self.name, "joined")
        else:
            article.story_id = article.article_id
            slot = self.stories.add(article.story_id, terms, when, when, _norm(terms))
            for term, weight in terms.items():
                slots, weights = self.by_term.setdefault(term, (array("i"), array("I")))
                slots.append(slot)
                weights.append(self.stories.weight(weight))
            self.ledger.add(self.name, "started")
        return article

    def _scored_candidates(self, terms: dict[str, float], when: datetime) -> list[tuple[StoryRow, float]]:
        """`_scores`, each story as a `StoryRow`."""
        return [
            (self.stories.row(s) if isinstance(s, int) else s, score)
            for s, score in self._scores(terms, when)
        ]

    def _scores(self, terms: dict[str, float], when: datetime) -> list[tuple[int | StoryRow, float]]:
        """Stories open at `when` that share a lead term with the article, with their cosine similarity: a
        slot of `stories`, or a stored story this run has not met yet.

        This run's stories are found and scored through the term index: dot products added up term by term,
        so the cost is the postings visited, not stories times terms. A term too common to look up still
        counts in the score of a story found through another. Stories from earlier runs come from the
        database, one query per article, and are compared whole.
        """
        if not terms:
            return []
        stories = self.stories
        values = stories.weight_values
        dots: dict[int, float] = {}  # slot -> dot product
        common = []  # terms not looked up: their part of each candidate's dot product is added after
        for term, weight in terms.items():
            slots, weights = self.by_term.get(term, ((), ()))
            if len(slots) > MAX_STORIES_PER_TERM:
                common.append(term)
            else:
                for slot, story_weight in zip(slots, weights, strict=True):
                    dots[slot] = dots.get(slot, 0.0) + weight * values[story_weight]
        if common:
            # A common term is in `by_term`, so it has a number.
            weights_by_number = {stories.term_number[t]: terms[t] for t in common}
            for slot in dots:
                dots[slot] += stories.dot(slot, weights_by_number)
        norm = _norm(terms)
        scored: list[tuple[int | StoryRow, float]] = [
            (slot, dot / (norm * stories.norms[slot])) for slot, dot in dots.items()
        ]
        if self._history_has_stories:
            for story_id, stored, first, last in self.history.story_candidates(
                list(terms), when - STORY_WINDOW, when + STORY_WINDOW
            ):
                slot = stories.slot(story_id)
                if slot is None:
                    scored.append((StoryRow.of(story_id, stored, first, last), cosine(terms, stored)))
                elif slot not in dots:
                    scored.append((slot, cosine(terms, stories.row(slot).terms)))
        return [
            (s, score)
            for s, score in scored
            if (_open(s, when) if isinstance(s, StoryRow) else stories.is_open(s, when))
        ]

    def rows(self) -> Iterator[dict]:
        """The stories this run started or changed, for the load step."""
        for s in self.stories.values():
            yield {
                "story_id": s.story_id,
                "terms": s.terms,
                "first_seen": s.first_seen.isoformat(),
                "last_seen": s.last_seen.isoformat(),
            }
