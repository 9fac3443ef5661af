"""Score extraction on the fundus test pages: body, title, authors and date, per language, on two halves.

The corpus (`../shared/corpora/fundus`, see its README) holds 129 real news pages of 91 publishers in 19
languages, each with the title, authors, publication time and body fundus's hand-written parser gives. Its
README says how to score, and this module follows it:

- body: the AEB metric (`evals.extraction.score`) after the same normalisation of both texts (`normalize`:
  NFC, soft hyphens, word joiners and BOMs deleted, zero-width spaces as spaces);
- title: exact after that normalisation and collapsing whitespace (`title_exact`), and a loose variant (NFKC,
  case-folded, word tokens only: `title_loose`);
- authors: set match of the names split on separators and "and" words (`author_names`), pages whose expected
  authors are null left out;
- date: the same day, in the expected value's own offset or in UTC, or in any offset from -12 h to +14 h when
  the expected value has none (`date_match`); `published_at_checked` wins where present.

No rule of the pipeline was written from these pages, but the next ones may be: `split_of` puts each publisher
(all its pages) in a "tune" half, to read and write rules from, or a "report" half, to measure on.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from evals.extraction import (
    Scores,
    format_signals,
    ingest_records,
    page_html,
    score,
    score_page,
    signals_fired,
    tokens,
)
from pipeline.errors import SetupError

HALVES = ("tune", "report")
SUBSETS = ("all", *HALVES)

# --- normalisation and the matching rules of the corpus README ("How to score") ---------------------------

_DELETED = dict.fromkeys(map(ord, "\u00ad\u2060\ufeff"))  # soft hyphen, word joiner, BOM
_DELETED[0x200B] = " "  # a zero-width space separates words
_SPACES = re.compile(r"\s+")


def normalize(text: str | None) -> str:
    """NFC, with the invisible characters that split or join words removed, applied to truth and prediction."""
    return unicodedata.normalize("NFC", text or "").translate(_DELETED)


def _collapse(text: str | None) -> str:
    return _SPACES.sub(" ", normalize(text)).strip()  # \s covers no-break spaces too


def title_exact(expected: str | None, predicted: str | None) -> bool:
    return bool(_collapse(expected)) and _collapse(expected) == _collapse(predicted)


def title_loose(expected: str | None, predicted: str | None) -> bool:
    """NFKC, case-folded, word tokens only: punctuation, quotes and spacing do not count."""

    def words(text: str | None) -> list[str]:
        return tokens(unicodedata.normalize("NFKC", normalize(text)).casefold())

    return bool(words(expected)) and words(expected) == words(predicted)


# ";", ",", "|" (and their full-width forms), " & ", and the corpus languages' "and". The one- and two-letter
# words only in lower case, so that an initial ("John E Smith") or a name ("Dan", "Na") is never a separator.
_NAME_SPLIT = re.compile(
    r"\s*[;,|，、；｜]\s*|\s+&\s+"
    r"|\s+(?i:and|und)\s+"
    r"|\s+(?:et|y|e|ed|i|og|och|ve|и|dan|na|ir|oraz)\s+"
)
_BY = re.compile(r"^(?i:by|von)\b:?\s*")


def author_names(value: str | Iterable[str] | None) -> frozenset[str]:
    """The names of an author field (one string, or a list of them), split, stripped of "By"/"Von", folded."""
    if value is None:
        return frozenset()
    values = [value] if isinstance(value, str) else list(value)
    names = set()
    for part in values:
        for name in _NAME_SPLIT.split(_collapse(part)):
            name = _BY.sub("", name.strip()).strip()
            if name:
                names.add(name.casefold())
    return frozenset(names)


def authors_match(expected: list[str] | None, predicted: str | Iterable[str] | None) -> bool | None:
    """None when the expected authors are null (the page is left out of the author figure)."""
    if expected is None:
        return None
    return author_names(expected) == author_names(predicted)


def _parse_moment(value: str | date | datetime) -> date | datetime:
    """A day (date), or a moment (datetime, naive when the value has no offset)."""
    if isinstance(value, datetime | date):
        return value
    text = value.strip()
    if len(text) == 10:  # YYYY-MM-DD
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


def date_match(expected: str, predicted: str | date | datetime | None) -> bool:
    """The predicted day equals the expected one, counted in the expected value's own offset or in UTC.

    Where the expected value has no offset (or is a day), a predicted moment may be read in any offset from
    -12 h to +14 h. A predicted day (trafilatura gives only that) is compared as it is; a predicted moment
    without offset is taken as UTC, which is how the pipeline stores its times.
    """
    if predicted is None or predicted == "":
        return False
    want, got = _parse_moment(expected), _parse_moment(predicted)
    if isinstance(got, datetime) and got.tzinfo is None:
        got = got.replace(tzinfo=UTC)
    if not isinstance(want, datetime) or want.tzinfo is None:
        day = want.date() if isinstance(want, datetime) else want
        if not isinstance(got, datetime):
            return got == day
        got = got.astimezone(UTC)
        return (got - timedelta(hours=12)).date() <= day <= (got + timedelta(hours=14)).date()
    own, utc = want.date(), want.astimezone(UTC).date()
    if not isinstance(got, datetime):
        return got in (own, utc)
    return got.astimezone(want.tzinfo).date() == own or got.astimezone(UTC).date() == utc


# --- the split -----------------------------------------------------------------------------------------------


def split_of(publisher: str) -> str:
    """The half a publisher's pages belong to: the parity of the SHA-256 of its fundus name (stable anywhere)."""
    return HALVES[hashlib.sha256(publisher.encode("utf-8")).digest()[-1] % 2]


