"""Feeds and article URLs end to end: real HTTP servers on 127.0.0.1, real runs into a real DuckDB file."""

import json
import random
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from werkzeug import Request, Response

from pipeline.errors import SetupError
from pipeline.models import Article, Quarantined
from pipeline.run.assemble import plan_run, web_reader
from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from pipeline.stage import Ledger
from tests.conftest import run_cli

ALLOW_PRIVATE_HINT = (
    "pass --allow-private-network (PIPELINE_ALLOW_PRIVATE_NETWORK=1) to fetch local or private addresses"
)

COMMON_WORDS = """
harbour ferry terminal council budget dredging channel contract winter timetable passengers tickets workers
strike union engineers bridge repairs weekend traffic station platform signal delays mayor river flood tunnel
airport runway pilots cargo port crane shipping rail freight tram depot schools teachers hospital nurses clinic
patients election voters ballot turnout market prices tenants
"""
COMMON = COMMON_WORDS.split()


def prose(seed: int, sentences: int = 6) -> str:
    """Distinct, plausible article text: each seed draws its own words (near-duplicate detection keeps apart)."""
    rng = random.Random(seed)
    vocabulary = [
        f"{stem}{rng.randrange(1000)}" for stem in ("harbour", "ferry", "council", "budget", "union")
    ]
    vocabulary += rng.sample(COMMON, 30)
    return " ".join(
        f"Story {seed} sentence {i}: the "
        + " ".join(rng.choice(vocabulary) for _ in range(14))
        + " were discussed."
        for i in range(sentences)
    )


def page(title: str, seed: int) -> str:
    paragraphs = "".join(f"<p>{prose(seed * 10 + n)}</p>" for n in range(3))
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"


def rss(base: str, items: list[dict]) -> str:
    parts = []
    for item in items:
        content = (
            f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>" if "content" in item else ""
        )
        parts.append(
            f"<item><title>{item['title']}</title><link>{base}{item['path']}</link>"
            f"<pubDate>{item.get('date', 'Mon, 18 Nov 2019 09:00:00 +0200')}</pubDate>"
            f"<description>A short summary of {item['title']}.</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Harbour Times</title>'
        f"<link>{base}/</link><description>News</description>{''.join(parts)}</channel></rss>"
    )


@pytest.fixture(autouse=True)
def no_robots_by_default(httpserver):
    """A path a test did not set up is 404 (pytest-httpserver's default is 500, which robots.txt reads as
    "the whole host is off limits")."""
    httpserver.no_handler_status_code = 404


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(
        db_path=tmp_path / "db" / "a.duckdb",
        allow_private_network=True,
        host_delay_s=0.0,
        fetch_retries=0,
        fetch_deadline_s=10.0,
    )


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def paths(server) -> list[str]:
    return [req.path for req, _ in server.log if req.path != "/robots.txt"]


