"""Container inputs: JSON, JSONL and feed files read into one article per record; bad input quarantined."""

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pipeline.models import Article, Quarantined
from pipeline.read import sources
from pipeline.read.records import parse_date
from pipeline.read.sources import ReadStage, documents, expand_sources
from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from pipeline.stage import Ledger

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>River Gazette</title>
  <link>https://gazette.example/</link>
  <description>Local news</description>
  <item>
    <title>Council widens the bike lanes</title>
    <link>https://gazette.example/bike-lanes</link>
    <dc:creator>Ana Ruiz</dc:creator>
    <pubDate>Tue, 05 Mar 2024 10:30:00 +0200</pubDate>
    <description>A short teaser.</description>
    <content:encoded><![CDATA[<p>The council voted <b>yes</b>.</p>]]></content:encoded>
  </item>
  <item>
    <title>Fish &amp; chips shop reopens</title>
    <link>https://gazette.example/chips</link>
    <author>bob@gazette.example (Bob Lee)</author>
    <pubDate>Wed, 06 Mar 2024 09:00:00 GMT</pubDate>
    <description>Fish &amp;amp; chips are back on the quay.</description>
  </item>
  <item>
    <title>A story from the future</title>
    <link>https://gazette.example/future</link>
    <pubDate>Fri, 01 Jan 2100 12:00:00 +0000</pubDate>
    <description>&lt;p&gt;Not yet written.&lt;/p&gt;</description>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Times</title>
  <id>urn:atom-times</id>
  <updated>2024-01-03T00:00:00Z</updated>
  <entry>
    <title>Ferry timetable changes</title>
    <link href="https://atom.example/ferry"/>
    <id>urn:atom-times:1</id>
    <published>2024-01-01T23:00:00-05:00</published>
    <updated>2024-01-02T08:00:00Z</updated>
    <author><name>Cy Dee</name><email>cy@atom.example</email></author>
    <content type="html">&lt;p&gt;The ferry leaves earlier.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Snow expected</title>
    <link href="https://atom.example/snow"/>
    <id>urn:atom-times:2</id>
    <updated>2024-01-02T06:15:00Z</updated>
    <content type="text">Snow is expected tonight.</content>
  </entry>