def split_publishers(publishers: Iterable[str]) -> dict[str, list[str]]:
    halves: dict[str, list[str]] = {half: [] for half in HALVES}
    for publisher in sorted(set(publishers)):
        halves[split_of(publisher)].append(publisher)
    return halves


# --- the corpus ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundusPage:
    id: str
    publisher: str
    language: str
    url: str
    html: str
    title: str
    authors: list[str] | None
    published_at: str  # what dates are scored against: `published_at_checked` where present
    body: str

    @property
    def half(self) -> str:
        return split_of(self.publisher)


def load_fundus(root: Path) -> list[FundusPage]:
    """The corpus's pages in id order: `ground-truth.json` and `html/<id>.html.gz` under `root`."""
    truth_file = root / "ground-truth.json"
    if not truth_file.is_file():
        raise SetupError(
            f"fundus corpus not found at {root} (no ground-truth.json); pass its folder, "
            "e.g. FUNDUS=../shared/corpora/fundus"
        )
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    if not isinstance(truth, dict) or not all(
        isinstance(v, dict) and "publisher" in v and "body" in v for v in truth.values()
    ):
        raise SetupError(
            f"the corpus at {root} is not the fundus corpus: its entries lack publisher and body"
        )
    pages = []
    for key in sorted(truth):
        html = page_html(root, key, "fundus")
        t = truth[key]
        published = t.get("published_at_checked") or t.get("published_at") or ""
        pages.append(
            FundusPage(
                id=key,
                publisher=t["publisher"],
                language=t["language"],
                url=t.get("url", ""),
                html=html,
                title=t.get("title", ""),
                authors=t.get("authors"),
                published_at=published,
                body=t["body"],
            )
        )
    return pages


# --- the systems ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    body: str | None
    title: str | None = None
    author: str | None = None
    date: str | date | datetime | None = None
    status: str = (
        "landed"  # pipeline: landed | quarantined | duplicate | missing; trafilatura: extracted | empty
    )
    reason: str = ""
    title_source: str | None = None  # the pipeline's: "source" (the page's) or "derived" (from the lead)


PIPELINE = "pipeline (trafilatura + our rules)"
BASELINES = {  # name -> trafilatura.bare_extraction() keyword arguments
    "trafilatura (include_comments=False)": {"include_comments": False},
    "trafilatura (include_comments=False, favor_precision=True)": {
        "include_comments": False,
        "favor_precision": True,
    },
}