def test_rss_entries_use_full_content_or_fetch_the_page_and_a_second_run_costs_one_304(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    feed = rss(
        base,
        [
            {
                "title": "Terminal opens in March",
                "path": "/a1",
                "content": f"<p>{prose(1)}</p><p>{prose(2)}</p>",
            },
            {"title": "Dredging contract signed", "path": "/a2"},  # summary only: the page is fetched
        ],
    )

    def feed_handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(feed, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    httpserver.expect_request("/feed.xml").respond_with_handler(feed_handler)
    httpserver.expect_request("/a2").respond_with_data(
        page("Dredging contract signed", 2), content_type="text/html"
    )

    first = run_ingest([f"{base}/feed.xml"], settings, trigger="test")
    assert (first.read, first.landed, first.quarantined) == (2, 2, 0)
    assert paths(httpserver) == ["/feed.xml", "/a2"]  # /a1 had its full content in the feed
    landed = rows(settings.db_path, "SELECT url, title, source, published_at FROM articles ORDER BY url")
    assert [(u.rsplit("/", 1)[1], t, s) for u, t, s, _ in landed] == [
        ("a1", "Terminal opens in March", "Harbour Times"),
        ("a2", "Dredging contract signed", "Harbour Times"),
    ]
    assert str(landed[0][3]) == "2019-11-18 07:00:00"  # +0200 in the feed, UTC in the table
    feed_row = rows(
        settings.db_path, "SELECT etag, last_status, consecutive_failures, entries_last_fetch FROM feeds"
    )
    assert feed_row == [('"v1"', 200, 0, 2)]

    httpserver.clear_log()
    second = run_ingest([f"{base}/feed.xml"], settings, trigger="test")
    assert (second.read, second.landed) == (0, 0)
    # one conditional request, answered 304: no article fetched, and robots.txt is remembered for a day
    assert [req.path for req, _ in httpserver.log] == ["/feed.xml"]
    assert httpserver.log[-1][0].headers.get("If-None-Match") == '"v1"'
    assert second.stages["read"]["feeds_unchanged"] == 1
    assert rows(settings.db_path, "SELECT last_status, etag FROM feeds") == [(304, '"v1"')]


def test_entries_already_landed_are_skipped_before_any_fetch(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    items = [{"title": "Dredging contract signed", "path": "/a2?utm_source=rss"}]
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(base, items), content_type="application/rss+xml"
    )
    httpserver.expect_request("/a2").respond_with_data(
        page("Dredging contract signed", 2), content_type="text/html"
    )
    httpserver.expect_request("/a3").respond_with_data(
        page("Winter timetable out", 3), content_type="text/html"
    )
    assert run_ingest([f"{base}/feed.xml"], settings, trigger="test").landed == 1

    httpserver.clear_log()
    httpserver.clear_all_handlers()
    items.append({"title": "Winter timetable out", "path": "/a3"})
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(base, items), content_type="application/rss+xml"
    )
    httpserver.expect_request("/a3").respond_with_data(
        page("Winter timetable out", 3), content_type="text/html"
    )
    second = run_ingest([f"{base}/feed.xml"], settings, trigger="test")
    assert (second.landed, second.skipped) == (1, 1)
    assert paths(httpserver) == ["/feed.xml", "/a3"]  # /a2 (tracking parameter aside) was already landed
    assert second.stages["read"]["entries_already_landed"] == 1


def test_atom_and_json_feeds_and_a_plain_article_url(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Port Wire</title>'
        f'<entry><title>Bridge reopens</title><link href="{base}/b1"/><updated>2019-11-19T10:00:00Z</updated>'
        f'<content type="html">&lt;p&gt;{prose(4)}&lt;/p&gt;&lt;p&gt;{prose(5)}&lt;/p&gt;</content></entry></feed>'
    )
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Station News",
        "items": [
            {
                "id": "1",
                "url": f"{base}/c1",
                "title": "Signal repairs",
                "content_html": f"<p>{prose(6)}</p><p>{prose(7)}</p>",
            }
        ],
    }
    httpserver.expect_request("/atom").respond_with_data(atom, content_type="application/atom+xml")
    httpserver.expect_request("/feed.json").respond_with_json(json_feed, content_type="application/feed+json")
    httpserver.expect_request("/story").respond_with_data(
        page("Union calls strike", 8), content_type="text/html"
    )
    summary = run_ingest([f"{base}/atom", f"{base}/feed.json", f"{base}/story"], settings, trigger="test")
    assert (summary.read, summary.landed, summary.quarantined) == (3, 3, 0)
    got = rows(settings.db_path, "SELECT title, source FROM articles ORDER BY title")
    assert got[:2] == [("Bridge reopens", "Port Wire"), ("Signal repairs", "Station News")]
    assert got[2][0] == "Union calls strike" and got[2][1]  # a page's source: its site name or host