</feed>
"""

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "The Daily Byte",
    "items": [
        {
            "id": "1",
            "url": "https://byte.example/one",
            "title": "Rail strike called off",
            "content_html": "<p>Trains run <em>as normal</em>.</p>",
            "content_text": "Trains run as normal.",
            "date_published": "2024-02-10T14:00:00Z",
            "authors": [{"name": "Dana Fox"}, {"name": "Eli Moss"}],
        },
        {
            "id": "2",
            "url": "https://byte.example/two",
            "title": "Market report",
            "content_text": "Prices held steady.",
            "date_published": "2024-02-11T08:00:00+01:00",
            "author": {"name": "Fay Lin"},
        },
        {"id": "3", "url": "https://byte.example/three", "summary": "Only a summary."},
        {"id": "4", "url": "https://byte.example/four", "title": "No content at all"},
    ],
}


def read(*files: Path, max_bytes: int = 5_000_000, max_file_bytes: int = 200_000_000):
    ledger = Ledger()
    stage = ReadStage(ledger, max_bytes, max_file_bytes=max_file_bytes)
    return list(stage.run(documents(list(files)))), ledger.by_stage()["read"]


def kinds(items) -> list[str]:
    return [type(i).__name__ for i in items]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_rss_items_become_articles_with_their_metadata(tmp_path):
    path = write(tmp_path / "gazette.rss", RSS)
    items, counts = read(path)
    assert kinds(items) == ["Article", "Article", "Article"]
    one, two, future = items
    assert (
        one.source_uri == f"{path}#1" and two.source_uri == f"{path}#2" and future.source_uri == f"{path}#3"
    )
    assert (one.url, one.title, one.title_source, one.author, one.source) == (
        "https://gazette.example/bike-lanes",
        "Council widens the bike lanes",
        "source",
        "Ana Ruiz",
        "River Gazette",
    )
    assert one.published_at == datetime(2024, 3, 5, 8, 30)  # +0200: two hours earlier in UTC
    assert one.media_type == "text/html" and one.raw == b"<p>The council voted <b>yes</b>.</p>"
    # Only a description, and one without markup: plain text, its escapes decoded.
    assert (two.title, two.author, two.published_at) == (
        "Fish & chips shop reopens",
        "Bob Lee",
        datetime(2024, 3, 6, 9),
    )
    assert two.media_type == "text/plain" and two.raw == b"Fish & chips are back on the quay."
    # A date in 2100 is not stored, and the ledger says why.
    assert future.published_at is None and future.title == "A story from the future"
    assert future.media_type == "text/html" and future.raw == b"<p>Not yet written.</p>"
    assert counts == {"files": 1, "records": 3, "total": 3, "forwarded": 3, "date_dropped_future": 1}


def test_atom_entries_use_content_type_and_utc_dates(tmp_path):
    path = write(tmp_path / "times.atom", ATOM)
    items, counts = read(path)
    ferry, snow = items
    assert (ferry.url, ferry.title, ferry.author, ferry.source) == (
        "https://atom.example/ferry",
        "Ferry timetable changes",
        "Cy Dee",
        "Atom Times",
    )
    assert ferry.published_at == datetime(2024, 1, 2, 4, 0)  # 23:00 at -05:00, published wins over updated
    assert ferry.media_type == "text/html" and ferry.raw == b"<p>The ferry leaves earlier.</p>"
    assert snow.published_at == datetime(2024, 1, 2, 6, 15)  # no published: updated
    assert (
        snow.media_type == "text/plain" and snow.raw == b"Snow is expected tonight." and snow.author is None
    )
    assert counts == {"files": 1, "records": 2, "total": 2, "forwarded": 2}


def test_json_feed_items_become_articles_and_an_item_without_content_is_quarantined(tmp_path):
    path = write(tmp_path / "byte.json", json.dumps(JSON_FEED))
    items, counts = read(path)
    assert kinds(items) == ["Article", "Article", "Article", "Quarantined"]
    rail, market, summary, empty = items
    assert (rail.url, rail.title, rail.author, rail.source, rail.published_at) == (
        "https://byte.example/one",
        "Rail strike called off",
        "Dana Fox, Eli Moss",
        "The Daily Byte",
        datetime(2024, 2, 10, 14, 0),
    )
    assert rail.media_type == "text/html" and rail.raw == b"<p>Trains run <em>as normal</em>.</p>"
    assert (market.author, market.published_at, market.media_type, market.raw) == (
        "Fay Lin",
        datetime(2024, 2, 11, 7, 0),
        "text/plain",
        b"Prices held steady.",
    )
    assert summary.raw == b"Only a summary." and summary.title is None and summary.title_source is None
    assert empty.source_uri == f"{path}#4" and empty.reasons == ("no_content",)
    assert (
        empty.payload["title"] == "No content at all" and empty.payload["url"] == "https://byte.example/four"
    )
    assert counts == {"files": 1, "records": 4, "total": 4, "forwarded": 3, "dropped_no_content": 1}


def test_json_array_records_accept_aliases_and_count_dates_not_kept(tmp_path):
    records = [
        {
            "link": "https://wire.example/a",
            "headline": "Bridge reopens",
            "body": "The bridge is open again.",
            "byline": "Gus Hale",
            "pubDate": "Thu, 07 Mar 2024 18:00:00 -0100",
            "site_name": "Wire",
        },
        {
            "canonical_url": "https://wire.example/b",
            "title": "Museum expands",
            "raw_html": "<article><p>New wing.</p></article>",
            "content": {"rendered": "ignored: not a string"},
            "author": {"name": "Ivy Park"},
            "date": "2024-03-08T10:00:00",  # naive: taken as UTC
        },
        42,
        {"text": "Undated text.", "published_at": "last Tuesday"},
        {"content": "Very old text.", "published": "1987-06-01"},
        {"text": "Dated in the far future.", "date_published": "2999-01-01T00:00:00Z"},
    ]
    path = write(tmp_path / "wire.json", json.dumps(records))
    items, counts = read(path)
    assert kinds(items) == ["Article", "Article", "Quarantined", "Article", "Article", "Article"]
    a, b, bad, undated, old, future = items
    assert (a.url, a.title, a.author, a.source, a.published_at, a.media_type, a.raw) == (
        "https://wire.example/a",
        "Bridge reopens",
        "Gus Hale",
        "Wire",
        datetime(2024, 3, 7, 19, 0),
        "text/plain",
        b"The bridge is open again.",
    )
    assert (b.url, b.author, b.published_at, b.media_type) == (
        "https://wire.example/b",
        "Ivy Park",
        datetime(2024, 3, 8, 10, 0),
        "text/html",
    )
    assert b.raw == b"<article><p>New wing.</p></article>"
    assert bad.source_uri == f"{path}#3" and bad.reasons == ("bad_record",) and "item 3" in bad.detail
    assert [x.published_at for x in (undated, old, future)] == [None, None, None]
    assert old.raw == b"Very old text." and old.source_uri == f"{path}#5"
    assert counts == {
        "files": 1,
        "records": 6,
        "total": 6,
        "forwarded": 5,
        "dropped_bad_record": 1,
        "date_unparsed": 1,
        "date_dropped_implausible": 1,
        "date_dropped_future": 1,
    }


def test_a_single_json_object_is_one_record(tmp_path):
    path = write(tmp_path / "one.json", json.dumps({"url": "https://x.example/1", "text": "Hello."}))
    (article,), counts = read(path)
    assert (
        article.source_uri == f"{path}#1"
        and article.url == "https://x.example/1"
        and article.raw == b"Hello."
    )
    assert counts["records"] == 1 and counts["forwarded"] == 1


def test_jsonl_goes_on_past_bad_lines_and_names_each_by_line_number(tmp_path):
    lines = [
        json.dumps({"url": "https://n.example/1", "title": "First", "text": "First body."}),
        '{"url": "https://n.example/2", "title": ',  # broken JSON
        "",
        json.dumps({"url": "https://n.example/4", "title": "No body here"}),
        json.dumps({"url": "https://n.example/5", "title": "Huge", "text": "x" * 600}),
        json.dumps({"url": "https://n.example/6", "title": "Sixth", "html": "<p>Sixth body.</p>"}),
        json.dumps(["not", "an", "object"]),
    ]
    path = write(tmp_path / "news.jsonl", "\n".join(lines) + "\n")
    items, counts = read(path, max_bytes=500)
    assert [i.source_uri for i in items] == [f"{path}#{n}" for n in (1, 2, 4, 5, 6, 7)]
    assert kinds(items) == ["Article", "Quarantined", "Quarantined", "Quarantined", "Article", "Quarantined"]
    first, broken, nobody, huge, sixth, array = items
    assert (first.title, first.raw, first.media_type) == ("First", b"First body.", "text/plain")
    assert broken.reasons == ("bad_record",) and broken.detail.startswith("line 2: invalid JSON: ")
    assert "Expecting value" in broken.detail
    assert nobody.reasons == ("no_content",) and nobody.payload["url"] == "https://n.example/4"
    assert huge.reasons == ("too_large",) and "600-byte body" in huge.detail
    assert (sixth.title, sixth.raw, sixth.media_type) == ("Sixth", b"<p>Sixth body.</p>", "text/html")
    assert array.reasons == ("bad_record",) and "line 7 is an array" in array.detail
    assert counts == {
        "files": 1,
        "records": 6,
        "total": 6,
        "forwarded": 2,
        "dropped_bad_record": 2,
        "dropped_no_content": 1,
        "dropped_too_large": 1,
    }


def test_jsonl_is_expanded_lazily(tmp_path):
    path = tmp_path / "big.ndjson"
    with path.open("w") as f:
        for n in range(5000):
            f.write(json.dumps({"text": f"Record {n}."}) + "\n")
    ledger = Ledger()
    stream = ReadStage(ledger, 1000).run(documents([path]))
    first_two = list(itertools.islice(stream, 2))
    assert [a.raw for a in first_two] == [b"Record 0.", b"Record 1."]
    assert ledger.get("read", "records") == 2  # the rest of the file is not read yet
    stream.close()


def test_bad_container_files_are_quarantined_whole_and_the_run_goes_on(tmp_path):
    malformed = write(tmp_path / "broken.xml", "this is not xml { at all")
    empty_feed = write(
        tmp_path / "empty.rss",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>',
    )
    bad_json = write(tmp_path / "bad.json", '{"title": "unterminated"')
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"text": "caf\xe9"}'.encode("latin-1"))
    scalar = write(tmp_path / "scalar.json", '"just a string"')
    blank = write(tmp_path / "blank.jsonl", "\n\n")
    big = write(tmp_path / "big.jsonl", json.dumps({"text": "x" * 200}) + "\n")
    bad_line = tmp_path / "bad-line.jsonl"
    bad_line.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    good = write(tmp_path / "good.txt", "Headline\n\nBody.")
    files = [malformed, empty_feed, bad_json, latin1, scalar, blank, big, bad_line, good]
    items, counts = read(*files, max_file_bytes=150)
    by_uri = {i.source_uri: i for i in items}
    assert [i.source_uri for i in items] == [
        *(str(f) for f in files[:7]),
        f"{bad_line}#1",
        f"{bad_line}#2",
        str(good),
    ]
    reasons = {uri: i.reasons for uri, i in by_uri.items() if isinstance(i, Quarantined)}
    assert reasons == {
        str(malformed): ("not_a_feed",),
        str(empty_feed): ("no_entries",),
        str(bad_json): ("bad_json",),
        str(latin1): ("bad_encoding",),
        str(scalar): ("bad_json",),
        str(blank): ("no_entries",),
        str(big): ("too_large",),
        f"{bad_line}#2": ("bad_encoding",),
    }
    assert "150-byte file cap" in by_uri[str(big)].detail
    assert isinstance(by_uri[str(good)], Article) and by_uri[str(good)].raw.startswith(b"Headline")
    assert counts["files"] == 9 and counts["records"] == 2 and counts["total"] == 10
    assert counts["forwarded"] == 2


def test_a_bug_while_expanding_a_file_quarantines_the_file(tmp_path, monkeypatch):
    path = write(tmp_path / "a.jsonl", json.dumps({"text": "one"}) + "\n")
    after = write(tmp_path / "after.txt", "Headline\n\nBody.")

    def broken(path, max_file_bytes, max_record_bytes):
        raise KeyError("boom")
        yield  # a generator, like the real one

    monkeypatch.setattr(sources, "iter_records", broken)
    items, counts = read(path, after)
    assert kinds(items) == ["Quarantined", "Article"]
    assert items[0].source_uri == str(path) and items[0].reasons == ("error_KeyError",)
    assert counts["dropped_error_KeyError"] == 1 and counts["files"] == 2


def test_unknown_types_named_explicitly_are_still_quarantined(tmp_path):
    path = write(tmp_path / "notes.md", "# notes")
    (item,), counts = read(path)
    assert item.reasons == ("unsupported_type",) and counts == {
        "files": 1,
        "total": 1,
        "dropped_unsupported_type": 1,
    }


def test_expand_sources_lists_container_files_in_folders(tmp_path):
    (tmp_path / "sub").mkdir()
    names = [
        "a.txt",
        "b.jsonl",
        "c.NDJSON",
        "d.json",
        "e.rss",
        "f.atom",
        "g.xml",
        "h.html",
        "notes.md",
        "x.csv",
    ]
    for name in names:
        write(tmp_path / name, "x")
    write(tmp_path / "sub" / "feed.xml", "x")
    write(tmp_path / ".hidden.json", "x")
    files, ignored = expand_sources([str(tmp_path)])
    assert files == [str(tmp_path / n) for n in names[:8]] + [str(tmp_path / "sub" / "feed.xml")]
    assert ignored == [tmp_path / "notes.md", tmp_path / "x.csv"]


def test_parse_date_gives_naive_utc_or_a_reason():
    now = datetime(2024, 6, 1, 12, 0)
    assert parse_date("Tue, 05 Mar 2024 10:30:00 +0200", now) == (datetime(2024, 3, 5, 8, 30), None)
    assert parse_date("2024-03-05T10:30:00Z", now) == (datetime(2024, 3, 5, 10, 30), None)
    assert parse_date("2024-03-05T10:30:00-04:00", now) == (datetime(2024, 3, 5, 14, 30), None)
    assert parse_date("2024-03-05", now) == (datetime(2024, 3, 5), None)
    assert parse_date(time.struct_time((2024, 3, 5, 8, 30, 0, 1, 65, 0)), now) == (
        datetime(2024, 3, 5, 8, 30),
        None,
    )
    assert parse_date("2024-06-01T11:59:00", now) == (datetime(2024, 6, 1, 11, 59), None)
    assert parse_date("2024-06-01T20:00:00", now) == (None, "date_dropped_future")  # later today: wrong
    assert parse_date("2024-06-03T00:00:00", now) == (None, "date_dropped_future")
    assert parse_date("1989-12-31", now) == (None, "date_dropped_implausible")
    assert parse_date("0001-01-01T00:00:00+05:00", now) == (None, "date_dropped_implausible")
    assert parse_date("soon", now) == (None, "date_unparsed")
    assert parse_date(1709630000, now) == (None, "date_unparsed")  # epoch seconds or millis: not guessed
    kept, reason = parse_date(datetime.now(UTC).isoformat())
    assert (
        reason is None
        and kept.tzinfo is None
        and datetime.now(UTC).replace(tzinfo=None) - kept < timedelta(1)
    )


# Article-length bodies, distinct enough that dedupe keeps them all and validation passes them.
BIKE_LANES = (
    "The city council voted on Tuesday to widen the riverside bike lanes after a year of public hearings and a "
    "pilot scheme that drew mixed reviews from residents and shop owners along the embankment.\n\n"
    "Supporters said the pilot cut collisions near the old stone bridge by a third, while opponents worried "
    "about lost parking for delivery vans on the narrow streets of the market quarter. Work begins in spring "
    "and should be finished before the autumn festival, the transport office said."
)
LIBRARY = (
    "<p>The central library reopened its doors on Saturday after eighteen months of repairs to a leaking roof "
    "and a heating system that had failed during two consecutive winters.</p>"
    "<p>Volunteers carried the last crates of donated books up the restored staircase while children queued "
    "for the first story hour in the new reading room. The head librarian thanked the builders and promised "
    "longer evening hours once new staff have been hired this summer.</p>"
)
HARBOUR = (
    "<p>The harbour authority confirmed on Monday that dredging of the northern channel will resume next month, "
    "ending a long pause caused by a dispute over where the removed silt should be dumped.</p>"
    "<p>Fishing crews had complained that the shallow channel forced them to wait for high tide before leaving "
    "port, costing them a morning of work each week through the winter. The new plan sends the silt to "
    "rebuild an eroded salt marsh south of the lighthouse.</p>"
)
ORCHESTRA = (
    "Students from the secondary school orchestra will perform at the regional concert hall next Friday, the "
    "first time the ensemble has been invited to play on that stage in more than a decade of trying.\n\n"
    "Their conductor said the group rehearsed twice a week since January, learning a programme of folk dances "
    "and a new piece written by a former pupil. Tickets are free but must be reserved at the school office."
)


def test_a_jsonl_and_an_rss_file_end_to_end(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    records = [
        {
            "url": "https://news.example/bike-lanes",
            "headline": "Council votes to widen riverside bike lanes",
            "text": BIKE_LANES,
            "author": "Ana Ruiz",
            "published_at": "2024-03-05T10:30:00+02:00",
            "source": "City News",
        },
        {"url": "https://news.example/empty", "title": "A record without a body"},
        {
            "link": "https://news.example/library",
            "title": "Central library reopens after roof repairs",
            "html": LIBRARY,
            "byline": "Ben Okafor",
            "date": "2099-01-01",
        },
    ]
    write(inputs / "news.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    rss = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Harbour Herald</title><link>https://herald.example/</link><description>d</description>
<item><title>Dredging of the northern channel to resume</title><link>https://herald.example/dredging</link>
<author>desk@herald.example (Cara Nolan)</author><pubDate>Mon, 04 Mar 2024 07:00:00 +0200</pubDate>
<content:encoded><![CDATA[{HARBOUR}]]></content:encoded></item>
<item><title>School orchestra invited to the concert hall</title><link>https://herald.example/orchestra</link>
<pubDate>Wed, 06 Mar 2024 12:00:00 GMT</pubDate><description>{ORCHESTRA}</description></item>
</channel></rss>
"""
    write(inputs / "herald.rss", rss)
    db = tmp_path / "db" / "a.duckdb"
    summary = run_ingest([str(inputs)], Settings(db_path=db), trigger="test")
    assert (summary.read, summary.landed, summary.quarantined) == (5, 4, 1)
    assert summary.stages["read"]["files"] == 2 and summary.stages["read"]["records"] == 5
    assert summary.stages["read"]["date_dropped_future"] == 1
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT url, title, published_at, author, source FROM articles ORDER BY url"
    ).fetchall()
    assert rows == [
        (
            "https://herald.example/dredging",
            "Dredging of the northern channel to resume",
            datetime(2024, 3, 4, 5, 0),
            "Cara Nolan",
            "Harbour Herald",
        ),
        (
            "https://herald.example/orchestra",
            "School orchestra invited to the concert hall",
            datetime(2024, 3, 6, 12, 0),
            None,
            "Harbour Herald",
        ),
        (
            "https://news.example/bike-lanes",
            "Council votes to widen riverside bike lanes",
            datetime(2024, 3, 5, 8, 30),
            "Ana Ruiz",
            "City News",
        ),
        (
            "https://news.example/library",
            "Central library reopens after roof repairs",
            None,
            "Ben Okafor",
            "news.example",
        ),
    ]
    bodies = dict(con.execute("SELECT url, body FROM articles").fetchall())
    assert (
        "salt marsh" in bodies["https://herald.example/dredging"]
        and "<p>" not in bodies["https://herald.example/dredging"]
    )
    assert bodies["https://news.example/bike-lanes"].startswith("The city council voted")
    quarantine = con.execute("SELECT source_uri, stage, reasons FROM quarantine").fetchall()
    assert quarantine == [(f"{(inputs / 'news.jsonl').resolve()}#2", "read", ["no_content"])]
    con.close()