def pipeline_predictions(pages: list[FundusPage], workdir: Path) -> tuple[dict[str, Prediction], object]:
    """Run the real pipeline on the pages (one JSONL record each: url + html) and read back where each went."""
    import duckdb

    db_path, summary = ingest_records(
        ({"url": page.url, "html": page.html} for page in pages), workdir, "fundus.jsonl"
    )

    def line(uri: str) -> int | None:
        _, sep, n = uri.rpartition("#")
        return int(n) if sep and n.isdigit() else None

    by_line: dict[int, Prediction] = {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        landed = con.execute(
            "SELECT source_uri, article_id, body, title, author, published_at, title_source FROM articles"
        )
        line_of_id = {}
        for uri, article_id, body, title, author, published, title_source in landed.fetchall():
            if (n := line(uri)) is not None:
                by_line[n] = Prediction(body, title, author, published, title_source=title_source)
                line_of_id[article_id] = n
        for uri, of, method in con.execute(
            "SELECT source_uri, duplicate_of, method FROM article_duplicates"
        ).fetchall():
            if (n := line(uri)) is not None:
                original = line_of_id.get(of)
                copy_of = pages[original - 1].id if original else of
                by_line[n] = Prediction(None, status="duplicate", reason=f"{method} copy of {copy_of}")
        for uri, reason, detail in con.execute(
            "SELECT source_uri, reason, detail FROM quarantine"
        ).fetchall():
            if (n := line(uri)) is not None:
                text = f"{reason}: {detail}" if detail else reason
                by_line[n] = Prediction(None, status="quarantined", reason=text)
    missing = Prediction(None, status="missing", reason="neither landed, duplicate nor quarantined")
    return {page.id: by_line.get(n, missing) for n, page in enumerate(pages, start=1)}, summary


def trafilatura_predictions(pages: list[FundusPage], options: Mapping) -> dict[str, Prediction]:
    """Plain trafilatura as a user calls it: `bare_extraction` with its metadata, given the page's URL."""
    import trafilatura

    predictions = {}
    for page in pages:
        try:
            doc = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True, **options)
        except Exception as exc:  # a baseline's crash is one empty page, not the end of the evaluation
            predictions[page.id] = Prediction(None, status="empty", reason=f"{type(exc).__name__}: {exc}")
            continue
        if doc is None or not tokens(doc.text):
            predictions[page.id] = Prediction(None, status="empty", reason="no text extracted")
        else:
            predictions[page.id] = Prediction(doc.text, doc.title, doc.author, doc.date, status="extracted")
    return predictions


# --- scores --------------------------------------------------------------------------------------------------


def _share(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def score_pages(pages: list[FundusPage], predictions: Mapping[str, Prediction], bootstrap: int = 0) -> dict:
    """Every figure of one system on these pages: body (the AEB metric), title, loose title, authors, date."""
    truth = {p.id: normalize(p.body) for p in pages}
    body: Scores = score(truth, {p.id: normalize(predictions[p.id].body) for p in pages}, bootstrap)
    authors = [m for p in pages if (m := authors_match(p.authors, predictions[p.id].author)) is not None]
    return {
        "pages": len(pages),
        "f1": body.f1,
        "f1_std": body.f1_std,
        "precision": body.precision,
        "recall": body.recall,
        "accuracy": body.accuracy,
        "title": _share([title_exact(p.title, predictions[p.id].title) for p in pages]),
        "title_loose": _share([title_loose(p.title, predictions[p.id].title) for p in pages]),
        "authors": _share(authors),
        "authors_pages": len(authors),
        "date": _share([date_match(p.published_at, predictions[p.id].date) for p in pages]),
        "empty": sum(1 for p in pages if not tokens(predictions[p.id].body)),
    }


def by_language(pages: list[FundusPage]) -> dict[str, list[FundusPage]]:
    """Pages grouped by language, the largest group first (then by code)."""
    groups: dict[str, list[FundusPage]] = defaultdict(list)
    for page in pages:
        groups[page.language].append(page)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def subsets(pages: list[FundusPage]) -> dict[str, list[FundusPage]]:
    return {"all": pages, **{half: [p for p in pages if p.half == half] for half in HALVES}}


def score_system(pages: list[FundusPage], predictions: Mapping[str, Prediction], bootstrap: int) -> dict:
    """The figures on all pages, the tune half and the report half, each overall and per language."""
    return {
        name: {
            "overall": score_pages(group, predictions, bootstrap),
            "by_language": {lang: score_pages(ps, predictions) for lang, ps in by_language(group).items()},
        }
        if group
        else None  # a half can be empty on a few pages (--limit)
        for name, group in subsets(pages).items()
    }


def page_figures(page: FundusPage, prediction: Prediction) -> dict:
    body = score_page(normalize(page.body), normalize(prediction.body))
    return {
        "half": page.half,
        "language": page.language,
        "precision": body.precision,
        "recall": body.recall,
        "exact": body.exact,
        "title": title_exact(page.title, prediction.title),
        "title_loose": title_loose(page.title, prediction.title),
        "authors": authors_match(page.authors, prediction.author),
        "date": date_match(page.published_at, prediction.date),
        "status": prediction.status,
        "reason": prediction.reason,
        "predicted": {"title": prediction.title, "authors": prediction.author},  # to read where it went wrong
        "expected": {"title": page.title, "authors": page.authors},
    }


# --- the report ----------------------------------------------------------------------------------------------

_COLUMNS = ("precision", "recall", "accuracy", "title", "title_loose", "authors", "date", "empty")
_HEAD = {"title_loose": "title~"}


def _cell(value: float | int | None, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width}}" if isinstance(value, int) else f"{value:>{width}.3f}"


