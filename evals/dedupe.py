"""Score duplicate detection on an evaluation set generated from the AEB ground truth (`make eval`'s corpus).

Every ground-truth article of at least `MIN_WORDS` words becomes an ORIGINAL page under one of eight synthetic
site templates, and five copies made the ways syndication makes them (`COPY_KINDS`): the same body under
another site's template (`other_site`), a wire version with dateline and credit line (`wire`), a few words
changed (`edited`), the last paragraph dropped (`last_dropped`) and the first half only (`first_half`).
Each copy has its own URL and a changed headline. The negatives are built in: about twenty different articles
share each site template (nav, "Most read" list, share and newsletter prompts, footer; on six of the eight
sites also boilerplate the pipeline's rules do not remove: an "About us" paragraph, a plain list of section
names, on one site an editorial-standards box, about 110 words), so shared boilerplate must never make two of
them copies. The site "About us" line of the report says how much of it reached the landed bodies.

`evaluate` writes the records, fully shuffled (seeded: a copy may come before its original), as one JSONL file,
runs the real pipeline (`run_ingest`) into a scratch database and reads back where each record went: landed,
recorded as a duplicate of a landed article, or quarantined. Duplicate detection is scored as clustering
(pairwise precision and recall: predicted cluster = a landed article and everything recorded as its copy,
true cluster = the original and its copies), per copy kind too; missed pairs whose members both landed are
diagnosed from the stored MinHash signatures of the two clusters' landed articles (never an LSH candidate, or
compared and below the thresholds). Story grouping (`story_id`) is scored the same way, against the events
that AEB articles share (`evals.aeb_events`: different articles of one event are one story), and on labelled
events a caller passes (`events`). `sweep` repeats the run over a grid of dedupe settings on the same set.

    python -m evals.dedupe --corpus ../shared/corpora/aeb [--limit N] [--set NAME=VALUE] [--sweep]
"""

from __future__ import annotations

import html
import itertools
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from evals.aeb_events import event_of
from pipeline.errors import SetupError

MIN_WORDS = 80  # shorter ground-truth articles make no group: their halves would fail validation (30 words)
SEED = 0
ORIGINAL = "original"
COPY_KINDS = ("other_site", "wire", "edited", "last_dropped", "first_half")
KINDS = (ORIGINAL, *COPY_KINDS)
EVENT = "event"  # records a caller passes to score story grouping on labelled events
EDIT_RATE = (0.03, 0.05)  # share of words substituted, inserted or deleted in an `edited` copy
TARGET_PRECISION, TARGET_RECALL = 0.99, 0.95
LENGTHS = ("<200 words", "200-499", "500+")


def length_bucket(words: int) -> str:
    return LENGTHS[0] if words < 200 else LENGTHS[1] if words < 500 else LENGTHS[2]


# --- synthetic sites: templates with the boilerplate real ones carry -----------------------------------------


@dataclass(frozen=True)
class Site:
    name: str
    domain: str
    sections: tuple[str, ...]
    about: str  # an "About us" paragraph: no rule removes it
    layout: str  # article | div | main: how the page wraps its story
    about_in_story: bool  # the about box sits inside the story container (extraction keeps it) or the footer
    sections_in_story: bool  # a plain list of section names (no links) sits under the story
    standards: str = ""  # an editorial-standards box under the story (a heavy template: ~110 words kept)


SITES: tuple[Site, ...] = (
    Site(
        "The Harbour Gazette",
        "harbourgazette.example",
        ("News", "Harbour", "Business", "Sport", "Culture", "Opinion", "Weather"),
        "The Harbour Gazette has been published every morning since 1887 and is owned by the Harbour Trust, "
        "a charity that reinvests all of its income in local journalism across the coast and the islands.",
        "article",
        True,
        True,
    ),
    Site(
        "Northern Ledger",
        "northernledger.example",
        ("Home", "Politics", "Money", "Technology", "Health", "Travel", "Puzzles"),
        "Northern Ledger is an independent newsroom of sixty reporters and editors based in three cities. We "
        "are funded by our readers and never take money from the companies or politicians we cover.",
        "div",
        True,
        False,
    ),
    Site(
        "Daily Meridian",
        "dailymeridian.example",
        ("Latest", "World", "Nation", "Markets", "Science", "Arts", "Books", "Food"),
        "The Daily Meridian brings readers the stories that shape the region, with reporting from our own "
        "correspondents in twelve countries and analysis from specialists in economics, science and culture.",
        "main",
        False,
        True,
    ),
    Site(
        "Valley Courier",
        "valleycourier.example",
        ("Local", "Schools", "Crime", "Courts", "Obituaries", "Sports", "Events"),
        "The Valley Courier is the community newspaper of the upper valley towns. Our small team attends "
        "council meetings, school boards and court hearings so that residents know what is decided in their name.",
        "article",
        True,
        True,
        "Our standards: we correct errors promptly and note every correction at the foot of the story. We do "
        "not publish anonymous claims without a second source, we name the owners of the businesses we write "
        "about, and our reporters accept no gifts, free travel or paid speaking engagements from anyone they cover.",
    ),
    Site(
        "Metro Wire Today",
        "metrowiretoday.example",
        ("Top Stories", "US", "International", "Entertainment", "Lifestyle", "Autos", "Video"),
        "Metro Wire Today is a digital news service reaching four million readers a month. Our editors select "
        "and verify the most important stories of the day from our own staff and trusted partner agencies.",
        "div",
        True,
        False,
    ),
    Site(
        "The Civic Observer",
        "civicobserver.example",
        ("Front Page", "Government", "Environment", "Education", "Housing", "Transport", "Letters"),
        "The Civic Observer is a nonprofit newsroom covering public life. We investigate how public money is "
        "spent and how decisions are made, and we publish our stories free for anyone to read and republish.",
        "main",
        False,
        False,
    ),
    Site(
        "Pacific Standard Times",
        "pacificstandardtimes.example",
        ("News", "Tech", "Climate", "Ocean", "Business", "Style", "Magazine"),
        "Pacific Standard Times covers the economy, climate and technology of the Pacific rim. Founded by a "
        "group of former foreign correspondents, it publishes daily news and a weekly long-form magazine.",
        "article",
        False,
        True,
    ),
    Site(
        "Heartland Record",
        "heartlandrecord.example",
        ("Farm", "Weather", "Markets", "Rural Life", "Politics", "High School Sports", "Recipes"),
        "Heartland Record serves farm families and small towns across the plains. For more than a century our "
        "reporters have covered crop prices, weather, county politics and the people who keep rural towns going.",
        "div",
        False,
        False,
    ),
)

