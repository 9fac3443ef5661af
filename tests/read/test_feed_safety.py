"""Feeds from untrusted servers: `parse_feed` gives feedparser checked bytes only, entity tricks cost nothing and
leak nothing, and broken-but-recoverable feeds, lying charsets and bad dates still give what they can.

What feedparser 6.0.14 does on its own, as observed (the reason for `_feed_xml`): it expands a "safe" entity
(a value without `&`) in its loose parser without limit, 130 KB of feed becoming a 1 GB summary; a comment
holding `<x` before the DOCTYPE hides it from feedparser's filter and expat expands nested entities; and bytes
that name a path are opened and read as a file. It never fetched an external entity or DTD.
"""

import http.server
import secrets
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.read.feeds import parse_feed
from pipeline.read.formats import iter_records
from pipeline.read.records import Problem, Record

PLAIN_ITEM = "<item><title>Plain item</title><link>http://example.org/plain</link></item>"
# A prolog comment holding `<x`: feedparser's own DOCTYPE filter stops at the first `<x`, so it used to miss
# the DOCTYPE after it, and expat expanded the entities.
HIDE_FROM_FEEDPARSER = "<!-- <x -->\n"
MEMORY_BUDGET = 20_000_000  # bytes traced while parsing one small hostile feed


def rss(items: str, prolog: str = "", title: str = "Feed") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<rss version="2.0"><channel><title>{title}</title>'
        f"{items}{PLAIN_ITEM}</channel></rss>"
    ).encode()


def item(title: str, description: str = "", extra: str = "") -> str:
    return f"<item><title>{title}</title><description>{description}</description>{extra}</item>"


def parsed(data: bytes) -> list[Record | Problem]:
    return list(parse_feed(data))


def traced(data: bytes) -> tuple[list[Record | Problem], int]:
    """The items and the peak of memory allocated while parsing."""
    tracemalloc.start()
    try:
        items = parsed(data)
        return items, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def titles(items: list) -> list[str | None]:
    return [i.fields.title for i in items]


def only_problem(items: list) -> Problem:
    assert len(items) == 1 and isinstance(items[0], Problem), items
    return items[0]


def billion_laughs(levels: int = 10, fan: int = 10, inline: bool = False, hide: bool = False) -> bytes:
    sep = "" if inline else "\n"
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * fan}">' for n in range(1, levels)
    ]
    prolog = (HIDE_FROM_FEEDPARSER if hide else "") + f"<!DOCTYPE rss [{sep}{sep.join(decls)}{sep}]>\n"
    top = f"&lol{levels - 1};"
    return rss(item(f"Laughs {top}", f"Body {top}"), prolog)


def quadratic(size: int = 100_000, refs: int = 10_000, hide: bool = False) -> bytes:
    prolog = (HIDE_FROM_FEEDPARSER if hide else "") + f'<!DOCTYPE rss [\n<!ENTITY a "{"x" * size}">\n]>\n'
    return rss(item("Quadratic", "&a;" * refs), prolog)


@pytest.mark.parametrize(
    "data",
    [
        billion_laughs(),
        billion_laughs(inline=True),
        billion_laughs(hide=True),
        billion_laughs(6, hide=True),  # expat expanded this one in full: 300,000-character titles
    ],
    ids=["multiline", "inline", "hidden-doctype", "hidden-doctype-small"],
)
def test_billion_laughs_is_refused_without_expanding(data):
    items, peak = traced(data)
    problem = only_problem(items)
    assert problem.reason == "malformed_feed" and "entity declarations" in problem.detail
    assert "lollollol" not in repr(items)
    assert peak < MEMORY_BUDGET


@pytest.mark.parametrize("hide", [False, True], ids=["plain", "hidden-doctype"])
def test_quadratic_blowup_is_refused_without_expanding(hide):
    data = quadratic(hide=hide)  # 130 KB: feedparser alone made a 1 GB summary of it, in 3 GB and 44 s
    items, peak = traced(data)
    problem = only_problem(items)
    assert problem.reason == "malformed_feed" and "entity declarations" in problem.detail
    assert peak < MEMORY_BUDGET