def format_rows(label: str, rows: Mapping[str, dict], with_std: bool) -> list[str]:
    width = max(len(label), *(len(name) for name in rows))
    f1_width = 13 if with_std else 5
    heads = [f"{_HEAD.get(c, c):>{max(len(_HEAD.get(c, c)), 5)}}" for c in _COLUMNS]
    lines = [f"{label:<{width}}  {'pages':>5}  {'F1':>{f1_width}}  " + "  ".join(heads)]
    for name, s in rows.items():
        f1 = f"{s['f1']:.3f} ± {s['f1_std']:.3f}" if with_std else f"{s['f1']:.3f}"
        cells = [_cell(s[c], len(h)) for c, h in zip(_COLUMNS, heads, strict=True)]
        lines.append(f"{name:<{width}}  {s['pages']:>5}  {f1:>{f1_width}}  " + "  ".join(cells))
    return lines


def format_report(pages: list[FundusPage], figures: dict, not_scored: dict[str, list[dict]]) -> str:
    """The tables `make eval` prints: per subset, the systems side by side, then each system per language."""
    groups = subsets(pages)
    out = []
    for subset in SUBSETS:
        group = groups[subset]
        title = "all pages" if subset == "all" else f"{subset} half"
        if not group:
            out.append(f"\nfundus, {title}: no pages")
            continue
        publishers = len({p.publisher for p in group})
        out.append(
            f"\nfundus, {title}: {len(group)} pages, {publishers} publishers, {len(by_language(group))} languages"
        )
        out.extend(
            format_rows("system", {n: f[subset]["overall"] for n, f in figures.items()}, with_std=True)
        )
        for name, f in figures.items():
            out.append(f"\n  {name}, {title}, per language:")
            out.extend(
                "  " + row for row in format_rows("language", f[subset]["by_language"], with_std=False)
            )
    authors_pages = sum(1 for p in pages if p.authors is not None)
    out += [
        "\nbody: 4-token shingles after NFC (the AEB metric); accuracy: the same token sequence",
        "title: exact after collapsing whitespace; title~: NFKC, case-folded, words only",
        f"authors: the same set of names ({authors_pages} of {len(pages)} pages: null authors left out)",
        "date: the same day, in the expected offset or in UTC (any offset -12..+14 h when it has none)",
        "empty: pages without a body (scored as empty text)",
    ]
    for name, rows in not_scored.items():
        out.append(f"\n{name}: {len(rows)} page(s) without a body")
        out.extend(f"  {r['id']:<32} {r['half']:<6}  {r['status']}: {r['reason']}" for r in rows)
    return "\n".join(out)


def format_split(pages: list[FundusPage]) -> str:
    lines = ["fundus split (evals.fundus.split_of: parity of the SHA-256 of the publisher name):"]
    for half, publishers in split_publishers(p.publisher for p in pages).items():
        group = [p for p in pages if p.half == half]
        langs = Counter(p.language for p in group)
        lines.append(
            f"  {half:<6} {len(publishers)} publishers, {len(group)} pages, {len(langs)} languages "
            f"({' '.join(f'{lang} {n}' for lang, n in langs.most_common())}): {' '.join(publishers)}"
        )
    return "\n".join(lines)


TITLE_SOURCES = ("JSON-LD headline", "og:title", "the one <h1>", "<title>")


def title_candidates(page: FundusPage) -> dict[str, str | None]:
    """The headline each of the page's own title sources gives, through the pipeline's suffix removal
    (`pipeline.document.page_meta.clean_headline`): what any choice among those sources could land."""
    from urllib.parse import urlsplit

    import lxml.html

    from pipeline.document.page_meta import clean_headline, h1_texts, json_ld, page_sections, site_names

    tree = lxml.html.fromstring(page.html)
    h1s = h1_texts(tree)
    page_data = json_ld(tree)
    sections = page_sections(tree, page_data)
    names = site_names(
        None, urlsplit(page.url).hostname, tree.xpath('//meta[@property="og:site_name"]/@content'),
        page_data.publishers,
    )  # fmt: skip
    og = [t for t in tree.xpath('//meta[@property="og:title"]/@content') if t.strip()]
    titles = tree.xpath("//title/text()")
    texts = (
        page_data.headline,
        og[0] if og else None,
        h1s[0] if len(h1s) == 1 else None,
        titles[0] if titles else None,
    )
    raw = dict(zip(TITLE_SOURCES, texts, strict=True))
    return {source: clean_headline(text, h1s, names, sections) for source, text in raw.items()}