def test_a_broken_feed_is_recorded_and_never_stops_the_others(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    good = rss(
        base, [{"title": "Terminal opens", "path": "/a1", "content": f"<p>{prose(1)}</p><p>{prose(2)}</p>"}]
    )
    httpserver.expect_request("/gone.xml").respond_with_data("no such feed", status=404)
    httpserver.expect_request("/api.json").respond_with_json({"status": "ok", "count": 3})
    httpserver.expect_request("/good.xml").respond_with_data(good, content_type="application/rss+xml")
    summary = run_ingest(
        [f"{base}/gone.xml", f"{base}/api.json", f"{base}/good.xml"], settings, trigger="test"
    )
    assert (summary.landed, summary.quarantined) == (1, 2)
    reasons = dict(rows(settings.db_path, "SELECT source_uri, reason FROM quarantine"))
    assert reasons == {f"{base}/gone.xml": "http_404", f"{base}/api.json": "not_a_feed"}
    states = rows(settings.db_path, "SELECT feed_url, last_error, consecutive_failures FROM feeds ORDER BY 1")
    assert states == [
        (f"{base}/api.json", "not_a_feed", 1),
        (f"{base}/gone.xml", "http_404", 1),
        (f"{base}/good.xml", None, 0),
    ]
    # Next day: the good feed has nothing new, the broken one fails again.
    again = run_ingest([f"{base}/gone.xml", f"{base}/good.xml"], settings, trigger="test")
    assert again.status == "success"
    assert rows(
        settings.db_path, f"SELECT consecutive_failures FROM feeds WHERE feed_url = '{base}/gone.xml'"
    ) == [(2,)]


def test_entry_pages_that_fail_are_quarantined_with_the_fetch_reason(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    items = [
        {"title": "Hidden", "path": "/private/p1"},
        {"title": "Missing", "path": "/p2"},
        {"title": "Bad date", "path": "/p3", "date": "not a date"},
    ]
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private\n")
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(base, items), content_type="application/rss+xml"
    )
    httpserver.expect_request("/p2").respond_with_data("gone", status=410)
    httpserver.expect_request("/p3").respond_with_data(page("Bad date", 3), content_type="text/html")
    summary = run_ingest([f"{base}/feed.xml"], settings, trigger="test")
    assert (summary.landed, summary.quarantined) == (1, 2)
    assert dict(rows(settings.db_path, "SELECT source_uri, reason FROM quarantine")) == {
        f"{base}/private/p1": "robots_disallowed",
        f"{base}/p2": "http_410",
    }
    assert "/private/p1" not in paths(httpserver)
    assert rows(settings.db_path, "SELECT title, published_at FROM articles") == [("Bad date", None)]
    assert summary.stages["read"]["date_unparsed"] == 1


def test_an_unreachable_robots_txt_skips_the_host_this_run_and_is_asked_again_next_run(
    httpserver, settings, tmp_path
):
    base = httpserver.url_for("").rstrip("/")
    story = tmp_path / "story.txt"  # an input that lands, so the run passes its audit and is published
    story.write_text(f"Bridge Repairs Finish Early\n\n{prose(9)}\n")
    feed = rss(
        base, [{"title": "Terminal opens", "path": "/a1", "content": f"<p>{prose(1)}</p><p>{prose(2)}</p>"}]
    )
    httpserver.expect_request("/robots.txt").respond_with_data("down for maintenance", status=503)
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    first = run_ingest([f"{base}/feed.xml", str(story)], settings, trigger="test")
    assert (first.landed, first.quarantine_reasons) == (1, {"robots_unreachable": 1})
    [(reason, detail)] = rows(settings.db_path, "SELECT reason, detail FROM quarantine")
    assert reason == "robots_unreachable" and "robots.txt could not be fetched (http_5xx: HTTP 503" in detail
    assert paths(httpserver) == []  # the feed itself was never asked for

    httpserver.clear_all_handlers()
    httpserver.clear_log()
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    second = run_ingest([f"{base}/feed.xml"], settings, trigger="test")  # robots.txt is 404 now: allowed
    assert second.landed == 1
    assert [req.path for req, _ in httpserver.log] == ["/robots.txt", "/feed.xml"]  # not remembered


def test_private_addresses_are_refused_unless_allowed(httpserver, tmp_path):
    httpserver.expect_request("/feed.xml").respond_with_data("<rss/>", content_type="application/rss+xml")
    strict = Settings.from_env(db_path=tmp_path / "s.duckdb", host_delay_s=0.0)
    summary = run_ingest([httpserver.url_for("/feed.xml")], strict, trigger="test")
    assert summary.quarantine_reasons == {"blocked_address": 1}
    assert httpserver.log == []  # refused before any request


def test_cli_ingests_a_local_feed_with_the_private_network_flag(httpserver, tmp_path):
    base = httpserver.url_for("").rstrip("/")
    feed = rss(
        base, [{"title": "Terminal opens", "path": "/a1", "content": f"<p>{prose(1)}</p><p>{prose(2)}</p>"}]
    )
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    db = tmp_path / "cli.duckdb"
    refused = run_cli("ingest", f"{base}/feed.xml", "--db", str(db), "--json")
    # Its only input refused: the run kept nothing, so it fails its audit (status 4) and publishes nothing.
    assert refused.returncode == 4 and json.loads(refused.stdout.splitlines()[-1])["quarantine_reasons"] == {
        "blocked_address": 1
    }
    allowed = run_cli("ingest", f"{base}/feed.xml", "--db", str(db), "--json", "--allow-private-network")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout.splitlines()[-1])["landed"] == 1