_SUBJECTS = (
    "City council",
    "Local school",
    "Storm",
    "New bridge",
    "Hospital",
    "Rail strike",
    "Mayor",
    "Fishing fleet",
    "Tech startup",
    "Museum",
    "Police",
    "Airport",
)
_PREDICATES = (
    "approves budget after long debate",
    "faces questions over delays",
    "reopens after repairs",
    "warns of higher costs this winter",
    "wins national award",
    "plans major expansion",
    "cuts jobs as demand falls",
    "set to close next year",
)
_AUTHORS = (
    "Jordan Hayes",
    "Priya Raman",
    "Tomasz Nowak",
    "Emily Carter",
    "Kwame Mensah",
    "Lucía Fernández",
    "Oliver Grant",
    "Mei Lin",
    "Samuel Okafor",
    "Hannah Weiss",
)
_WIRES = (  # dateline format, agency
    ("{city} ({agency}) - ", "Reuters"),
    ("{city} ({agency}) — ", "AP"),
    ("{city} ({agency}) - ", "AFP"),
)
_CITIES = ("LONDON", "WASHINGTON", "NEW YORK", "PARIS", "BERLIN", "TOKYO", "SYDNEY", "NAIROBI", "MUMBAI")
_HEADLINE_PREFIXES = ("UPDATE 1-", "Analysis: ", "Explainer: ", "Exclusive: ", "Report: ", "WATCH: ")
_HEADLINE_SUFFIXES = (" - sources", ", report says", " | Latest", " (updated)", ": what we know")
_EDIT_WORDS = (
    "also",
    "reportedly",
    "recently",
    "largely",
    "officially",
    "several",
    "still",
    "nearly",
    "local",
    "new",
    "major",
    "further",
)


def most_read(site: Site) -> list[str]:
    """The site's "Most read" headlines: fixed per site, so every page of the site carries the same list."""
    rng = random.Random(site.domain)
    return [f"{rng.choice(_SUBJECTS)} {rng.choice(_PREDICATES)}" for _ in range(5)]


def _slug(text: str, words: int = 8) -> str:
    return "-".join(re.findall(r"\w+", text.lower())[:words]) or "story"


def render_page(site: Site, title: str, author: str, paragraphs: Sequence[str], url: str) -> str:
    """An article page under the site's template: header and nav, the story, related links, prompts, footer."""
    e = html.escape
    section = site.sections[1]
    nav = "".join(f'<li><a href="/{_slug(s)}/">{e(s)}</a></li>' for s in site.sections)
    story = [
        f"<h1>{e(title)}</h1>",
        f'<p class="byline">By <a href="/authors/{_slug(author)}">{e(author)}</a></p>',
        '<p class="share">Share this article</p>',
    ]
    for n, para in enumerate(paragraphs):
        story.append(f"<p>{e(para)}</p>")
        if n == 1 and len(paragraphs) > 3:
            related = most_read(site)[0]
            story.append(f'<p class="related">Related: <a href="/{_slug(related)}">{e(related)}</a></p>')
            story.append('<div class="ad"><p>Advertisement</p></div>')
    story.append(
        f'<p class="newsletter">Sign up for the {e(site.name)} newsletter, delivered to your inbox.</p>'
    )
    about = f'<div class="about"><h3>About us</h3><p>{e(site.about)}</p></div>'
    sections = "<ul class='sections'>" + "".join(f"<li>{e(s)}</li>" for s in site.sections) + "</ul>"
    if site.about_in_story:
        story.append(about)
    if site.standards:
        story.append(f'<div class="standards"><h3>Editorial standards</h3><p>{e(site.standards)}</p></div>')
    if site.sections_in_story:
        story.append(f"<h3>Sections</h3>{sections}")
    reads = "".join(f'<li><a href="/{section.lower()}/{_slug(h)}">{e(h)}</a></li>' for h in most_read(site))
    body = "\n".join(story)
    container = {
        "article": f'<article class="story">{body}</article>',
        "div": f'<div class="story-body" itemprop="articleBody">{body}</div>',
        "main": f'<main><section class="content">{body}</section></main>',
    }[site.layout]
    footer = [f"<p>© 2024 {e(site.name)}. All rights reserved.</p>"]
    if not site.about_in_story:
        footer.insert(0, about)
    if not site.sections_in_story:
        footer.insert(0, sections)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} | {e(site.name)}</title>'
        f'<meta property="og:site_name" content="{e(site.name)}"><link rel="canonical" href="{e(url)}"></head>'
        f'<body><header><a class="logo" href="/">{e(site.name)}</a><nav><ul>{nav}</ul></nav>'
        '<form class="search"><input name="q" placeholder="Search"></form></header>'
        f"{container}"
        f'<aside class="most-read"><h2>Most read</h2><ol>{reads}</ol></aside>'
        '<aside class="promo"><p>Follow us on Facebook and Twitter for the latest updates.</p></aside>'
        f"<footer>{''.join(footer)}</footer></body></html>"
    )


