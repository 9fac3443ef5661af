"""Web archives end to end: WARC files written with warcio from pages served on 127.0.0.1 (and broken on purpose),
ingested by real runs into a real DuckDB file."""

import http.client
import io
import random
import re
import zlib
from pathlib import Path

import duckdb
import pytest
from warcio.capture_http import capture_http  # replaces http.client.HTTPConnection with its recorder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.read.warc import warc_records
from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from tests.conftest import run_cli
from tests.read.test_web import page

WARC_DATE = "2026-11-30T06:15:00Z"


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(db_path=tmp_path / "db" / "a.duckdb", extract_workers=1)


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def response(
    writer: WARCWriter, uri: str, body: bytes, status="200 OK", content_type="text/html", date=WARC_DATE
):
    headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        uri, "response", payload=io.BytesIO(body), http_headers=headers, warc_headers_dict={"WARC-Date": date}
    )
    writer.write_record(record)


def archive(path: Path, gzip: bool = True, pages: int = 3) -> Path:
    """A warcinfo record, `pages` HTML pages, and the records that are not articles: a 404, an image, a revisit
    and a request."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for n in range(1, pages + 1):
            response(writer, f"https://news.example/story/{n}", page(f"Harbour story {n}", n).encode())
        response(writer, "https://news.example/gone", b"<html>not found</html>", status="404 Not Found")
        response(writer, "https://news.example/logo.png", b"\x89PNG\r\n", content_type="image/png")
        revisit = writer.create_revisit_record(
            "https://news.example/story/1", "sha1:AAAA", "https://news.example/story/1", WARC_DATE
        )
        writer.write_record(revisit)
        request = writer.create_warc_record(
            "https://news.example/story/1", "request", payload=io.BytesIO(b"GET /story/1 HTTP/1.1\r\n\r\n")
        )
        writer.write_record(request)
    return path


def members(path: Path) -> list[int]:
    return [m.start() for m in re.finditer(b"\x1f\x8b\x08", path.read_bytes())]


def test_html_responses_land_with_their_uri_and_warc_date_the_rest_is_counted_and_a_rerun_lands_nothing(
    tmp_path, settings
):
    warc = archive(tmp_path / "site.example.warc.gz")
    first = run_ingest([str(warc)], settings, trigger="test")
    assert (first.read, first.landed, first.quarantined) == (3, 3, 0)
    read = first.stages["read"]
    assert (read["warc_not_200"], read["warc_not_html"], read["warc_revisit"], read["warc_other_record"]) == (
        1,
        1,
        1,
        2,
    )
    landed = rows(settings.db_path, "SELECT url, title, source_uri FROM articles ORDER BY url")
    assert [(u, t) for u, t, _ in landed] == [
        (f"https://news.example/story/{n}", f"Harbour story {n}") for n in (1, 2, 3)
    ]
    assert [s.rsplit("#", 1)[1] for _, _, s in landed] == ["2", "3", "4"]  # the record's place in the file
    raw = rows(settings.db_path, "SELECT fetched_at, bytes, content FROM raw_documents ORDER BY source_uri")
    assert {str(f) for f, _, _ in raw} == {"2026-11-30 06:15:00"}  # WARC-Date, not the run's time
    assert (
        zlib.decompress(raw[0][2]) == page("Harbour story 1", 1).encode()
    )  # the record's page, not the file
    assert raw[0][1] < warc.stat().st_size

    second = run_ingest([str(warc)], settings, trigger="test")
    assert (second.landed, second.quarantined) == (0, 0)
    assert rows(settings.db_path, "SELECT count(*) FROM articles") == [(3,)]


def test_members_larger_than_a_read_chunk_end_where_they_end(tmp_path):
    path = tmp_path / "big.warc.gz"
    noise = random.Random(7).randbytes(300_000)  # incompressible: a member of several 64 KB reads
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for n in range(1, 4):
            response(writer, f"https://img.example/{n}.jpg", noise, content_type="image/jpeg")
            response(
                writer,
                f"https://news.example/story/{n}",
                page(f"Harbour story {n}", n).encode() + noise[:90_000].hex().encode(),
            )
    found = list(warc_records(path, 1_000_000))
    assert [type(r).__name__ for r in found] == ["Passed", "Record"] * 3
    assert [r.fields.url for r in found if hasattr(r, "fields")] == [
        f"https://news.example/story/{n}" for n in (1, 2, 3)
    ]


def test_a_corrupt_and_a_truncated_member_are_quarantined_and_the_rest_is_read(tmp_path, settings):
    good = archive(tmp_path / "good.warc.gz", pages=5)
    data, starts = bytearray(good.read_bytes()), members(good)
    data[starts[2] + 40 : starts[2] + 70] = b"\0" * 30  # record 3 (story 2): corrupt deflate data
    cut = bytes(data[: starts[4] + 25]) + bytes(data[starts[5] :])  # record 5 (story 4): cut short
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(cut + b"\x1f\x8b\x08\0garbage at the end")
    found = list(warc_records(broken, 1_000_000))
    problems = [(p.index, p.reason) for p in found if hasattr(p, "reason")]
    assert problems == [(3, "corrupt_warc"), (5, "corrupt_warc"), (11, "corrupt_warc")]

    summary = run_ingest([str(broken)], settings, trigger="test")
    assert (summary.landed, summary.quarantined) == (3, 3)
    titles = rows(settings.db_path, "SELECT title FROM articles ORDER BY title")
    assert titles == [("Harbour story 1",), ("Harbour story 3",), ("Harbour story 5",)]
    details = rows(settings.db_path, "SELECT source_uri, detail FROM quarantine ORDER BY source_uri")
    assert [s.rsplit("#", 1)[1] for s, _ in details] == ["11", "3", "5"]
    assert all("gzip member at offset" in d for _, d in details)


def test_uncompressed_warc_in_a_folder_and_a_broken_one_ends_with_a_reason(tmp_path, settings):
    folder = tmp_path / "crawl"
    folder.mkdir()
    archive(folder / "a.warc", gzip=False)
    data = archive(tmp_path / "b.warc", gzip=False).read_bytes()
    second = data.index(b"WARC/1", 2000)  # the second record's start
    (folder / "b.warc").write_bytes(data[:second] + b"junk, not a record header\r\n\r\n" + data[second:])
    (folder / "c.warc").write_bytes(data[: second + 300])  # cut inside the second record
    summary = run_ingest([str(folder)], settings, trigger="test")
    assert summary.landed == 3  # b.warc's first page is a.warc's (same URL): read, not landed twice
    reasons = rows(settings.db_path, "SELECT reason, source_uri, detail FROM quarantine ORDER BY source_uri")
    assert [(r, s.rsplit("/", 1)[1]) for r, s, _ in reasons] == [
        ("corrupt_warc", "b.warc#3"),
        ("corrupt_warc", "c.warc#3"),
    ]
    assert "Invalid WARC record" in reasons[0][2] and "cut short" in reasons[1][2]


def test_http_charset_is_honoured_and_an_oversized_payload_is_too_large(tmp_path, settings):
    cyrillic = "Новости гавани: паром снова ходит. " * 20
    html = f"<html><head><title>Паром</title></head><body><article><p>{cyrillic}</p><p>{cyrillic}</p></article></body></html>"
    path = tmp_path / "ru.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        response(
            writer,
            "https://ru.example/1",
            html.encode("windows-1251"),
            content_type="text/html; charset=windows-1251",
        )
        response(
            writer, "https://ru.example/big", b"<html><body>" + b"<p>word</p>" * 200_000 + b"</body></html>"
        )
    small = Settings.from_env(db_path=settings.db_path, extract_workers=1, max_input_bytes=1_000_000)
    summary = run_ingest([str(path)], small, trigger="test")
    assert summary.quarantine_reasons == {"too_large": 1}
    ((body, language),) = rows(small.db_path, "SELECT body, language FROM articles")
    assert "Новости гавани" in body and language == "ru"


def test_records_captured_from_a_live_server_and_the_cli_acceptance_command(httpserver, tmp_path):
    for n in (1, 2):
        httpserver.expect_request(f"/story/{n}").respond_with_data(
            page(f"Captured story {n}", 40 + n), content_type="text/html; charset=utf-8"
        )
    warc = tmp_path / "site.example.warc.gz"
    with capture_http(str(warc)):
        for n in (1, 2):
            connection = http.client.HTTPConnection("127.0.0.1", httpserver.port, timeout=10)
            connection.request("GET", f"/story/{n}")
            assert connection.getresponse().read()
            connection.close()
    db = tmp_path / "cli.duckdb"
    first = run_cli("ingest", str(warc), "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "landed 2" in first.stdout and "web archive records skipped" in first.stdout
    second = run_cli("ingest", str(warc), "--db", str(db))
    assert second.returncode == 0, second.stderr
    assert "landed 0" in second.stdout
    assert rows(db, "SELECT count(*) FROM articles") == [(2,)]


def test_a_compression_bomb_inside_a_record_is_too_large_and_the_item_cap_counts_pages_only(
    tmp_path, settings
):
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = squeeze.compress(b"<html><body><p>") + b"".join(
        squeeze.compress(b"a" * (1 << 20)) for _ in range(100)
    )
    bomb += squeeze.flush()  # 100 MB of page in about 100 KB, sent with Content-Encoding: gzip
    path = tmp_path / "bomb.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        headers = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], protocol="HTTP/1.1"
        )
        writer.write_record(
            writer.create_warc_record(
                "https://x.example/bomb", "response", payload=io.BytesIO(bomb), http_headers=headers
            )
        )
        for n in range(1, 5):
            response(writer, "https://x.example/logo.png", b"\x89PNG", content_type="image/png")
            response(writer, f"https://news.example/story/{n}", page(f"Harbour story {n}", n).encode())
    summary = run_ingest([str(path)], settings, trigger="test", max_items=3)
    assert summary.quarantine_reasons == {"too_large": 1}
    assert summary.landed == 2  # the bomb and two pages make three items; the images are not items