@pytest.fixture
def canary(tmp_path: Path) -> tuple[Path, str]:
    token = "CANARY-" + secrets.token_hex(12)
    path = tmp_path / "secret.txt"
    path.write_text(token)
    return path, token


def external_file_feeds(path: Path) -> dict[str, bytes]:
    uri = path.as_uri()
    refs = item("A &xxe; B", "Body &xxe;")
    return {
        "general": rss(refs, f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{uri}">\n]>\n', title="T &xxe;"),
        "inline": rss(refs, f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>\n', title="T &xxe;"),
        "hidden": rss(refs, f'{HIDE_FROM_FEEDPARSER}<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{uri}">\n]>\n'),
        "parameter": rss(
            refs,
            f'<!DOCTYPE rss [\n<!ENTITY % file SYSTEM "{uri}">\n'
            f"<!ENTITY % wrap \"<!ENTITY xxe '%file;'>\">\n%wrap;\n]>\n",
        ),
        "public-id": rss(refs, f'<!DOCTYPE rss [\n<!ENTITY xxe PUBLIC "-//X//Y" "{uri}">\n]>\n'),
    }


def test_an_external_file_entity_leaks_nothing(canary):
    path, token = canary
    for name, data in external_file_feeds(path).items():
        items = parsed(data)
        assert token not in repr(items), name
        assert only_problem(items).reason == "malformed_feed", name


def test_bytes_that_name_a_file_are_not_opened(canary, tmp_path):
    # feedparser.parse(b"/some/path") opens and parses the file; parse_feed must read only the bytes given.
    path, token = canary
    local_feed = tmp_path / "local.xml"
    local_feed.write_bytes(rss(item(f"Local {token}"), title=token))
    for data in (str(local_feed).encode(), str(path).encode()):
        items = parsed(data)
        assert token not in repr(items)
        assert only_problem(items).reason == "not_a_feed"


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that serves a DTD defining entities and records every request path."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = b'<!ENTITY leak "LEAKED-FROM-SERVER">'
            self.send_response(200)
            self.send_header("Content-Type", "application/xml-dtd")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_external_dtds_and_entities_are_never_fetched(counting_server):
    base, requests = counting_server
    leak = item("A &leak; B", "Body &leak;")
    refused = {
        "general": rss(leak, f'<!DOCTYPE rss [\n<!ENTITY leak SYSTEM "{base}/general">\n]>\n'),
        "hidden": rss(
            leak, f'{HIDE_FROM_FEEDPARSER}<!DOCTYPE rss [<!ENTITY leak SYSTEM "{base}/hidden">]>\n'
        ),
        "parameter": rss(
            leak, f'<!DOCTYPE rss [\n<!ENTITY % dtd SYSTEM "{base}/parameter.dtd">\n%dtd;\n]>\n'
        ),
    }
    for name, data in refused.items():
        items = parsed(data)
        assert only_problem(items).reason == "malformed_feed", name
        assert "LEAKED" not in repr(items), name
    # An external DTD alone declares nothing here: the DOCTYPE is dropped, the entries come out, nothing fetched.
    stripped = {
        "system": rss(leak, f'<!DOCTYPE rss SYSTEM "{base}/system.dtd">\n'),
        "public": rss(leak, f'<!DOCTYPE rss PUBLIC "-//X//DTD X//EN" "{base}/public.dtd">\n'),
        "hidden": rss(leak, f'{HIDE_FROM_FEEDPARSER}<!DOCTYPE rss SYSTEM "{base}/hidden.dtd">\n'),
        "standalone-no": rss(leak, f'<!DOCTYPE rss SYSTEM "{base}/standalone.dtd">\n').replace(
            b'encoding="utf-8"?>', b'encoding="utf-8" standalone="no"?>'
        ),
    }
    for name, data in stripped.items():
        items = parsed(data)
        assert titles(items) == ["A &leak; B", "Plain item"], name
        assert "LEAKED" not in repr(items), name
    assert requests == []


def test_a_doctype_that_only_names_characters_or_a_dtd_is_dropped_and_the_feed_read():
    characters = '<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n<!ENTITY mdash "&#x2014;">\n]>\n'
    items = parsed(rss(item("Fish&nbsp;&amp;&nbsp;chips &mdash; caf&eacute;"), characters))
    assert titles(items) == ["Fish & chips — café", "Plain item"]  # HTML names, read without the DTD
    netscape = (
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"\n'
        ' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
    )
    assert titles(parsed(rss(item("Old &eacute;cole"), netscape))) == ["Old école", "Plain item"]
    quoted = '<!DOCTYPE rss [<!ATTLIST rss note CDATA "a > b ] c">]>\n'  # `>` and `]` inside a literal
    assert titles(parsed(rss(item("Quoted"), quoted))) == ["Quoted", "Plain item"]


def test_an_unterminated_doctype_or_a_stray_entity_declaration_is_refused():
    unterminated = b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ATTLIST rss note CDATA "a > b'
    assert only_problem(parsed(unterminated)).detail == "an unterminated DOCTYPE: refused"
    # An unterminated comment: expat reads no further, but feedparser's loose parser took the declarations.
    stray = rss(item("&a;&a;"), '<!-- <x \n<!DOCTYPE rss [\n<!ENTITY a "xxxx">\n]>\n')
    assert only_problem(parsed(stray)).reason == "malformed_feed"
    # XML allows one DOCTYPE; stripping 100,000 of them would copy the feed 100,000 times.
    many = rss(item("Many"), "<!DOCTYPE rss>\n" * 100_000)
    assert only_problem(parsed(many)).detail == "more than one DOCTYPE: refused"


def test_entity_declarations_are_found_in_the_decoded_text_not_the_bytes():
    # UTF-7 spells `<` as `+ADw-`; the NUL keeps the bytes from passing as UTF-8, so the declaration is used.
    doctype = '+ADw-!DOCTYPE rss [+ADw-!ENTITY a "x">]>\n'
    data = rss(item("A +ACY-a; \0"), doctype).replace(b"utf-8", b"utf-7")
    assert only_problem(parsed(data)).reason == "malformed_feed"
    utf16 = rss(item("&a;"), '<!DOCTYPE rss [<!ENTITY a "x">]>\n').decode().replace("utf-8", "utf-16")
    assert only_problem(parsed(utf16.encode("utf-16-le"))).reason == "malformed_feed"  # no byte-order mark


@pytest.mark.parametrize(
    ("declared", "data_encoding", "text"),
    [
        ("iso-8859-1", "utf-8", "Café — “quoted” €5"),
        ("windows-1252", "utf-8", "Café — “quoted” €5"),
        ("koi8-r", "utf-8", "Café — “quoted” €5"),  # feedparser alone: "Cafц╘ ..."
        ("shift_jis", "utf-8", "Café 日本"),  # feedparser alone: "Cafﾃｩ 譌･譛ｬ"
        ("utf-16", "utf-8", "Café 日本"),
        ("x-no-such-encoding", "utf-8", "Café 日本"),
        ("utf-8", "windows-1252", "Café — “quoted” €5"),
        ("utf-8", "iso-8859-1", "Café à la carte"),
    ],
    ids=lambda value: value if value.isascii() else "text",
)
def test_a_lying_charset_still_gives_readable_entries(declared, data_encoding, text):
    data = rss(item(text, f"<p>{text}</p>")).replace(b"utf-8", declared.encode(), 1)
    items = parsed(data.decode().encode(data_encoding))
    assert titles(items) == [text, "Plain item"]
    assert items[0].fields.body == f"<p>{text}</p>"


def test_ascii_declared_as_utf16_is_read_as_what_it_is():
    # feedparser alone decodes it as UTF-16: not well-formed, and no entries at all.
    data = rss(item("Plain ascii")).replace(b"utf-8", b"utf-16")
    assert titles(parsed(data)) == ["Plain ascii", "Plain item"]


@pytest.mark.parametrize("declared", ["undefined", "unicode_escape"])
def test_a_declared_codec_that_cannot_decode_is_a_malformed_feed_not_a_crash(declared):
    # Bytes that are not UTF-8 are decoded as declared; feedparser raises on these codecs (on unicode_escape,
    # because `\ud800` decodes to a lone surrogate).
    data = rss(item("caf\\ud800")).replace(b"utf-8", declared.encode()) + b"\xe9"
    problem = only_problem(parsed(data))
    assert problem.reason == "malformed_feed" and "declared encoding" in problem.detail
    # UTF-8 bytes are read as UTF-8 whatever they declare (feedparser alone raised on two of these).
    for codec in (b"undefined", b"punycode", b"unicode_escape"):
        assert titles(parsed(rss(item("caf\\ud800 é")).replace(b"utf-8", codec))) == [
            "caf\\ud800 é",
            "Plain item",
        ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (rss(item("Fish & chips")), "Fish & chips"),  # a stray `&`
        (rss(item("Hello <b>world")), "Hello <b>world"),  # an unclosed tag
        (rss(item("caf&eacute;&nbsp;bar")), "café bar"),  # HTML entities XML does not know
        (rss(item("Mismatch", extra="<link>http://x/</lnk>")), "Mismatch"),
        (b"\n\n  " + rss(item("Leading blank lines")), "Leading blank lines"),
        (b"Warning: include(): failed in /var/www/feed.php\n" + rss(item("PHP noise")), "PHP noise"),
        (rss(item("Truncated")).replace(b"</channel></rss>", b""), "Truncated"),
    ],
    ids=[
        "stray-amp",
        "unclosed-tag",
        "html-entities",
        "mismatched-tag",
        "leading-space",
        "junk",
        "truncated",
    ],
)
def test_a_recoverable_malformed_feed_still_yields_its_entries(data, expected):
    items = parsed(data)
    assert all(isinstance(i, Record) for i in items)
    assert titles(items) == [expected, "Plain item"]


def test_an_atom_feed_with_broken_xml_still_yields_its_entries():
    data = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>X</title>'
        b"<entry><title>E1</title><id>1</id></entry><entry><title>E2 &bogus;</title><id>2</id></entry>"
    )
    assert [t.split()[0] for t in titles(parsed(data))] == ["E1", "E2"]