# --- the evaluation set ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One record of the set and what it is: the original's id (`group`), its kind, its site template."""

    key: str  # unique: "<group>:<kind>"
    group: str  # ground truth: the id of the original this record copies (or is)
    kind: str  # original | other_site | wire | edited | last_dropped | first_half | event
    site: str | None  # the site template it is wrapped in; None for plain text
    record: dict  # the JSONL record: url, title, and html or text
    story: str = ""  # ground-truth story label; the group unless given (labelled events)
    words: int = 0  # length of the ground-truth article (the original's body)

    @property
    def story_label(self) -> str:
        return self.story or self.group

    @property
    def format(self) -> str:
        return "html" if "html" in self.record else "text"


def paragraphs_of(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?。])\s+", text.strip(), maxsplit=1)[0]


def headline_from(body: str, url: str, rng: random.Random) -> str:
    """An original's headline: its first sentence cut to a dozen words, or (one time in three) its URL slug."""
    if rng.random() < 1 / 3:
        path = [p for p in urlsplit(url).path.split("/") if p]
        words = re.findall(r"[^\W\d_]+", re.sub(r"\.\w+$", "", path[-1]) if path else "")
        if len(words) >= 4:
            return " ".join(words[:12]).capitalize()
    words = first_sentence(paragraphs_of(body)[0]).split()
    title = " ".join(words[:12]).rstrip(".,;:")
    return title[:100] if len(title) >= 5 else f"Story {_slug(body, 3)}"


