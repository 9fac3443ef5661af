"""Sitemaps end to end: indexes, urlsets, gzip and the news extension served on 127.0.0.1, real runs into DuckDB;
and hostile sitemaps (a loop, millions of URLs, a gzip bomb, entities, endless nesting) ending quarantined."""

import gzip
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from werkzeug import Request, Response

from pipeline.read.sitemaps import Sitemap, parse_sitemap, root_of
from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from tests.conftest import run_cli
from tests.read.test_web import no_robots_by_default, page, rows  # noqa: F401  (an autouse fixture)
from tests.read.test_web import paths as fetched

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
IMAGE_NS = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'


def urlset(entries: list[str]) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS} {NEWS_NS} {IMAGE_NS}>{"".join(entries)}</urlset>'
    )


def url(loc: str, lastmod: str | None = None, news: dict | None = None) -> str:
    extra = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    if news:
        extra += (
            "<news:news><news:publication><news:name>Harbour Times</news:name>"
            f"<news:language>{news['language']}</news:language></news:publication>"
            f"<news:publication_date>{news['date']}</news:publication_date>"
            f"<news:title>{news['title']}</news:title></news:news>"
            "<image:image><image:loc>https://img.example/x.jpg</image:loc>"
            "<image:title>A photo, not the headline</image:title></image:image>"
        )
    return f"<url><loc>{loc}</loc>{extra}</url>"


def index(locs: list[tuple[str, str | None]]) -> str:
    items = "".join(
        f"<sitemap><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</sitemap>"
        for loc, mod in locs
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex {NS}>{items}</sitemapindex>'


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(
        db_path=tmp_path / "db" / "a.duckdb",
        allow_private_network=True,
        host_delay_s=0.0,
        fetch_retries=0,
        fetch_deadline_s=10.0,
        max_feed_bytes=2_000_000,
    )


def serve_pages(server, count: int, first: int = 1) -> None:
    for n in range(first, first + count):
        server.expect_request(f"/news/{n}").respond_with_data(
            page(f"Harbour story {n}", n), content_type="text/html"
        )


def test_site_discovered_through_robots_index_gzip_and_news_fields_then_a_second_run_lands_nothing(
    httpserver, settings
):
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/robots.txt").respond_with_data(
        f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap_index.xml\n", content_type="text/plain"
    )
    httpserver.expect_request("/sitemap_index.xml").respond_with_data(
        index([(f"{base}/news.xml.gz", "2026-11-30"), (f"{base}/archive.xml", "2026-11-01")]),
        content_type="application/xml",
    )
    news = urlset(
        [
            url(
                f"{base}/news/1",
                news={"language": "en-GB", "date": "2026-11-30T08:00:00+01:00", "title": "Ferry &amp; port"},
            ),
            url(f"{base}/news/2", news={"language": "en", "date": "2026-11-29", "title": "Second"}),
        ]
    )
    httpserver.expect_request("/news.xml.gz").respond_with_data(
        gzip.compress(news.encode()), content_type="application/gzip"
    )
    archive = urlset([url(f"{base}/news/3", "2026-10-01"), url(f"{base}/news/1"), url(f"{base}/private/9")])
    httpserver.expect_request("/archive.xml").respond_with_data(archive, content_type="text/xml")
    serve_pages(httpserver, 3)

    first = run_ingest([f"{base}/"], settings, trigger="test")
    assert (first.landed, first.quarantined) == (3, 1), first.quarantine_reasons
    assert first.quarantine_reasons == {"robots_disallowed": 1}  # robots.txt is obeyed for the pages too
    landed = rows(settings.db_path, "SELECT url, title, published_at, source FROM articles ORDER BY url")
    assert [(u.rsplit("/", 1)[1], t, str(d), s) for u, t, d, s in landed[:2]] == [
        ("1", "Ferry & port", "2026-11-30 07:00:00", "Harbour Times"),  # news:title, not the image's
        ("2", "Second", "2026-11-29 00:00:00", "Harbour Times"),
    ]
    assert landed[2][1:3] == ("Harbour story 3", None)  # no news fields: the page's title, no date invented
    read = first.stages["read"]
    assert read["sitemaps"] == 3 and read["sites"] == 1
    assert read["sitemap_urls_repeated"] == 1  # news/1 listed twice: fetched once
    states = rows(settings.db_path, "SELECT feed_url, entries_last_fetch, last_status FROM feeds ORDER BY 1")
    assert [(u.rsplit("/", 1)[1], n, s) for u, n, s in states] == [
        ("archive.xml", 3, 200),
        ("news.xml.gz", 2, 200),
        ("sitemap_index.xml", 2, 200),
    ]

    httpserver.clear_log()
    second = run_ingest([f"{base}/"], settings, trigger="test")
    assert (second.read, second.landed, second.quarantined) == (0, 0, 0)
    # the index is read again; its children's lastmod is older than their last visit: not fetched
    assert fetched(httpserver) == ["/sitemap_index.xml"]
    assert second.stages["read"]["sitemaps_unchanged"] == 2