@pytest.mark.parametrize(
    ("data", "root"),
    [
        (b"<!DOCTYPE html><html><head><title>Page</title></head><body><p>Hi</p></body></html>", "<html>"),
        (b"this is not xml { at all", "no XML element"),
        (b'{"version": "1", "items": []}', "no XML element"),
        (b"", "no XML element"),
    ],
    ids=["html", "text", "json", "empty"],
)
def test_bytes_that_are_no_feed_are_not_a_feed(data, root):
    problem = only_problem(parsed(data))
    assert problem.reason == "not_a_feed" and root in problem.detail


def test_a_feed_broken_beyond_recovery_is_malformed_and_an_empty_one_has_no_entries(tmp_path):
    problem = only_problem(parsed(b'<?xml version="1.0"?><rss version="2.0"><chan'))
    assert problem.reason == "malformed_feed" and "unclosed token" in problem.detail
    empty = tmp_path / "empty.rss"
    empty.write_bytes(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    )
    assert parsed(empty.read_bytes()) == []
    assert [p.reason for p in iter_records(empty, 10_000)] == ["no_entries"]


@pytest.mark.parametrize(
    ("pub_date", "problem"),
    [
        ("not a date", "date_unparsed"),
        ("Mon, 99 Foo 2024", "date_unparsed"),
        ("Mon, 32 May 2024 10:00:00 GMT", "date_unparsed"),
        ("Mon, 06 May 2024 25:61:00 GMT", "date_unparsed"),
        ("Mon, 01 Jan 0001 00:00:00 GMT", "date_dropped_implausible"),
        ("0001-01-01T00:00:00Z", "date_dropped_implausible"),
        ("Fri, 31 Dec 9999 23:59:59 GMT", "date_dropped_future"),
        ("9999-12-31T23:59:59+14:00", "date_dropped_future"),
        ("Thu, 01 Jan 2099 00:00:00 GMT", "date_dropped_future"),
    ],
)
def test_a_malformed_date_is_dropped_and_the_entry_says_why(pub_date, problem):
    items = parsed(rss(item("Dated", extra=f"<pubDate>{pub_date}</pubDate>")))
    assert titles(items) == ["Dated", "Plain item"]
    assert items[0].fields.published_at is None and items[0].fields.date_problem == problem
    assert items[1].fields.date_problem is None
