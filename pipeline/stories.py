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
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from pipeline.models import Article
from pipeline.stage import Stage
from pipeline.store.history import History
from pipeline.text import first_sentence, looks_like_text

log = logging.getLogger(__name__)

STORY_THRESHOLD = 0.5  # measured on the seeds: same event 0.54-0.62 with the first article, others <= 0.39
STORY_WINDOW = timedelta(days=3)  # an event's coverage clusters within days; older stories are closed
TERMS_KEPT = 16  # the rarest terms of a lead: enough to compare, small to store and to look up
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
    for token in _WORD.findall(lead_sentence(body)):
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

    The terms are kept as a tuple of shared (interned) strings and an array of weights: about 400 bytes for 16
    terms, where a dict of str and float objects takes 1.9 KB, and a run holds a row per story it starts.
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


class StoryStage(Stage):
    """Give each article about to land a `story_id`; count `joined` and `started` stories."""

    name = "stories"

    def __init__(self, ledger, history: History | None, now: datetime):
        super().__init__(ledger)
        self.history, self.now = history, now
        self.stories: dict[str, StoryRow] = {}  # stories this run started or joined
        # The stories this run started, by term: their ids, and the term's weight in each representative (an
        # array: 16 bytes a posting, not a tuple and a float object each).
        self.by_term: dict[str, tuple[list[str], array]] = {}
        self.norms: dict[str, float] = {}  # their representatives' vector lengths
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
        for story, score in self._scored_candidates(terms, when):
            if score > best_score:
                best, best_score = story, score
        if best is not None and best_score >= STORY_THRESHOLD:
            article.story_id = best.story_id
            best.last_seen = max(best.last_seen, when)
            best.first_seen = min(best.first_seen, when)
            self.stories[best.story_id] = best
            self.ledger.add(self.name, "joined")
        else:
            article.story_id = article.article_id
            self.stories[article.story_id] = StoryRow.of(article.story_id, terms, when, when)
            self.norms[article.story_id] = _norm(terms)
            for term, weight in terms.items():
                ids, weights = self.by_term.setdefault(term, ([], array("d")))
                ids.append(article.story_id)
                weights.append(weight)
            self.ledger.add(self.name, "started")
        return article

    def _scored_candidates(self, terms: dict[str, float], when: datetime) -> list[tuple[StoryRow, float]]:
        """Stories open at `when` that share a lead term with the article, with their cosine similarity.

        This run's stories are found and scored through the term index: dot products added up term by term,
        so the cost is the postings visited, not stories times terms. A term too common to look up still
        counts in the score of a story found through another. Stories from earlier runs come from the
        database, one query per article, and are compared whole.
        """
        if not terms:
            return []
        dots: dict[str, float] = {}
        common = []  # terms not looked up: their part of each candidate's dot product is added after
        for term, weight in terms.items():
            ids, weights = self.by_term.get(term, ((), ()))
            if len(ids) > MAX_STORIES_PER_TERM:
                common.append(term)
            else:
                for story_id, story_weight in zip(ids, weights, strict=True):
                    dots[story_id] = dots.get(story_id, 0.0) + weight * story_weight
        for story_id in dots if common else ():
            story = self.stories[story_id]
            dots[story_id] += sum(
                terms[t] * w for t, w in zip(story.names, story.weights, strict=True) if t in common
            )
        norm = _norm(terms)
        scored = [(self.stories[sid], dot / (norm * self.norms[sid])) for sid, dot in dots.items()]
        if self._history_has_stories:
            for story_id, stored, first, last in self.history.story_candidates(
                list(terms), when - STORY_WINDOW, when + STORY_WINDOW
            ):
                if story_id not in dots:
                    story = self.stories.get(story_id) or StoryRow.of(story_id, stored, first, last)
                    scored.append((story, cosine(terms, story.terms)))
        return [(s, score) for s, score in scored if _open(s, when)]

    def rows(self) -> Iterator[dict]:
        """The stories this run started or changed, for the load step."""
        for s in self.stories.values():
            yield {
                "story_id": s.story_id,
                "terms": s.terms,
                "first_seen": s.first_seen.isoformat(),
                "last_seen": s.last_seen.isoformat(),
            }