def test_a_changed_lastmod_fetches_a_landed_page_again_and_new_urls_only(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    entries = [url(f"{base}/news/1", "2020-01-01"), url(f"{base}/news/2", "2020-01-01")]

    def sitemap(_request: Request) -> Response:
        return Response(urlset(entries), content_type="application/xml")

    httpserver.expect_request("/sitemap.xml").respond_with_handler(sitemap)
    serve_pages(httpserver, 3)
    assert run_ingest([f"{base}/sitemap.xml"], settings, trigger="test").landed == 2

    changed = datetime.now(UTC).isoformat()  # after the first run's visit
    entries[1] = url(f"{base}/news/2", changed)
    entries.append(url(f"{base}/news/3"))
    httpserver.clear_log()
    second = run_ingest([f"{base}/sitemap.xml"], settings, trigger="test")
    assert fetched(httpserver) == ["/sitemap.xml", "/news/2", "/news/3"]
    assert second.landed == 1 and second.stages["read"]["sitemap_urls_already_landed"] == 1
    assert second.stages["read"]["sitemap_urls_changed"] == 1


def test_since_and_the_item_cap_apply_before_pages_are_fetched(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    old = [
        url(f"{base}/news/{n}", news={"language": "en", "date": "2019-05-01", "title": f"Old {n}"})
        for n in (1, 2)
    ]
    new = [url(f"{base}/news/{n}", "2026-11-30") for n in range(3, 9)]
    httpserver.expect_request("/sitemap.xml").respond_with_data(
        urlset(old + new), content_type="application/xml"
    )
    serve_pages(httpserver, 8)
    summary = run_ingest(
        [f"{base}/sitemap.xml"], settings, trigger="test", since=datetime(2026, 1, 1), max_items=3
    )
    assert summary.landed == 3
    assert summary.stages["read"]["sitemap_urls_before_since"] == 2
    pages = fetched(httpserver)[1:]
    assert "/news/1" not in pages and "/news/2" not in pages  # dated before `since`: never fetched
    assert len(pages) <= 3 + 2 * settings.fetch_in_flight  # pages are fetched a window ahead, no further


def test_cli_ingests_a_sitemap_url_and_a_second_run_lands_nothing(httpserver, tmp_path):
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/sitemap.xml").respond_with_data(
        urlset([url(f"{base}/news/{n}") for n in (1, 2)]), content_type="application/xml"
    )
    serve_pages(httpserver, 2)
    db = tmp_path / "cli.duckdb"
    env = {"PIPELINE_HOST_DELAY_S": "0"}
    first = run_cli("ingest", f"{base}/sitemap.xml", "--db", str(db), "--allow-private-network", env=env)
    assert first.returncode == 0, first.stderr
    assert "landed 2" in first.stdout
    second = run_cli("ingest", f"{base}/sitemap.xml", "--db", str(db), "--allow-private-network", env=env)
    assert second.returncode == 0, second.stderr
    assert "landed 0" in second.stdout
    assert rows(db, "SELECT count(*) FROM articles") == [(2,)]


# --- hostile sitemaps ---------------------------------------------------------------------------------


def quarantined(db) -> list[tuple[str, str]]:
    return rows(db, "SELECT reason, source_uri FROM quarantine ORDER BY reason, source_uri")


def test_an_index_that_loops_is_read_once_and_the_loop_quarantined(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/a.xml").respond_with_data(
        index([(f"{base}/b.xml", None)]), content_type="text/xml"
    )
    httpserver.expect_request("/b.xml").respond_with_data(
        index([(f"{base}/a.xml", None), (f"{base}/b.xml", None), (f"{base}/c.xml", None)]),
        content_type="text/xml",
    )
    httpserver.expect_request("/c.xml").respond_with_data(
        urlset([url(f"{base}/news/1")]), content_type="text/xml"
    )
    serve_pages(httpserver, 1)
    summary = run_ingest([f"{base}/a.xml"], settings, trigger="test")
    assert summary.landed == 1
    assert fetched(httpserver) == ["/a.xml", "/b.xml", "/c.xml", "/news/1"]
    assert [r for r, _ in quarantined(settings.db_path)] == ["sitemap_loop", "sitemap_loop"]


def test_endless_nesting_stops_at_the_depth_cap(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")

    def deeper(request: Request) -> Response:  # every index names a new, deeper one
        n = int(request.args.get("n", 0))
        return Response(index([(f"{base}/deep.xml?n={n + 1}", None)]), content_type="text/xml")

    httpserver.expect_request("/deep.xml").respond_with_handler(deeper)
    summary = run_ingest([f"{base}/deep.xml?n=0"], settings, trigger="test")
    assert summary.quarantine_reasons == {"sitemap_too_deep": 1}
    assert len(fetched(httpserver)) == settings.max_sitemap_depth + 1


def test_ten_million_urls_stop_at_the_byte_cap_and_a_long_sitemap_at_the_url_cap(httpserver, tmp_path):
    base = httpserver.url_for("").rstrip("/")

    def endless(_request: Request) -> Response:
        def body():
            yield f'<?xml version="1.0"?><urlset {NS}>'.encode()
            for start in range(0, 10_000_000, 10_000):
                yield "".join(
                    f"<url><loc>{base}/news/{n}</loc></url>" for n in range(start, start + 10_000)
                ).encode()
            yield b"</urlset>"

        return Response(body(), content_type="application/xml")

    httpserver.expect_request("/huge.xml").respond_with_handler(endless)
    httpserver.expect_request("/long.xml").respond_with_data(
        urlset([url(f"{base}/news/{n}") for n in range(1, 201)]), content_type="application/xml"
    )
    serve_pages(httpserver, 5)
    capped = Settings.from_env(
        db_path=tmp_path / "db.duckdb",
        allow_private_network=True,
        host_delay_s=0.0,
        fetch_retries=0,
        max_feed_bytes=2_000_000,
        max_sitemap_urls=5,
    )
    summary = run_ingest([f"{base}/huge.xml", f"{base}/long.xml"], capped, trigger="test")
    assert summary.landed == 5  # the first 5 of /long.xml
    assert quarantined(capped.db_path) == [
        ("too_large", f"{base}/huge.xml"),
        ("too_many_urls", f"{base}/long.xml"),
    ]


def test_a_gzip_bomb_is_too_large_served_as_a_file_or_as_content_encoding(httpserver, settings):
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = f'<?xml version="1.0"?><urlset {NS}><url><loc>http://x.example/a</loc></url>'.encode()
    bomb = squeeze.compress(head) + b"".join(squeeze.compress(b" " * (1 << 20)) for _ in range(200))
    bomb += squeeze.flush()  # 200 MB of whitespace in about 200 KB
    assert len(bomb) < 400_000
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/bomb.xml.gz").respond_with_data(bomb, content_type="application/x-gzip")
    httpserver.expect_request("/bomb.xml").respond_with_data(
        bomb, content_type="application/xml", headers={"Content-Encoding": "gzip"}
    )
    summary = run_ingest([f"{base}/bomb.xml.gz", f"{base}/bomb.xml"], settings, trigger="test")
    assert summary.quarantine_reasons == {"too_large": 2}
    details = rows(settings.db_path, "SELECT detail FROM quarantine ORDER BY source_uri")
    assert all("2000000" in d for (d,) in details)


def test_entities_are_refused_and_broken_xml_keeps_the_entries_before_it(httpserver, settings):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        f'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><urlset {NS}><url><loc>http://x.example/&c;</loc></url></urlset>'
    )
    external = (
        '<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f"<urlset {NS}><url><loc>http://x.example/&e;</loc></url></urlset>"
    )
    base = httpserver.url_for("").rstrip("/")
    broken = urlset([url(f"{base}/news/1")])[: -len("</urlset>")] + "<url><loc>http://x"
    httpserver.expect_request("/laughs.xml").respond_with_data(laughs, content_type="application/xml")
    httpserver.expect_request("/external.xml").respond_with_data(external, content_type="application/xml")
    httpserver.expect_request("/broken.xml").respond_with_data(broken, content_type="application/xml")
    serve_pages(httpserver, 1)
    summary = run_ingest(
        [f"{base}/laughs.xml", f"{base}/external.xml", f"{base}/broken.xml"], settings, trigger="test"
    )
    assert summary.landed == 1
    assert [r for r, _ in quarantined(settings.db_path)] == ["malformed_sitemap"] * 3
    details = [d for (d,) in rows(settings.db_path, "SELECT detail FROM quarantine ORDER BY source_uri")]
    assert "after 1 entries" in details[0] and "DOCTYPE" in details[1] and "DOCTYPE" in details[2]


def test_a_site_without_sitemaps_says_so(httpserver, settings):
    base = httpserver.url_for("").rstrip("/")
    settings = replace(settings, audit_require_kept=False)  # a run that keeps nothing is otherwise held
    summary = run_ingest([f"{base}/"], settings, trigger="test")
    assert summary.quarantine_reasons == {"no_sitemap": 1}
    (detail,) = rows(settings.db_path, "SELECT detail FROM quarantine")[0]
    assert "robots.txt lists no Sitemap:" in detail


# --- the parser alone ---------------------------------------------------------------------------------


def test_parser_reads_namespaces_prefixes_and_skips_entries_without_a_usable_loc():
    xml = (
        b'<?xml version="1.0"?><!-- a comment --><sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sm:url><sm:loc> https://a.example/1 </sm:loc><sm:lastmod>2026-11-30T10:00:00Z</sm:lastmod></sm:url>"
        b"<sm:url><sm:loc>javascript:alert(1)</sm:loc></sm:url><sm:url></sm:url>"
        b"</sm:urlset>"
    )
    assert root_of(xml) == "urlset" and root_of(gzip.compress(xml)) == "urlset"
    parsed = parse_sitemap(xml, 10, 1_000_000)
    assert isinstance(parsed, Sitemap)
    assert [e.loc for e in parsed.entries] == ["https://a.example/1"]
    assert str(parsed.entries[0].lastmod) == "2026-11-30 10:00:00" and parsed.invalid == 2
    assert root_of(b"<!doctype html><html><body>") == "html"


def test_a_sources_file_lists_a_sitemap_and_a_web_archive(httpserver, settings, tmp_path):
    from tests.read.test_warc import archive

    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/sitemap.xml").respond_with_data(
        urlset([url(f"{base}/news/{n}") for n in (11, 12)]), content_type="application/xml"
    )
    serve_pages(httpserver, 2, first=11)  # not the archive's stories 1-3
    archive(tmp_path / "crawl.warc.gz")
    listed = tmp_path / "sources.toml"
    listed.write_text(
        f'[[source]]\nurl = "{base}/sitemap.xml"\nname = "Harbour Times"\n\n[[source]]\npath = "crawl.warc.gz"\n'
    )
    summary = run_ingest([], settings, trigger="test", sources_file=listed)
    assert (summary.landed, summary.quarantined) == (5, 0)
    sources = rows(settings.db_path, "SELECT source, count(*) FROM articles GROUP BY 1 ORDER BY 1")
    assert sources[0] == ("Harbour Times", 2)  # the sources file's name for the sitemap's pages