def changed_headline(title: str, rng: random.Random) -> str:
    """A copy's headline: the original's, re-dressed (prefix, suffix, shortened or re-cased)."""
    way = rng.randrange(4)
    if way == 0:
        return rng.choice(_HEADLINE_PREFIXES) + title
    if way == 1:
        return title + rng.choice(_HEADLINE_SUFFIXES)
    words = title.split()
    if way == 2 and len(words) > 5:
        return " ".join(words[: max(4, len(words) * 2 // 3)]) + " …"
    for recased in (title.title(), title.upper()):
        if recased != title:
            return recased
    return title + _HEADLINE_SUFFIXES[0]  # a script without case


def edit_words(paragraphs: Sequence[str], rng: random.Random) -> list[str]:
    """About 3-5% of the words substituted, inserted or deleted, at random places."""
    paras = [p.split() for p in paragraphs]
    total = sum(len(p) for p in paras)
    for _ in range(max(1, round(total * rng.uniform(*EDIT_RATE)))):
        words = rng.choices(paras, weights=[len(p) for p in paras])[0]
        at = rng.randrange(len(words))
        op = rng.choice(("substitute", "insert", "delete")) if len(words) > 1 else "insert"
        if op == "substitute":
            words[at] = rng.choice(_EDIT_WORDS)
        elif op == "insert":
            words.insert(at, rng.choice(_EDIT_WORDS))
        else:
            del words[at]
    return [" ".join(p) for p in paras]


def drop_last(paragraphs: Sequence[str]) -> list[str]:
    """Without the last paragraph (a one-paragraph article loses its last sentence)."""
    if len(paragraphs) > 1:
        return list(paragraphs[:-1])
    sentences = re.split(r"(?<=[.!?])\s+", paragraphs[0])
    return [" ".join(sentences[:-1])] if len(sentences) > 1 else [" ".join(paragraphs[0].split()[:-20])]


def first_half(paragraphs: Sequence[str]) -> list[str]:
    """The first half of the words: cut at a paragraph end when one falls between 40% and 60%, else mid-way."""
    total = sum(len(p.split()) for p in paragraphs)
    seen = 0
    for n, para in enumerate(paragraphs):
        seen += len(para.split())
        if 0.4 * total <= seen <= 0.6 * total:
            return list(paragraphs[: n + 1])
        if seen > 0.6 * total:
            keep = len(para.split()) - (seen - total // 2)
            return [*paragraphs[:n], " ".join(para.split()[:keep]) + " …"]
    return list(paragraphs)


def generate(truths: Iterable, seed: int = SEED) -> list[Case]:
    """The evaluation set: per ground-truth article (`.id`, `.url`, `.truth`, as `evaluate.Page` has) of at
    least `MIN_WORDS` words, an original and one copy of each kind in `COPY_KINDS`. Deterministic in `seed`."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for n, page in enumerate(sorted(truths, key=lambda p: p.id)):
        if len(page.truth.split()) >= MIN_WORDS and paragraphs_of(page.truth):
            cases.extend(article_cases(page, n, rng))
    return cases


def article_cases(page, n: int, rng: random.Random) -> list[Case]:
    """One article's original (under a site template) and its copies, each with its own URL and headline."""
    paras = paragraphs_of(page.truth)
    home = rng.choice(SITES)
    others = [s for s in SITES if s is not home]
    title = headline_from(page.truth, page.url, rng)
    slug = f"{_slug(title, 6)}-{n}"
    cases: list[Case] = []

    def add(
        kind: str, site: Site | None, headline: str, body: Sequence[str], author: str, host: str = ""
    ) -> None:
        host = host or (f"www.{site.domain}" if site else "feeds.example")
        section = _slug(site.sections[1]) if site else "items"
        url = f"https://{host}/{section}/{slug}-{kind.replace('_', '-')}"
        if site is None:
            record = {"url": url, "title": headline, "text": "\n\n".join(body)}
        else:
            record = {"url": url, "title": headline, "html": render_page(site, headline, author, body, url)}
        site_name = site.name if site else None
        cases.append(
            Case(
                f"{page.id}:{kind}",
                page.id,
                kind,
                site_name,
                record,
                story=event_of(page.id),
                words=len(page.truth.split()),
            )
        )

    add(ORIGINAL, home, title, paras, rng.choice(_AUTHORS))
    add("other_site", rng.choice(others), changed_headline(title, rng), paras, rng.choice(_AUTHORS))
    dateline, agency = rng.choice(_WIRES)
    wired = [dateline.format(city=rng.choice(_CITIES), agency=agency) + paras[0], *paras[1:]]
    wired.append(f"(Reporting by {rng.choice(_AUTHORS)}; Editing by {rng.choice(_AUTHORS)})")
    wire_title = "UPDATE 1-" + title if rng.random() < 0.5 else changed_headline(title, rng)
    wire_site = None if rng.random() < 0.5 else rng.choice(others)  # a wire feed's text, or a client's page
    add("wire", wire_site, wire_title, wired, agency, host=f"{agency.lower()}-wire.example")
    edited_site = rng.choice(SITES)  # a revised copy: any site, the original's own template included
    add("edited", edited_site, changed_headline(title, rng), edit_words(paras, rng), rng.choice(_AUTHORS))
    dropped_site = None if rng.random() < 0.5 else rng.choice(others)
    add("last_dropped", dropped_site, changed_headline(title, rng), drop_last(paras), rng.choice(_AUTHORS))
    add(
        "first_half",
        rng.choice(others),
        changed_headline(title, rng),
        first_half(paras),
        rng.choice(_AUTHORS),
    )
    return cases


def event_cases(events: Iterable[Mapping]) -> list[Case]:
    """Cases from records a caller labelled with an `event` (different articles on one event share it).

    Each is its own dedupe group unless it names one (`group`); `url`, `title` and `html` or `text` are the
    record written for the pipeline.
    """
    cases = []
    for n, event in enumerate(events):
        record = {k: event[k] for k in ("url", "title", "html", "text") if k in event}
        group = str(event.get("group") or f"event-{n}")
        cases.append(
            Case(f"{group}:{EVENT}:{n}", group, EVENT, event.get("site"), record, str(event["event"]))
        )
    return cases


# --- scoring ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairScores:
    """Pairwise clustering scores: pairs in one predicted cluster against pairs in one true group."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def pairs_within(clusters: Mapping) -> int:
    """How many pairs of items share a label (item -> label)."""
    return sum(n * (n - 1) // 2 for n in Counter(clusters.values()).values())


def pair_scores(truth: Mapping[str, str], predicted: Mapping[str, str]) -> PairScores:
    """Pairwise precision/recall of a clustering: `truth` and `predicted` map each item to its cluster label.

    Only items in both are counted. A pair is a true positive when both mappings put its items together.
    """
    keys = [k for k in truth if k in predicted]
    both = pairs_within({k: f"{truth[k]}\x00{predicted[k]}" for k in keys})
    same_true = pairs_within({k: truth[k] for k in keys})
    same_pred = pairs_within({k: predicted[k] for k in keys})
    return PairScores(both, same_pred - both, same_true - both)


@dataclass
class KindScore:
    pairs: int = 0  # (original, copy of this kind) pairs
    found: int = 0  # ... put in one cluster
    methods: Counter = field(default_factory=Counter)  # how the copy (or its original) was recorded
    misses: Counter = field(default_factory=Counter)  # why a pair was missed

    @property
    def recall(self) -> float | None:
        return self.found / self.pairs if self.pairs else None


@dataclass
class Report:
    settings: dict
    records: int
    groups: int
    kinds: dict[str, KindScore]
    overall: PairScores
    false_merges: Counter  # "kind+kind" (and " same template") -> pairs wrongly put together
    false_merge_examples: list[tuple[str, str, str, float]]  # (key, key, method, similarity)
    template_negatives: int  # pairs of different articles wrapped in one site template
    template_negatives_merged: int
    groups_lost: list[str]  # groups none of whose records landed
    quarantined: Counter  # reason -> records
    quarantined_by_kind: Counter
    story_landed: PairScores  # story_id over landed articles
    story_records: PairScores  # every record takes the story of the article it landed as or copies
    # landed pages whose body kept their site's "About us" text ("about_text") of all landed pages ("html_landed")
    template_in_bodies: dict[str, int]
    run: dict  # the run summary's counts
    seconds: float
    events: PairScores | None = None  # story grouping on labelled events, when given
    by_length: dict[str, KindScore] = field(default_factory=dict)  # (original, copy) pairs by article length
    truncated_heads: int = 0  # groups whose only landed record is a partial copy: the full text did not land
    orphan_duplicates: int = 0  # duplicates of an article that did not land (the pipeline promises none)
    # landed pairs given one story_id though they are different stories, by kinds
    story_false_merges: Counter = field(default_factory=Counter)

    @property
    def meets_targets(self) -> bool:
        p, r = self.overall.precision, self.overall.recall
        return p is not None and r is not None and p >= TARGET_PRECISION and r >= TARGET_RECALL


@dataclass
class Outcome:
    """Where one record went."""

    status: str  # landed | duplicate | quarantined | missing
    cluster: str  # the article id it landed as or copies (its own would-be id when quarantined)
    method: str | None = None
    similarity: float | None = None
    reasons: tuple[str, ...] = ()
    story: str | None = None


def expected_id(record: Mapping) -> str:
    """The article id the pipeline gives a record with a URL (a hash of the canonical URL)."""
    from pipeline.document.enrich import canonical_url, stable_id

    return stable_id("url", canonical_url(record["url"]) or record["url"])


def run_cases(
    cases: Sequence[Case], workdir: Path, settings_overrides: Mapping | None = None, seed: int = SEED
):
    """Write the cases (shuffled, seeded) as one JSONL file, run the real pipeline on it, read back the outcome
    of every case. Returns (outcomes by case key, landed article id -> (shingle count, MinHash blob, LSH band
    keys), landed article id -> body, the run summary, the settings used)."""
    import duckdb

    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    order = list(cases)
    random.Random(seed).shuffle(order)
    records = workdir / "dedupe-eval.jsonl"
    with records.open("w", encoding="utf-8") as f:
        for case in order:
            f.write(json.dumps(case.record, ensure_ascii=False) + "\n")
    settings = Settings.from_env(db_path=workdir / "dedupe-eval.duckdb", **dict(settings_overrides or {}))
    summary = run_ingest([str(records)], settings, trigger="eval")

    def line(uri: str) -> int:
        return int(uri.rsplit("#", 1)[1])

    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        landed = con.execute("SELECT source_uri, article_id, story_id, body FROM articles").fetchall()
        dups = con.execute(
            "SELECT source_uri, duplicate_of, method, similarity FROM article_duplicates"
        ).fetchall()
        quarantine = con.execute("SELECT source_uri, reasons, payload FROM quarantine").fetchall()
        sigs = con.execute(
            "SELECT m.article_id, m.shingle_count, m.minhash, list(l.band_key) FROM article_minhash m "
            "JOIN article_lsh l USING (article_id) GROUP BY ALL"
        ).fetchall()
    story_of = {aid: story for _, aid, story, _ in landed}
    by_line: dict[int, Outcome] = {}
    bodies: dict[str, str] = {}
    for uri, aid, story, body in landed:
        by_line[line(uri)] = Outcome("landed", aid, story=story)
        bodies[aid] = body
    for uri, original, method, sim in dups:
        by_line[line(uri)] = Outcome("duplicate", original, method, sim, story=story_of.get(original))
    for uri, reasons, payload in quarantine:
        if "#" not in uri:
            continue
        # a copy of an article that failed validation counts with that article
        copy_of = json.loads(payload or "{}").get("duplicate_of")
        case = order[line(uri) - 1]
        by_line[line(uri)] = Outcome(
            "quarantined", copy_of or expected_id(case.record), reasons=tuple(reasons)
        )
    outcomes = {
        case.key: by_line.get(n, Outcome("missing", expected_id(case.record)))
        for n, case in enumerate(order, 1)
    }
    signatures = {aid: (shingles, blob, set(keys)) for aid, shingles, blob, keys in sigs}
    return outcomes, signatures, bodies, summary, settings


def score_outcomes(
    cases: Sequence[Case],
    outcomes: Mapping[str, Outcome],
    signatures: Mapping | None = None,
    bodies: Mapping[str, str] | None = None,
    settings=None,
) -> dict:
    """Every score of the report from where each case went (see `Report`)."""
    main = [c for c in cases if c.kind != EVENT]
    events = [c for c in cases if c.kind == EVENT]
    truth = {c.key: c.group for c in main}
    predicted = {c.key: outcomes[c.key].cluster for c in main}
    overall = pair_scores(truth, predicted)

    by_group: dict[str, list[Case]] = defaultdict(list)
    for c in main:
        by_group[c.group].append(c)
    kinds = {k: KindScore() for k in COPY_KINDS}
    by_length = {b: KindScore() for b in LENGTHS}
    for members in by_group.values():
        original = next((c for c in members if c.kind == ORIGINAL), None)
        if original is None:
            continue
        for copy in members:
            if copy.kind not in kinds:
                continue
            a, b = outcomes[original.key], outcomes[copy.key]
            for score in (kinds[copy.kind], by_length[length_bucket(original.words)]):
                score.pairs += 1
                if a.cluster == b.cluster:
                    score.found += 1
                    score.methods[(b if b.status == "duplicate" else a).method or "?"] += 1
                else:
                    score.misses[_miss_reason(a, b, signatures, settings)] += 1

    false_merges: Counter = Counter()
    examples = []
    by_cluster: dict[str, list[Case]] = defaultdict(list)
    for c in main:
        by_cluster[predicted[c.key]].append(c)
    for members in by_cluster.values():
        for a, b in itertools.combinations(members, 2):
            if a.group == b.group:
                continue
            same = a.site is not None and a.site == b.site
            false_merges["+".join(sorted((a.kind, b.kind))) + (" same template" if same else "")] += 1
            dup = outcomes[a.key] if outcomes[a.key].status == "duplicate" else outcomes[b.key]
            examples.append((a.key, b.key, dup.method or "?", dup.similarity or 0.0))
    by_site = Counter(c.site for c in main if c.site)
    same_site = sum(n * (n - 1) // 2 for n in by_site.values())
    same_site_same_group = sum(
        n * (n - 1) // 2 for n in Counter((c.site, c.group) for c in main if c.site).values()
    )
    negatives = same_site - same_site_same_group
    merged_negatives = sum(n for k, n in false_merges.items() if k.endswith(" same template"))

    landed_groups = {c.group for c in main if outcomes[c.key].status == "landed"}
    lost = sorted(g for g in by_group if g not in landed_groups)
    landed_kinds: dict[str, set[str]] = defaultdict(set)
    for c in main:
        if outcomes[c.key].status == "landed":
            landed_kinds[c.group].add(c.kind)
    truncated = sum(1 for kinds_ in landed_kinds.values() if kinds_ <= {"first_half", "last_dropped"})
    landed_ids = {o.cluster for o in outcomes.values() if o.status == "landed"}
    orphans = sum(1 for o in outcomes.values() if o.status == "duplicate" and o.cluster not in landed_ids)
    quarantined = Counter(r for c in main for r in outcomes[c.key].reasons)
    quarantined_by_kind = Counter(c.kind for c in main if outcomes[c.key].status == "quarantined")

    landed = [c for c in main if outcomes[c.key].status == "landed"]
    story_landed = pair_scores(
        {c.key: c.story_label for c in landed}, {c.key: outcomes[c.key].story for c in landed}
    )
    story_false_merges: Counter = Counter()
    by_story: dict[str | None, list[Case]] = defaultdict(list)
    for c in landed:
        by_story[outcomes[c.key].story].append(c)
    for members in by_story.values():
        for a, b in itertools.combinations(members, 2):
            if a.story_label != b.story_label:
                same = a.site is not None and a.site == b.site
                story_false_merges[
                    "+".join(sorted((a.kind, b.kind))) + (" same template" if same else "")
                ] += 1
    placed = [c for c in main if outcomes[c.key].story is not None]
    story_records = pair_scores(
        {c.key: c.story_label for c in placed}, {c.key: outcomes[c.key].story for c in placed}
    )
    event_scores = None
    if events:
        placed = [c for c in events if outcomes[c.key].story is not None]
        event_scores = pair_scores(
            {c.key: c.story_label for c in placed}, {c.key: outcomes[c.key].story for c in placed}
        )

    sites = {s.name: s for s in SITES}
    carrying, html_landed = 0, 0
    for c in landed:
        if c.site and bodies is not None:
            html_landed += 1
            carrying += sites[c.site].about[:60] in (bodies.get(outcomes[c.key].cluster) or "")
    return {
        "records": len(main),
        "groups": len(by_group),
        "kinds": kinds,
        "overall": overall,
        "false_merges": false_merges,
        "false_merge_examples": examples[:10],
        "template_negatives": negatives,
        "template_negatives_merged": merged_negatives,
        "groups_lost": lost,
        "quarantined": quarantined,
        "quarantined_by_kind": quarantined_by_kind,
        "story_landed": story_landed,
        "story_records": story_records,
        "template_in_bodies": {"about_text": carrying, "html_landed": html_landed},
        "events": event_scores,
        "by_length": by_length,
        "truncated_heads": truncated,
        "orphan_duplicates": orphans,
        "story_false_merges": story_false_merges,
    }


def _miss_reason(a: Outcome, b: Outcome, signatures: Mapping | None, settings) -> str:
    """Why an (original, copy) pair was not put together, judged on the landed articles heading their two
    clusters: a record was quarantined; the two were never compared (no shared LSH band), though similar enough
    or not; or they were compared and fell below both thresholds."""
    if a.status == "quarantined" or b.status == "quarantined":
        return "quarantined"
    if not signatures or settings is None or a.cluster not in signatures or b.cluster not in signatures:
        return "not_compared"
    from pipeline.dedupe.minhash import Signature, similarity

    (na, blob_a, keys_a), (nb, blob_b, keys_b) = signatures[a.cluster], signatures[b.cluster]
    jaccard, containment = similarity(Signature.from_bytes(na, blob_a), Signature.from_bytes(nb, blob_b))
    passes = jaccard >= settings.near_dup_jaccard or containment >= settings.near_dup_containment
    if not keys_a & keys_b:
        return "no_lsh_band (similar enough)" if passes else "no_lsh_band, below thresholds"
    return "below_thresholds" if not passes else "shared_band_and_similar (?)"


def evaluate(
    corpus_root: Path,
    settings_overrides: Mapping | None = None,
    limit: int | None = None,
    seed: int = SEED,
    events: Iterable[Mapping] | None = None,
    cases: Sequence[Case] | None = None,
) -> Report:
    """Generate the set from the AEB corpus at `corpus_root` (its first `limit` articles), run the pipeline on it
    with `settings_overrides`, and score it. `events`: extra records labelled with an `event`, to score story
    grouping on (see `event_cases`). `cases` skips loading and generating (the sweep reuses one set)."""
    import tempfile

    if cases is None:
        cases = build_cases(corpus_root, limit, seed)
    cases = [*cases, *event_cases(events or ())]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dedupe-eval-") as tmp:
        outcomes, signatures, bodies, summary, settings = run_cases(
            cases, Path(tmp), settings_overrides, seed
        )
    seconds = time.monotonic() - started
    scores = score_outcomes(cases, outcomes, signatures, bodies, settings)
    return Report(
        settings={
            k: getattr(settings, k)
            for k in (
                "shingle_size",
                "minhash_perms",
                "lsh_bands",
                "near_dup_jaccard",
                "near_dup_containment",
            )
        },
        run={k: getattr(summary, k) for k in ("read", "landed", "duplicates", "quarantined", "skipped")},
        seconds=seconds,
        **scores,
    )


def build_cases(corpus_root: Path, limit: int | None = None, seed: int = SEED) -> list[Case]:
    """The set for the corpus: its articles long enough to copy, the first `limit` of them."""
    from evals.extraction import load_corpus

    pages = [p for p in load_corpus(Path(corpus_root)) if len(p.truth.split()) >= MIN_WORDS]
    return generate(pages[:limit], seed)


# --- output ----------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def format_report(report: Report) -> str:
    s = report.settings
    lines = [
        f"dedupe eval: {report.records} records, {report.groups} articles (groups); shingles {s['shingle_size']}, "
        f"{s['minhash_perms']} perms / {s['lsh_bands']} bands, jaccard >= {s['near_dup_jaccard']}, "
        f"containment >= {s['near_dup_containment']}",
        f"run: read {report.run['read']} = landed {report.run['landed']} + duplicates {report.run['duplicates']}"
        f" + quarantined {report.run['quarantined']} + skipped {report.run['skipped']}  ({report.seconds:.0f} s)",
        "",
        f"{'kind':<14} {'pairs':>6} {'found':>6} {'recall':>7}  how found / why missed",
    ]
    for kind, k in report.kinds.items():
        how = ", ".join(f"{m} {n}" for m, n in k.methods.most_common())
        why = ", ".join(f"{m} {n}" for m, n in k.misses.most_common())
        lines.append(
            f"{kind:<14} {k.pairs:>6} {k.found:>6} {_fmt(k.recall):>7}  {how}{' | missed: ' + why if why else ''}"
        )
    for bucket, k in report.by_length.items():
        why = ", ".join(f"{m} {n}" for m, n in k.misses.most_common())
        lines.append(
            f"{bucket:<14} {k.pairs:>6} {k.found:>6} {_fmt(k.recall):>7}  {'missed: ' + why if why else ''}"
        )
    o = report.overall
    lines += [
        "",
        f"all pairs: precision {_fmt(o.precision)}  recall {_fmt(o.recall)}  (tp {o.tp}, false merges {o.fp}, "
        f"missed {o.fn}); targets P >= {TARGET_PRECISION}, R >= {TARGET_RECALL}: "
        + ("met" if report.meets_targets else "NOT met"),
        f"negatives sharing a site template: {report.template_negatives} pairs, merged {report.template_negatives_merged}",
        "false merges by kind: "
        + (", ".join(f"{k} {n}" for k, n in report.false_merges.most_common()) or "none"),
    ]
    lines += [f"  e.g. {a} ~ {b} ({m} {sim})" for a, b, m, sim in report.false_merge_examples[:5]]
    lost = report.groups_lost
    lines += [
        f"articles lost (no landed record): {len(lost)}"
        + (f" e.g. {', '.join(g[:12] for g in lost[:5])}" if lost else ""),
        "quarantined: "
        + (
            ", ".join(f"{r} {n}" for r, n in report.quarantined.most_common())
            + " (by kind: "
            + ", ".join(f"{k} {n}" for k, n in report.quarantined_by_kind.most_common())
            + ")"
            if report.quarantined
            else "none"
        ),
        f"groups whose full text did not land (only a first_half/last_dropped copy did): {report.truncated_heads}",
        f"duplicates recorded against an article that did not land: {report.orphan_duplicates}",
        f"site 'About us' text kept in landed bodies: {report.template_in_bodies['about_text']} of "
        f"{report.template_in_bodies['html_landed']} landed pages",
        f"story_id, landed articles: precision {_fmt(report.story_landed.precision)}  recall "
        f"{_fmt(report.story_landed.recall)}  ({report.story_landed.tp + report.story_landed.fn} true pairs)",
        f"story_id, all records (a copy takes its original's): precision {_fmt(report.story_records.precision)}  "
        f"recall {_fmt(report.story_records.recall)}",
    ]
    if report.story_false_merges:
        lines.append(
            "  story false merges (landed pairs): "
            + ", ".join(f"{k} {n}" for k, n in report.story_false_merges.most_common())
        )
    if report.events is not None:
        e = report.events
        lines.append(f"story_id, labelled events: precision {_fmt(e.precision)}  recall {_fmt(e.recall)}")
    return "\n".join(lines)


def make_grid(
    shingles: Iterable[int] = (3, 5),
    jaccards: Iterable[float] = (0.5, 0.6, 0.7),
    containments: Iterable[float] = (0.7, 0.8, 0.9),
    bands: Iterable[int] = (32, 64),
    perms: int = 128,
) -> list[dict]:
    """Settings overrides for every combination: the sweep's rows."""
    return [
        {
            "shingle_size": sh,
            "minhash_perms": perms,
            "lsh_bands": b,
            "near_dup_jaccard": j,
            "near_dup_containment": c,
        }
        for b, sh, j, c in itertools.product(bands, shingles, jaccards, containments)
    ]


DEFAULT_GRID: tuple[dict, ...] = tuple(make_grid())


def sweep(
    corpus_root: Path,
    grid: Iterable[Mapping] = DEFAULT_GRID,
    limit: int | None = None,
    seed: int = SEED,
    progress=None,
    cases: Sequence[Case] | None = None,
) -> list[Report]:
    """`evaluate` for each settings override in `grid`, on one generated set (about 40 s a row for the full
    set on two cores); `progress` is called with each report as it comes."""
    cases = build_cases(corpus_root, limit, seed) if cases is None else cases
    reports = []
    for overrides in grid:
        reports.append(evaluate(corpus_root, overrides, seed=seed, cases=cases))
        if progress:
            progress(reports[-1])
    return reports


def format_sweep(reports: Sequence[Report]) -> str:
    header = (
        f"{'sh':>2} {'perm/band':>9} {'J':>4} {'C':>4} {'prec':>6} {'recall':>6} "
        + " ".join(f"{k[:9]:>9}" for k in COPY_KINDS)
        + f" {'merges':>6} {'lost':>4} {'s':>4}"
    )
    lines = [header]
    for r in reports:
        s = r.settings
        lines.append(
            f"{s['shingle_size']:>2} {s['minhash_perms']:>4}/{s['lsh_bands']:<4} {s['near_dup_jaccard']:>4} "
            f"{s['near_dup_containment']:>4} {_fmt(r.overall.precision):>6} {_fmt(r.overall.recall):>6} "
            + " ".join(f"{_fmt(r.kinds[k].recall):>9}" for k in COPY_KINDS)
            + f" {r.overall.fp:>6} {len(r.groups_lost):>4} {r.seconds:>4.0f}"
            + ("  *" if r.meets_targets else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import logging

    parser = argparse.ArgumentParser(
        prog="python -m evals.dedupe",
        description=(
            "Score duplicate detection on copies generated from the AEB ground truth (other-site, wire, edited, "
            "last-paragraph-dropped and first-half copies; different articles sharing site templates as "
            "negatives): pairwise precision and recall, per kind, articles lost, story grouping."
        ),
    )
    parser.add_argument("--corpus", type=Path, required=True, help="AEB folder: ground-truth.json and html/")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles (quick checks)")
    parser.add_argument("--seed", type=int, default=SEED, help="generation and shuffle seed")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a dedupe setting for this run, e.g. --set shingle_size=3 --set lsh_bands=64 (repeatable)",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="run a grid of dedupe settings (shingle size x Jaccard {0.5,0.6,0.7} x containment {0.7,0.8,0.9} "
        "x LSH bands) and tabulate; about 40 s a row on the full set",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the headline figures here")
    parser.add_argument("--shingles", default="3,5", help="sweep: shingle sizes (default 3,5)")
    parser.add_argument(
        "--bands", default="32,64", help="sweep: LSH bands of 128 permutations (default 32,64)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cases = build_cases(args.corpus, args.limit, args.seed)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        overrides = dict(_setting(item) for item in args.set)
        from dataclasses import fields

        from pipeline.settings import Settings

        unknown = set(overrides) - {f.name for f in fields(Settings)}
        if unknown:
            raise ValueError(f"--set: no such setting {', '.join(sorted(unknown))}")
        grid = make_grid(
            shingles=[int(x) for x in args.shingles.split(",")], bands=[int(x) for x in args.bands.split(",")]
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(f"dedupe eval: {len(cases)} records from {args.corpus}", file=sys.stderr)
    if args.sweep:
        print(format_sweep([]), file=sys.stderr)
        reports = sweep(
            args.corpus,
            [{**row, **overrides} for row in grid],
            seed=args.seed,
            progress=lambda r: print(format_sweep([r]).splitlines()[1], file=sys.stderr),
            cases=cases,
        )
        print(format_sweep(reports))
        print(f"(* meets precision >= {TARGET_PRECISION} and recall >= {TARGET_RECALL})")
        return 0
    try:
        report = evaluate(args.corpus, overrides, seed=args.seed, cases=cases)
    except SetupError as exc:  # a bad setting
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(figures(report), indent=2))
    return 0


def figures(report: Report) -> dict:
    """The headline figures of a report, as `make bench` compares them across commits."""
    return {
        "records": report.records,
        "precision": report.overall.precision,
        "recall": report.overall.recall,
        "false_merges": report.overall.fp,
        "template_negatives_merged": report.template_negatives_merged,
        "articles_lost": len(report.groups_lost),
        "story_records_precision": report.story_records.precision,
        "story_records_recall": report.story_records.recall,
    }


def _setting(item: str) -> tuple[str, float | int]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"--set {item!r}: expected NAME=VALUE")
    return name.strip(), float(value) if "." in value else int(value)


if __name__ == "__main__":
    raise SystemExit(main())