def title_ceiling(pages: list[FundusPage]) -> dict[str, dict[str, float]]:
    """Title accuracy each source would give alone, the best fixed order of them, and the share of pages where
    some source gives the expected title (the most a per-site choice could reach), per subset.

    Which source fundus's parser takes is its publisher's choice: where a page's JSON-LD headline and its
    og:title differ, no site-independent order matches both kinds of publisher."""
    import itertools

    candidates = {p.id: title_candidates(p) for p in pages}
    orders = list(itertools.permutations(TITLE_SOURCES))

    def first(p: FundusPage, order: tuple[str, ...]) -> str | None:
        return next((candidates[p.id][s] for s in order if candidates[p.id][s]), None)

    out = {}
    for subset, group in subsets(pages).items():
        if not group:
            continue
        row = {s: _share([title_exact(p.title, candidates[p.id][s]) for p in group]) for s in TITLE_SOURCES}
        best = max(orders, key=lambda o: sum(title_exact(p.title, first(p, o)) for p in group))
        row["best fixed order"] = _share([title_exact(p.title, first(p, best)) for p in group])
        row["best order"] = " > ".join(best)
        row["some source right"] = _share(
            [any(title_exact(p.title, c) for c in candidates[p.id].values() if c) for p in group]
        )
        out[subset] = row
    return out


def format_title_ceiling(ceiling: dict[str, dict]) -> str:
    lines = ["\ntitle accuracy by the page's own title sources (each through the pipeline's suffix removal):"]
    for subset, row in ceiling.items():
        cells = ", ".join(
            f"{s} {row[s]:.3f}" for s in (*TITLE_SOURCES, "best fixed order", "some source right")
        )
        lines.append(f"  {subset:<6} {cells}; best order on this subset: {row['best order']}")
    return "\n".join(lines)


def evaluate(
    pages: list[FundusPage], workdir: Path, bootstrap: int = 1000, log: Callable[[str], None] = print
) -> dict:
    """Run the three systems on the pages, print the report, and return every figure (for `--json`)."""
    from pipeline.document.rules import RULE_REASONS

    log("running the pipeline on fundus (read -> extract -> clean -> ... -> load) ...")
    ours, summary = pipeline_predictions(pages, workdir)
    predictions = {PIPELINE: ours}
    for name, options in BASELINES.items():
        log(f"running {name} on fundus ...")
        predictions[name] = trafilatura_predictions(pages, options)

    figures = {name: score_system(pages, preds, bootstrap) for name, preds in predictions.items()}
    per_page = {
        name: {p.id: page_figures(p, preds[p.id]) for p in pages} for name, preds in predictions.items()
    }
    not_scored = {
        name: [{"id": pid, **f} for pid, f in rows.items() if f["status"] not in ("landed", "extracted")]
        for name, rows in per_page.items()
    }
    print(format_split(pages))
    print(format_report(pages, figures, not_scored))
    fired = summary.removed_by_rule()
    derived = sum(1 for p in pages if ours[p.id].title_source == "derived")
    print(
        f"\npipeline run on fundus: {summary.landed} landed, {summary.duplicates} duplicates, "
        f"{summary.quarantined} quarantined {summary.quarantine_reasons or ''}; "
        f"{derived} landed titles derived from the lead sentence (the page gave none)"
    )
    ceiling = title_ceiling(pages)
    print(format_title_ceiling(ceiling))
    print("boilerplate rules fired on these pages (lines removed):")
    for rule, n in sorted(fired.items(), key=lambda kv: -kv[1]):
        print(f"  {rule:<20} {n:>5}  {RULE_REASONS.get(rule, '')}")
    signals = signals_fired(summary)
    print(format_signals(signals))
    return {
        "signals": signals,
        "pages": len(pages),
        "publishers": len({p.publisher for p in pages}),
        "languages": {lang: len(ps) for lang, ps in by_language(pages).items()},
        "split": split_publishers(p.publisher for p in pages),
        "scores": figures,
        "pipeline_run": {**asdict(summary), "rules": fired},
        "not_scored": not_scored,
        "title_ceiling": ceiling,
        "per_page": per_page,
    }
