"""Hostile HTML: pathological pages are quarantined with their reason in bounded time, and the run goes on.

Every page is generated into `tmp_path` and ingested by a real `run_ingest` into a real DuckDB file, beside one
ordinary article that must land. Time is bounded by the input cap and the extraction timeout, not asserted here.
"""

from pathlib import Path

import duckdb

from pipeline.run.runner import RunSummary, run_ingest
from pipeline.settings import Settings

GOOD_HTML = """<!doctype html><html><head>
<title>Council Approves New Cycle Lanes for the City Centre</title>
<meta name="author" content="Tomasz Wierzbicki">
</head><body>
<article><h1>Council Approves New Cycle Lanes for the City Centre</h1>
<p>The city council voted on Thursday evening to build four kilometres of protected cycle lanes through the
centre, ending a two-year argument between shop owners, commuters and the regional transport authority.</p>
<p>Work on the first section, along the river embankment, is due to start in early autumn and should take
about five months, according to the engineering department, which presented revised drawings at the meeting.</p>
<p>Several traders on Market Street had opposed the plan, warning that removing parking bays would drive
customers to the retail park outside town. The final design keeps loading zones at both ends of the street.</p>
<p>Cycling groups welcomed the decision but said the council should publish a timetable for the remaining
routes, which were dropped from this phase after the budget was cut by nearly a third in the spring.</p>
<p>The deputy mayor said the lanes would be reviewed after a year, with traffic counts and air quality
readings published every quarter so that residents can judge for themselves whether the scheme has worked.</p>
</article></body></html>"""

# What lxml/trafilatura make of 50,000-deep nesting, as observed: the bare fragment does not parse as a
# document (`unparseable_html`); wrapped in <html><body> it parses, but no article text is found.
DEEP_NESTING_REASONS = {"no_article_text", "unparseable_html"}


def write_good(folder: Path) -> Path:
    path = folder / "good-article.html"
    path.write_text(GOOD_HTML, encoding="utf-8")
    return path


def write_spans(folder: Path) -> Path:
    """Two million sibling spans: about 28 MB."""
    path = folder / "two-million-spans.html"
    path.write_text("<span>w</span>" * 2_000_000, encoding="utf-8")
    return path


def write_thirty_mb(folder: Path) -> Path:
    """A 30 MB page: an ordinary-looking article whose paragraphs go on and on."""
    paragraph = "<p>" + "The committee heard evidence from residents about the proposal. " * 20 + "</p>\n"
    head = "<!doctype html><html><head><title>A Very Long Page</title></head><body><article>\n"
    tail = "</article></body></html>\n"
    repeats = (30_000_000 - len(head) - len(tail)) // len(paragraph) + 1
    path = folder / "thirty-mb.html"
    path.write_text(head + paragraph * repeats + tail, encoding="utf-8")
    assert path.stat().st_size >= 30_000_000
    return path


def write_deep(folder: Path, name: str, wrap: bool) -> Path:
    """50,000 nested divs around one paragraph; optionally inside <html><body>."""
    page = "<div>" * 50_000 + "<p>text</p>" + "</div>" * 50_000
    if wrap:
        page = "<html><body>" + page + "</body></html>"
    path = folder / name
    path.write_text(page, encoding="utf-8")
    return path