_BODIES = {
    1: "The harbour board approved the new ferry timetable on Monday, adding two evening crossings from April "
    "after commuters asked for them at three public meetings held across the district last winter. Fares "
    "stay as they are until the autumn review.",
    4: "A storm closed the coastal road for six hours on Tuesday while crews cleared fallen trees and repaired "
    "a power line that had left four hundred homes without electricity overnight. Forecasters expect calmer "
    "weather by the weekend.",
    5: "The city library will open on Sundays from next month, its director said, after volunteers offered to "
    "run the reading room and a local bakery agreed to sponsor the longer hours. Children's story time moves "
    "to Sunday mornings.",
}


def test_a_jsonl_line_over_the_record_cap_is_too_large_and_the_lines_after_it_land(tmp_path):
    from pipeline.read.formats import record_cap

    cap = record_cap(Settings().max_input_bytes)
    huge = 30_000_000
    path = tmp_path / "dump.jsonl"
    with path.open("w") as f:
        f.write(json.dumps({"url": "https://big.example/1", "title": "Before", "text": _BODIES[1]}) + "\n")
        f.write('{"url": "https://big.example/2", "text": "' + "x" * (huge - 44) + '"}\n')
        f.write("\n")
        for n in (4, 5):
            f.write(json.dumps({"url": f"https://big.example/{n}", "text": _BODIES[n]}) + "\n")
    assert len(path.read_bytes().split(b"\n")[1]) == huge > cap
    items, counts = read(path)
    assert kinds(items) == ["Article", "Quarantined", "Article", "Article"]
    assert [i.source_uri for i in items] == [f"{path}#{n}" for n in (1, 2, 4, 5)]
    assert items[1].reasons == ("too_large",)
    assert items[1].detail == f"line 2: a {huge}-byte record, over the {cap}-byte record cap"
    assert counts["dropped_too_large"] == 1 and counts["forwarded"] == 3

    summary = run_ingest([str(path)], Settings.from_env(db_path=tmp_path / "a.duckdb"), trigger="test")
    assert (summary.landed, summary.quarantined, summary.quarantine_reasons) == (3, 1, {"too_large": 1})


_READ_PROBE = """
import sys
from pathlib import Path

from pipeline.read.formats import iter_records

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) // 1024

before = rss("VmRSS:")
out = [(type(r).__name__, r.index) for r in iter_records(Path(sys.argv[1]), 200_000_000)]
print(out, before, rss("VmHWM:"))
"""


def test_reading_a_jsonl_line_over_the_cap_never_holds_it_whole(tmp_path):
    """In a fresh process: reading past a 60 MB line costs about the record cap (16 MB), not the line (a
    line read whole costs about four times its size: bytes, text, and the parsed strings)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = tmp_path / "dump.jsonl"
    with path.open("w") as f:
        f.write('{"text": "' + "y" * 60_000_000 + '"}\n')
        f.write(json.dumps({"text": "After it."}) + "\n")
    proc = subprocess.run(
        [sys.executable, "-c", _READ_PROBE, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    out, before, peak = proc.stdout.rsplit(" ", 2)
    assert out == "[('Problem', 1), ('Record', 2)]"
    assert int(peak) < 150 and int(peak) - int(before) < 40, proc.stdout
