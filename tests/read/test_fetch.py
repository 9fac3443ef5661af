"""pipeline.read.fetch against real servers on 127.0.0.1: decoding, caps, deadlines, retries, redirects, the address
guard, robots.txt and politeness. Waits go through an injected clock and sleep unless a test says otherwise."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import itertools
import pickle
import socket
import socketserver
import ssl
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipeline.errors import Reject
from pipeline.read import fetch, guard
from pipeline.read.fetch import Fetcher, FetchError, FetchPolicy
from pipeline.read.guard import blocked_address_kind

PUBLIC_IP = "93.184.215.14"  # what the test resolver gives public-looking names; dialled as 127.0.0.1


class FakeTime:
    """A clock that only moves when someone sleeps; records the sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)  # threaded: HTTP/1.1, chunked bodies
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def server(_shared_server: HTTPServer) -> Iterator[HTTPServer]:
    _shared_server.clear()
    yield _shared_server
    _shared_server.clear()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_fetcher(fake_time: FakeTime) -> Iterator[Callable[..., Fetcher]]:
    """Fetcher(policy) for tests: private addresses allowed, no robots, no host delay, fake time, unless told."""
    made: list[Fetcher] = []

    def make(*, real_time: bool = False, resolver=None, **policy) -> Fetcher:
        defaults = dict(
            allow_private=True, respect_robots=False, host_delay_s=0.0, retries=0, deadline_s=10.0
        )
        timing = {} if real_time else {"sleep": fake_time.sleep, "clock": fake_time.clock}
        fetcher = Fetcher(FetchPolicy(**{**defaults, **policy}), resolver=resolver, **timing)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def paths(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


def get_error(fetcher: Fetcher, url: str, headers: dict | None = None) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetcher.get(url, headers)
    return info.value


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resolve_as(mapping: dict[str, list[str]]):
    """A getaddrinfo that answers for the names in `mapping` (a list: one answer per call, the last repeats)."""
    calls: dict[str, int] = {}

    def resolver(host, port, *args, **kwargs):
        if host not in mapping:
            return socket.getaddrinfo(host, port, *args, **kwargs)
        answers = mapping[host]
        n = calls[host] = calls.get(host, 0) + 1
        address = answers[min(n, len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolver


@pytest.fixture
def public_ip_is_local(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Connections to PUBLIC_IP go to 127.0.0.1 (no internet here); returns the addresses dialled."""
    dialled: list[str] = []
    real_dial = guard._dial

    def dial(address, port, *args):
        dialled.append(address)
        return real_dial("127.0.0.1" if address == PUBLIC_IP else address, port, *args)

    monkeypatch.setattr(guard, "_dial", dial)
    return dialled


# --- raw-socket servers for what HTTP servers will not do ------------------------------------------------------


@contextlib.contextmanager
def raw_server(talk: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 running `talk(connection, stop)` after reading each request's head."""
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(5)
            head = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                talk(self.request, stop)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as srv:
        thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield srv.server_address[1]
        finally:
            stop.set()
            srv.shutdown()
            thread.join(5)


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 promising a megabyte, then one byte a second, forever."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000000\r\n\r\n")
    while not stop.wait(1.0):
        conn.sendall(b"x")


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then a header that never ends, four bytes a second."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.wait(0.25):
        conn.sendall(b"a")


def hang_up_mid_body(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)


def in_thread(fn: Callable[[], object], limit_s: float) -> object:
    """Run fn in a thread; fail (rather than hang the suite) if it has not returned within limit_s."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"still running after {limit_s} s: the deadline did not hold"
    return outcome[0]


# --- bodies ---------------------------------------------------------------------------------------------------

ARTICLE = ("<html><body><p>Harbour dredging resumes after winter storms.</p></body></html>" * 50).encode()


def _deflate(data: bytes, wbits: int) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


ENCODED = {
    "gzip": ("gzip", gzip.compress(ARTICLE)),
    "gzip, two members": ("gzip", gzip.compress(ARTICLE[:1000]) + gzip.compress(ARTICLE[1000:])),
    "deflate (zlib)": ("deflate", _deflate(ARTICLE, zlib.MAX_WBITS)),
    "deflate (raw)": ("deflate", _deflate(ARTICLE, -zlib.MAX_WBITS)),
    "identity": (None, ARTICLE),
}


def gzip_bomb(gib: int = 1) -> bytes:
    """A single gzip member holding `gib` GiB of zeros (~1 MB per GiB), built without the zeros in memory:
    1 MiB of zeros deflated and fully flushed is the same bytes every time, so it is repeated."""
    zeros = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    c.compress(zeros)
    c.flush(zlib.Z_FULL_FLUSH)
    segment = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    n = gib * 1024
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + segment * (n + 1) + c.flush() + struct.pack("<II", crc, ((n + 1) << 20) & 0xFFFFFFFF)


# --- 1. decoding, headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ENCODED)
def test_compressed_bodies_are_decoded_and_the_request_is_ours(server, make_fetcher, case):
    coding, payload = ENCODED[case]
    headers = {"Content-Type": "text/html", "Set-Cookie": "session=abc; Path=/", "X-Twice": "a"}
    if coding:
        headers["Content-Encoding"] = coding
    server.expect_request("/article").respond_with_data(payload, headers=headers)
    fetcher = make_fetcher()

    response = fetcher.get(server.url_for("/article"), {"Accept-Encoding": "br", "X-Caller": "yes"})
    fetcher.get(server.url_for("/article"))

    assert response.status == 200 and response.body == ARTICLE
    assert response.url == server.url_for("/article")
    assert response.headers["content-type"] == "text/html" and "Content-Type" not in response.headers
    first, second = (request for request, _ in server.log)
    assert first.headers["User-Agent"].startswith("article-pipeline/")
    assert first.headers["Accept-Encoding"] == "gzip, deflate"  # never what we could not decode
    assert first.headers["X-Caller"] == "yes"
    assert "Cookie" not in second.headers  # no cookie jar: servers leave no state behind
    assert fetcher.requests_sent == 2


@pytest.mark.parametrize(
    ("coding", "payload", "detail"),
    [
        ("br", b"\x1b\x00\x00", "Content-Encoding 'br' was not asked for"),
        ("gzip, gzip", gzip.compress(gzip.compress(ARTICLE)), "was not asked for"),
        ("gzip", b"\x1f\x8b not really gzip at all", "bad gzip data"),
        ("gzip", gzip.compress(ARTICLE)[:-6], "truncated"),  # cut inside the trailer
    ],
)
def test_encodings_we_cannot_decode_are_refused(server, make_fetcher, coding, payload, detail):
    server.expect_request("/x").respond_with_data(payload, headers={"Content-Encoding": coding})
    error = get_error(make_fetcher(retries=3), server.url_for("/x"))
    assert error.reason == "bad_encoding" and detail in error.detail
    assert len(server.log) == 1  # not worth another attempt


# --- 2. conditional GET ---------------------------------------------------------------------------------------


def test_a_conditional_get_that_matches_is_a_304_response(server, make_fetcher):
    def etagged(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(b"<rss/>", headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    server.expect_request("/feed.xml").respond_with_handler(etagged)
    fetcher = make_fetcher()

    first = fetcher.get(server.url_for("/feed.xml"))
    again = fetcher.get(server.url_for("/feed.xml"), {"If-None-Match": first.headers["etag"]})

    assert (first.status, first.body) == (200, b"<rss/>")
    assert (again.status, again.body, again.headers["etag"]) == (304, b"", '"v1"')


def test_a_304_nobody_asked_for_is_an_error(server, make_fetcher):
    server.expect_request("/odd").respond_with_data(b"", status=304)
    assert get_error(make_fetcher(), server.url_for("/odd")).reason == "http_304"


# --- 3-5, 13. status codes and retries ------------------------------------------------------------------------


def counted(responses: list[Response]) -> Callable[[Request], Response]:
    """A handler answering with `responses` in turn (the last one repeats)."""
    calls = iter(range(10**6))

    def handler(request: Request) -> Response:
        return responses[min(next(calls), len(responses) - 1)]

    return handler


def test_429_with_retry_after_waits_that_long_then_succeeds_real_clock(server, make_fetcher):
    server.expect_request("/busy").respond_with_handler(
        counted([Response(b"slow down", status=429, headers={"Retry-After": "1"}), Response(b"ok")])
    )
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    fetcher = make_fetcher(real_time=True, retries=3)
    fetcher._sleep = sleep  # real time.sleep, recorded

    assert fetcher.get(server.url_for("/busy")).body == b"ok"
    assert waits == [1.0]
    assert paths(server) == ["/busy", "/busy"]


def test_a_retry_after_over_the_limit_gives_up_at_once(server, make_fetcher, fake_time):
    server.expect_request("/later").respond_with_data(b"", status=503, headers={"Retry-After": "3600"})
    error = get_error(make_fetcher(retries=3, max_retry_after_s=60), server.url_for("/later"))
    assert error.reason == "retry_after_too_long" and error.status == 503
    assert "503" in error.detail and "3600" in error.detail
    assert fake_time.sleeps == [] and len(server.log) == 1


def test_retry_after_reads_seconds_and_http_dates():
    assert fetch._retry_after("120") == 120.0
    assert fetch._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= fetch._retry_after(future) <= 31
    assert fetch._retry_after("soon") is None and fetch._retry_after(None) is None
    assert fetch._retry_after("9" * 40) == float("inf")


def test_5xx_is_retried_with_backoff_then_http_5xx(server, make_fetcher, fake_time):
    server.expect_request("/flaky").respond_with_data(b"oops", status=500)
    error = get_error(make_fetcher(retries=2, backoff_s=1.0), server.url_for("/flaky"))

    assert error.reason == "http_5xx" and error.status == 500
    assert "HTTP 500" in error.detail and "after 3 attempts" in error.detail
    assert len(server.log) == 3
    first, second = fake_time.sleeps  # 1 s then 2 s, each jittered down by at most half
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0


def test_429_after_the_last_attempt_is_http_429(server, make_fetcher, fake_time):
    server.expect_request("/busy").respond_with_data(b"", status=429)
    error = get_error(make_fetcher(retries=1), server.url_for("/busy"))
    assert (error.reason, error.status, len(server.log), len(fake_time.sleeps)) == ("http_429", 429, 2, 1)


@pytest.mark.parametrize("status", [404, 403, 410])
def test_other_4xx_are_not_retried(server, make_fetcher, fake_time, status):
    server.expect_request("/gone").respond_with_data(b"no", status=status)
    error = get_error(make_fetcher(retries=3), server.url_for("/gone"))
    assert (error.reason, error.status) == (f"http_{status}", status)
    assert len(server.log) == 1 and fake_time.sleeps == []


def test_connection_refused_is_retried_then_connection_error(make_fetcher, fake_time):
    fetcher = make_fetcher(retries=2)
    error = get_error(fetcher, f"http://127.0.0.1:{closed_port()}/feed")
    assert error.reason == "connection_error" and "after 3 attempts" in error.detail
    assert len(fake_time.sleeps) == 2 and fetcher.requests_sent == 3


def test_a_server_hanging_up_mid_body_is_a_connection_error(make_fetcher):
    with raw_server(hang_up_mid_body) as port:
        error = get_error(make_fetcher(), f"http://127.0.0.1:{port}/")
    assert error.reason == "connection_error"


# --- 6. time --------------------------------------------------------------------------------------------------


def test_a_body_trickling_a_byte_a_second_ends_at_the_deadline(make_fetcher):
    fetcher = make_fetcher(real_time=True, deadline_s=3, read_timeout_s=2)  # each byte comes within 2 s
    with raw_server(trickle_body) as port:
        error = in_thread(lambda: fetcher.get(f"http://127.0.0.1:{port}/slow"), limit_s=15)
    assert isinstance(error, FetchError)
    assert error.reason == "timeout" and error.detail == "over the 3 s deadline"


def test_headers_that_never_end_time_out_at_the_deadline(make_fetcher):
    fetcher = make_fetcher(real_time=True, deadline_s=1.5, read_timeout_s=1)
    with raw_server(trickle_headers) as port:
        error = in_thread(lambda: fetcher.get(f"http://127.0.0.1:{port}/slow"), limit_s=15)
    assert isinstance(error, FetchError) and error.reason == "timeout"


def test_silence_is_a_read_timeout(make_fetcher):
    fetcher = make_fetcher(real_time=True, read_timeout_s=0.3)
    with raw_server(lambda conn, stop: stop.wait(5)) as port:
        error = in_thread(lambda: fetcher.get(f"http://127.0.0.1:{port}/"), limit_s=15)
    assert isinstance(error, FetchError)
    assert (error.reason, error.detail) == ("timeout", "no data for 0.3 s")


# --- 7, 8. size -----------------------------------------------------------------------------------------------


def test_a_gzip_bomb_is_stopped_at_the_cap_without_inflating_it(server, make_fetcher):
    bomb = gzip_bomb(1)  # ~1 MB on the wire, 1 GiB of zeros inflated
    assert len(bomb) < 1_200_000
    server.expect_request("/bomb").respond_with_response(
        Response(
            iter([bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]),
            headers={"Content-Encoding": "gzip"},
        )
    )
    fetcher = make_fetcher(max_bytes=1_000_000)
    tracemalloc.start()
    try:
        error = get_error(fetcher, server.url_for("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (
        error.reason == "too_large" and error.detail == "the body passed the 1000000 byte cap (decompressed)"
    )
    assert peak < 20_000_000  # the cap, a step and the server's copy of the bomb; never the gigabyte


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "chunked"])
def test_a_30_mb_body_is_too_large(server, make_fetcher, with_length):
    block = b"a" * 1_000_000
    if with_length:
        server.expect_request("/big").respond_with_data(block * 30)
    else:
        server.expect_request("/big").respond_with_response(Response(iter([block] * 30)))  # chunked
    error = get_error(make_fetcher(max_bytes=1_000_000), server.url_for("/big"))
    assert error.reason == "too_large"
    expected = "Content-Length 30000000 is over" if with_length else "the body passed the 1000000 byte cap"
    assert error.detail.startswith(expected)


def test_a_body_exactly_at_the_cap_is_fine(server, make_fetcher):
    server.expect_request("/x").respond_with_data(
        gzip.compress(b"z" * 5000), headers={"Content-Encoding": "gzip"}
    )
    assert len(make_fetcher(max_bytes=5000).get(server.url_for("/x")).body) == 5000
    assert get_error(make_fetcher(max_bytes=4999), server.url_for("/x")).reason == "too_large"


# --- 9. redirects ---------------------------------------------------------------------------------------------


def redirect(server: HTTPServer, path: str, location: str, status: int = 302) -> None:
    server.expect_request(path).respond_with_data(b"", status=status, headers={"Location": location})


def test_redirects_are_followed_relative_locations_included(server, make_fetcher):
    redirect(server, "/old", "/moved/here?x=1", status=301)
    redirect(server, "/moved/here", "there#frag", status=308)
    server.expect_request("/moved/there").respond_with_data(b"final")
    response = make_fetcher().get(server.url_for("/old"))
    assert (response.body, response.url) == (b"final", server.url_for("/moved/there"))
    assert paths(server) == ["/old", "/moved/here", "/moved/there"]


def test_a_redirect_loop_is_refused(server, make_fetcher):
    redirect(server, "/a", "/b")
    redirect(server, "/b", server.url_for("/a"))
    error = get_error(make_fetcher(), server.url_for("/a"))
    assert error.reason == "redirect_loop" and paths(server) == ["/a", "/b"]


def test_a_chain_longer_than_max_redirects_is_refused(server, make_fetcher):
    for n in range(10):
        redirect(server, f"/hop{n}", f"/hop{n + 1}")
    error = get_error(make_fetcher(max_redirects=3), server.url_for("/hop0"))
    assert error.reason == "too_many_redirects"
    assert paths(server) == ["/hop0", "/hop1", "/hop2", "/hop3"]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://files.example/x", "javascript:alert(1)"])
def test_a_redirect_to_another_scheme_is_a_bad_url(server, make_fetcher, location):
    redirect(server, "/x", location)
    assert get_error(make_fetcher(), server.url_for("/x")).reason == "bad_url"


def test_a_redirect_without_location_is_a_bad_redirect(server, make_fetcher):
    server.expect_request("/x").respond_with_data(b"", status=302)
    assert get_error(make_fetcher(), server.url_for("/x")).reason == "bad_redirect"


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/admin", "http://10.0.0.1/", "http://localhost:{port}/"]
)
def test_a_redirect_into_the_private_network_is_blocked(server, make_fetcher, public_ip_is_local, target):
    redirect(server, "/start", target.format(port=server.port))
    fetcher = make_fetcher(allow_private=False, resolver=resolve_as({"feeds.example": [PUBLIC_IP]}))
    error = get_error(fetcher, f"http://feeds.example:{server.port}/start")
    assert error.reason == "blocked_address" and "not a public address" in error.detail
    assert paths(server) == ["/start"]  # the first hop is real; the second never left
    assert public_ip_is_local == [PUBLIC_IP] and fetcher.requests_sent == 1


def test_dns_rebinding_between_check_and_connect_is_blocked(server, make_fetcher, public_ip_is_local):
    server.expect_request("/").respond_with_data(b"internal secrets")
    resolver = resolve_as({"rebind.example": [PUBLIC_IP, "127.0.0.1"]})  # public for the check only
    fetcher = make_fetcher(allow_private=False, resolver=resolver)
    error = get_error(fetcher, f"http://rebind.example:{server.port}/")
    assert error.reason == "blocked_address" and "when connecting" in error.detail
    assert server.log == [] and public_ip_is_local == [] and fetcher.requests_sent == 0


# --- 10. the address guard ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost/", "blocked_address"),
        ("http://127.0.0.1/", "blocked_address"),
        ("http://[::1]/", "blocked_address"),
        ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
        ("http://10.1.2.3/", "blocked_address"),
        ("http://192.168.0.1:8080/", "blocked_address"),
        ("http://[::ffff:127.0.0.1]/", "blocked_address"),
        ("http://2130706433/", "blocked_address"),  # 127.0.0.1 as one number
        ("http://0/", "blocked_address"),
        ("https://224.0.0.1/", "blocked_address"),
        ("file:///etc/passwd", "bad_url"),
        ("ftp://x/", "bad_url"),
        ("gopher://x/", "bad_url"),
        ("/relative/path", "bad_url"),
        ("http:///no-host", "bad_url"),
    ],
)
def test_the_guard_refuses_private_addresses_and_other_schemes_without_a_request(make_fetcher, url, reason):
    fetcher = make_fetcher(allow_private=False, respect_robots=True, retries=3)
    assert get_error(fetcher, url).reason == reason
    assert fetcher.requests_sent == 0


def test_a_name_resolving_to_any_private_address_is_blocked(make_fetcher):
    def resolver(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.20", port)),
        ]

    error = get_error(make_fetcher(allow_private=False, resolver=resolver), "http://mixed.example/")
    assert error.reason == "blocked_address"
    assert error.detail == (
        "mixed.example resolves to 192.168.1.20, which is not a public address (private); pass "
        "--allow-private-network (PIPELINE_ALLOW_PRIVATE_NETWORK=1) to fetch local or private addresses"
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # reserved, which ipaddress also counts as private
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("::ffff:10.0.0.1", "private, as 10.0.0.1 inside IPv6"),
        ("64:ff9b::a9fe:a9fe", "link-local, as 169.254.169.254 inside IPv6"),  # NAT64
        ("2002:7f00:1::1", "loopback, as 127.0.0.1 inside IPv6"),  # 6to4
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", "reserved"),  # even a public IPv4 mapped into IPv6 is not dialled that way
    ],
)
def test_blocked_address_kind(address, kind):
    assert blocked_address_kind(address) == kind


def test_a_public_name_is_fetched_with_the_guard_on(server, make_fetcher, public_ip_is_local):
    server.expect_request("/news").respond_with_data(b"fine")
    fetcher = make_fetcher(allow_private=False, resolver=resolve_as({"news.example": [PUBLIC_IP]}))
    response = fetcher.get(f"http://news.example:{server.port}/news")
    assert response.body == b"fine" and public_ip_is_local == [PUBLIC_IP]
    assert server.log[0][0].headers["Host"] == f"news.example:{server.port}"  # the name, not the IP


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HTTPServer, str]]:
    """An HTTPS server on 127.0.0.1 whose self-signed certificate names news.example; and the cert's path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "news.example")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("news.example")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context, threaded=True)
    server.start()
    server.expect_request("/secure").respond_with_data(b"over tls")
    yield server, str(cert_path)
    server.clear()
    server.stop()


@pytest.mark.parametrize(("name", "reason"), [("news.example", None), ("other.example", "connection_error")])
def test_tls_checks_the_url_host_name_while_connecting_to_the_checked_ip(
    tls_server, make_fetcher, public_ip_is_local, monkeypatch, name, reason
):
    server, cert_path = tls_server
    monkeypatch.setattr(
        httpx, "create_ssl_context", lambda **kw: ssl.create_default_context(cafile=cert_path)
    )
    resolver = resolve_as({name: [PUBLIC_IP]})
    fetcher = make_fetcher(allow_private=False, resolver=resolver)
    url = f"https://{name}:{server.port}/secure"
    if reason is None:  # SNI and certificate check use the name, the socket goes to the address checked
        assert fetcher.get(url).body == b"over tls"
    else:  # the certificate does not name other.example
        error = get_error(fetcher, url)
        assert error.reason == reason and "CERTIFICATE_VERIFY_FAILED" in error.detail
    assert public_ip_is_local == [PUBLIC_IP]


# --- 11. robots.txt -------------------------------------------------------------------------------------------

ROBOTS = b"""User-agent: *
Disallow: /private

User-agent: article-pipeline
Disallow: /private
Disallow: /drafts
"""


def test_robots_disallowed_paths_are_never_requested_and_robots_is_fetched_once(server, make_fetcher):
    server.expect_request("/robots.txt").respond_with_data(ROBOTS, content_type="text/plain")
    server.expect_request("/public").respond_with_data(b"ok")
    fetcher = make_fetcher(respect_robots=True)

    for path in ("/private/x", "/drafts/1", "/private"):
        error = get_error(fetcher, server.url_for(path))
        assert error.reason == "robots_disallowed"
    assert fetcher.get(server.url_for("/public")).body == b"ok"
    assert fetcher.get(server.url_for("/public?page=2")).body == b"ok"

    assert paths(server) == ["/robots.txt", "/public", "/public"]
    assert fetcher.requests_sent == 3


def test_robots_rules_apply_to_each_redirect_hop(server, make_fetcher):
    server.expect_request("/robots.txt").respond_with_data(ROBOTS)
    redirect(server, "/go", "/private/page")
    error = get_error(make_fetcher(respect_robots=True), server.url_for("/go"))
    assert error.reason == "robots_disallowed" and error.url == server.url_for("/private/page")
    assert paths(server) == ["/robots.txt", "/go"]


@pytest.mark.parametrize("status", [404, 410, 403])
def test_a_missing_robots_txt_allows_everything(server, make_fetcher, status):
    server.expect_request("/robots.txt").respond_with_data(b"not here", status=status)
    server.expect_request("/private/x").respond_with_data(b"ok")
    assert make_fetcher(respect_robots=True).get(server.url_for("/private/x")).body == b"ok"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_an_unreachable_robots_txt_skips_the_whole_host_as_robots_unreachable(server, make_fetcher, status):
    server.expect_request("/robots.txt").respond_with_data(b"down", status=status)
    fetcher = make_fetcher(respect_robots=True, retries=3)
    for path in ("/a", "/b"):
        error = get_error(fetcher, server.url_for(path))
        assert error.reason == "robots_unreachable"  # not robots_disallowed: the site forbade nothing
        assert error.detail.startswith("robots.txt could not be fetched") and f"HTTP {status}" in error.detail
        assert "next run" in error.detail
    assert paths(server) == ["/robots.txt"]  # asked once, never again for this Fetcher
    assert fetcher.robots_fetched == {}  # not remembered: the next run asks again


def test_robots_txt_on_a_dead_host_is_robots_unreachable(make_fetcher):
    fetcher = make_fetcher(respect_robots=True, retries=2)
    error = get_error(fetcher, f"http://127.0.0.1:{closed_port()}/feed")
    assert error.reason == "robots_unreachable" and fetcher.requests_sent == 1
    assert "robots.txt could not be fetched (connection_error: " in error.detail


# --- 12. politeness -------------------------------------------------------------------------------------------


def test_requests_to_one_host_are_spaced_by_the_host_delay(server, make_fetcher, fake_time):
    server.expect_request("/robots.txt").respond_with_data(b"User-agent: *\nAllow: /\n")
    server.expect_request("/page").respond_with_data(b"ok")
    fetcher = make_fetcher(respect_robots=True, host_delay_s=0.5)

    fetcher.get(server.url_for("/page"))  # robots.txt, then the page after 0.5 s
    fetcher.get(server.url_for("/page"))  # 0.5 s after the page
    assert fake_time.sleeps == [0.5, 0.5]

    fake_time.now += 10  # long after: no wait
    fetcher.get(server.url_for("/page"))
    assert fake_time.sleeps == [0.5, 0.5]
    assert paths(server) == ["/robots.txt", "/page", "/page", "/page"]


def test_host_delay_holds_across_threads_real_clock(server, make_fetcher):
    server.expect_request("/p").respond_with_data(b"ok")
    fetcher = make_fetcher(real_time=True, host_delay_s=0.2, max_in_flight=4)
    sent: list[float] = []
    real_send = fetcher._client.send

    def send(*args, **kwargs):
        sent.append(time.monotonic())
        return real_send(*args, **kwargs)

    fetcher._client.send = send
    before = time.monotonic()
    threads = [threading.Thread(target=fetcher.get, args=(server.url_for("/p"),)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(server.log) == 4
    # turns are handed out 0.2 s apart from the first, and a thread never starts before its turn
    for n, started in enumerate(sorted(sent)):
        assert started - before >= n * 0.2


@contextlib.contextmanager
def keep_alive_server(respond: Callable[[str], bytes]) -> Iterator[tuple[int, list[tuple[str, float]]]]:
    """An HTTP/1.1 server on 127.0.0.1 that keeps connections open, as real servers do (werkzeug's closes
    each one); yields its port and (path, time.monotonic()) of each request as it arrives."""
    arrivals: list[tuple[str, float]] = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with lock:
                arrivals.append((self.path, time.monotonic()))
            body = respond(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1], arrivals
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_requests_to_one_host_arrive_host_delay_apart_when_connecting_is_slow_real_clock(
    make_fetcher, monkeypatch
):
    """The spacing as the server sees it: a slow new connection (DNS, TCP and TLS to a far host) must not let
    the next request, sent at once on the kept-alive connection, arrive early. robots.txt counts."""
    real_dial = guard._dial

    def slow_dial(*args):
        time.sleep(0.3)
        return real_dial(*args)

    monkeypatch.setattr(guard, "_dial", slow_dial)
    fetcher = make_fetcher(real_time=True, respect_robots=True, host_delay_s=0.5, max_in_flight=4)
    robots = b"User-agent: *\nAllow: /\n"
    with keep_alive_server(lambda path: robots if path == "/robots.txt" else b"ok") as (port, arrivals):
        threads = [
            threading.Thread(target=fetcher.get, args=(f"http://127.0.0.1:{port}/p",)) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
    assert sorted(path for path, _ in arrivals) == ["/p"] * 4 + ["/robots.txt"]
    times = sorted(at for _, at in arrivals)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.5 - 0.02, gaps


def test_no_more_than_max_in_flight_requests_at_once(server, make_fetcher):
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def slow(request: Request) -> Response:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return Response(b"ok")

    server.expect_request("/slow").respond_with_handler(slow)
    fetcher = make_fetcher(real_time=True, max_in_flight=2)
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(fetcher.get(server.url_for("/slow")).body))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [b"ok"] * 6 and fetcher.requests_sent == 6
    assert state["peak"] == 2


# --- the error type -------------------------------------------------------------------------------------------


def test_fetch_error_is_a_reject_and_pickles():
    error = FetchError("http_404", "HTTP 404 Not Found", "https://news.example/a", 404)
    assert isinstance(error, Reject) and str(error) == "http_404: HTTP 404 Not Found"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.detail, copy.url, copy.status) == (
        "http_404",
        "HTTP 404 Not Found",
        error.url,
        404,
    )


def test_policy_values_are_checked():
    with pytest.raises(ValueError, match="max_bytes"):
        FetchPolicy(max_bytes=0)
    with pytest.raises(ValueError, match="retries"):
        FetchPolicy(retries=-1)


def test_a_trickling_server_costs_the_urls_total_budget_not_every_retry(make_fetcher):
    """Retries would give a byte-a-second server (retries + 1) deadlines; the URL's budget ends it sooner."""
    fetcher = make_fetcher(
        real_time=True, deadline_s=2, total_s=4, retries=3, backoff_s=0.1, read_timeout_s=2
    )
    with raw_server(trickle_body) as port:
        error = in_thread(lambda: fetcher.get(f"http://127.0.0.1:{port}/slow"), limit_s=30)
    assert isinstance(error, FetchError) and error.reason == "timeout"
    # attempt 1 takes its 2 s deadline; attempt 2 gets what is left of the 4 s, then no retry can start
    assert fetcher.requests_sent == 2
    assert error.detail == "over the URL's 4 s budget for all its attempts (after 2 attempts)"