def test_a_refused_local_feed_says_how_to_allow_it(httpserver, tmp_path):
    httpserver.expect_request("/feed.xml").respond_with_data("<rss/>", content_type="application/rss+xml")
    refused = run_cli(
        "ingest", httpserver.url_for("/feed.xml"), "--db", str(tmp_path / "cli.duckdb"), "--json"
    )
    summary = json.loads(refused.stdout.splitlines()[-1])
    assert summary["quarantine_reasons"] == {"blocked_address": 1}
    warning = next(line for line in refused.stderr.splitlines() if "blocked_address" in line)
    assert ALLOW_PRIVATE_HINT in warning
    staged = Path(summary["staging"]) / "quarantine-*.parquet"
    with duckdb.connect() as con:
        [(detail,)] = con.execute(f"SELECT detail FROM read_parquet('{staged}')").fetchall()
    assert "is not a public address (loopback)" in detail and ALLOW_PRIVATE_HINT in detail


def big_feed(base: str, entries: int) -> bytes:
    """An RSS feed of `entries` full-content entries with short bodies."""
    items = "".join(
        f"<item><title>Entry {n}</title><link>{base}/e{n}</link><guid>e{n}</guid>"
        f"<content:encoded><![CDATA[<p>Entry {n}: {prose(n % 50, sentences=1)}</p>]]></content:encoded></item>"
        for n in range(entries)
    )
    return rss(base, []).replace("</channel>", items + "</channel>").encode()


def test_a_feed_over_the_page_cap_is_read_but_a_page_that_large_is_still_too_large(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    feed = big_feed(base, 20_000)
    html = b"<html><body>" + b"<p>" + b"word " * 1_200_000 + b"</p></body></html>"
    assert len(feed) > settings.max_input_bytes and len(html) > 6_000_000
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    httpserver.expect_request("/page").respond_with_data(html, content_type="text/html")
    httpserver.expect_request("/story").respond_with_data(
        page("Union calls strike", 8), content_type="text/html"
    )

    def read(url: str, settings: Settings) -> tuple[list, Ledger, list[dict]]:
        plan, ledger = plan_run([url], settings), Ledger()
        with ExitStack() as resources:
            reader = web_reader(plan, settings, None, ledger, resources)
            return list(reader.read(url)), ledger, reader.feed_states

    items, ledger, states = read(f"{base}/feed.xml", settings)
    assert len(items) == 20_000 and all(isinstance(item, Article) for item in items)
    assert (ledger.get("read", "feeds"), ledger.get("read", "entries")) == (1, 20_000)
    assert states[0]["entries_last_fetch"] == 20_000 and states[0]["last_error"] is None

    [refused], _, states = read(f"{base}/page", settings)  # a page is still held to the page cap
    assert isinstance(refused, Quarantined) and refused.reasons == ("too_large",)
    assert f"over the {settings.max_input_bytes} byte" in refused.detail
    assert states[0]["last_error"] == "too_large"
    [story], _, _ = read(f"{base}/story", settings)
    assert isinstance(story, Article) and b"Union calls strike" in story.raw

    [capped], _, _ = read(f"{base}/feed.xml", replace(settings, max_feed_bytes=len(feed) - 1))
    assert isinstance(capped, Quarantined) and capped.reasons == ("too_large",)


def test_the_feed_cap_is_a_setting():
    assert Settings().max_feed_bytes == 50_000_000
    assert Settings.from_env({"PIPELINE_MAX_FEED_BYTES": "80000000"}).max_feed_bytes == 80_000_000
    with pytest.raises(SetupError, match="max_feed_bytes must be positive"):
        Settings.from_env({"PIPELINE_MAX_FEED_BYTES": "0"})


def test_a_sources_file_names_feeds_and_lists_paths(httpserver, tmp_path, settings):
    base = httpserver.url_for("").rstrip("/")
    feed = rss(
        base, [{"title": "Terminal opens", "path": "/a1", "content": f"<p>{prose(1)}</p><p>{prose(2)}</p>"}]
    )
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "story.txt").write_text(f"Bridge Repairs Finish Early\n\n{prose(9)}\n")
    listing = tmp_path / "sources.toml"
    listing.write_text(
        f'[[source]]\nurl = "{base}/feed.xml"\nname = "Harbour Desk"\n\n[[source]]\npath = "local"\n'
    )
    summary = run_ingest([], settings, trigger="test", sources_file=listing)
    assert summary.landed == 2
    assert rows(settings.db_path, "SELECT source FROM articles ORDER BY source") == [
        ("Harbour Desk",),
        ("local",),
    ]
    assert rows(settings.db_path, "SELECT name FROM feeds") == [("Harbour Desk",)]