def quarantine_rows(db: Path) -> dict[str, tuple[str, list[str], str]]:
    """source_uri -> (stage, reasons, detail) of every quarantined input."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT source_uri, stage, reasons, detail FROM quarantine").fetchall()
    finally:
        con.close()
    return {uri: (stage, list(reasons), detail) for uri, stage, reasons, detail in rows}


def landed_uris(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT source_uri FROM articles").fetchall()}
    finally:
        con.close()


def assert_good_article_landed(summary: RunSummary, db: Path, good: Path) -> None:
    assert summary.landed == 1
    assert landed_uris(db) == {str(good.resolve())}
    con = duckdb.connect(str(db), read_only=True)
    try:
        title, extractor = con.execute("SELECT title, extractor FROM articles").fetchone()
    finally:
        con.close()
    assert title == "Council Approves New Cycle Lanes for the City Centre"
    assert extractor == "trafilatura"


def test_oversized_pages_are_quarantined_too_large_at_read_and_the_run_goes_on(tmp_path, db_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good, spans, big = write_good(inputs), write_spans(inputs), write_thirty_mb(inputs)
    settings = Settings(db_path=db_path)
    cap = settings.max_input_bytes
    assert spans.stat().st_size > cap and big.stat().st_size > cap

    summary = run_ingest([str(inputs)], settings, trigger="test")

    assert (summary.read, summary.landed, summary.quarantined, summary.duplicates) == (3, 1, 2, 0)
    assert summary.quarantine_reasons == {"too_large": 2}
    assert summary.stages["read"]["dropped_too_large"] == 2
    assert summary.stages["extract"]["total"] == 1  # neither big page reached extraction
    rows = quarantine_rows(db_path)
    assert set(rows) == {str(spans.resolve()), str(big.resolve())}
    for path in (spans, big):
        stage, reasons, detail = rows[str(path.resolve())]
        assert (stage, reasons) == ("read", ["too_large"])
        assert f"{cap}-byte input cap" in detail
        assert str(path.stat().st_size) in detail
    assert_good_article_landed(summary, db_path, good)


def test_two_million_sibling_spans_time_out_in_extraction_and_the_run_goes_on(tmp_path, db_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good, spans = write_good(inputs), write_spans(inputs)
    # Raise the input cap so the page reaches extraction; trafilatura takes well over 30 s on it.
    settings = Settings(db_path=db_path, max_input_bytes=100_000_000, extract_timeout_s=3, extract_workers=2)

    summary = run_ingest([str(inputs)], settings, trigger="test")

    assert (summary.read, summary.landed, summary.quarantined) == (2, 1, 1)
    assert summary.quarantine_reasons == {"extract_timeout": 1}
    assert summary.stages["extract"] == {"total": 2, "forwarded": 1, "dropped_extract_timeout": 1}
    stage, reasons, detail = quarantine_rows(db_path)[str(spans.resolve())]
    assert (stage, reasons) == ("extract", ["extract_timeout"])
    assert "3 s limit" in detail
    assert_good_article_landed(summary, db_path, good)
    # Its worker was killed with it, but its bytes are kept for a replay: the main process retained them.
    with duckdb.connect(str(db_path), read_only=True) as con:
        kept = con.execute("SELECT source_uri, bytes FROM raw_documents ORDER BY source_uri").fetchall()
    assert sorted(kept) == sorted((str(p.resolve()), p.stat().st_size) for p in (good, spans))
    assert summary.stages["retain"] == {"total": 2, "forwarded": 2, "bytes": sum(n for _, n in kept)}


def test_fifty_thousand_deep_nesting_is_quarantined_at_extract_and_the_run_goes_on(tmp_path, db_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = write_good(inputs)
    bare = write_deep(inputs, "deep-bare.html", wrap=False)
    wrapped = write_deep(inputs, "deep-wrapped.html", wrap=True)

    summary = run_ingest([str(inputs)], Settings(db_path=db_path), trigger="test")

    assert (summary.read, summary.landed, summary.quarantined) == (3, 1, 2)
    assert set(summary.quarantine_reasons) <= DEEP_NESTING_REASONS
    assert sum(summary.quarantine_reasons.values()) == 2
    rows = quarantine_rows(db_path)
    assert set(rows) == {str(bare.resolve()), str(wrapped.resolve())}
    for path in (bare, wrapped):
        stage, reasons, detail = rows[str(path.resolve())]
        assert stage == "extract"
        assert len(reasons) == 1 and reasons[0] in DEEP_NESTING_REASONS, reasons
        assert detail
    assert_good_article_landed(summary, db_path, good)
