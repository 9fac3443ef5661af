"""HTTP fetching for feeds and pages: a careful crawler that no server, however broken or hostile, can hang,
crash or bloat.

`Fetcher.get(url)` returns a `Response` (2xx, or 304 for a conditional GET that matched) or raises `FetchError`
whose `reason` is a short code fit for a quarantine row. What it guarantees, and the choices behind it:

- **Addresses.** Only http and https URLs (`bad_url`). Before every hop (the first URL and each redirect
  target) the host is resolved and refused (`blocked_address`) if ANY of its addresses is loopback, private,
  link-local, multicast, reserved, unspecified or otherwise not global, also when one of those hides inside an
  IPv6 address (IPv4-mapped, 6to4, NAT64); literal IPs and odd spellings (`http://2130706433/`) included.
  `FetchPolicy.allow_private` lifts the guard (the detail names the CLI flag and variable that set it). DNS
  rebinding (a name that resolves to a public address for the check and to a private one for the connection)
  is closed: the connection is opened by our own network backend, which resolves the name itself, checks every
  address and connects to a checked IP; TLS still gets the URL's host name for SNI and certificate checks, and
  the Host header is the URL's. The pre-check stays so that a blocked host is refused before its robots.txt is
  asked for. (httpx 0.28 has no parameter for a network backend: `_GuardedTransport` swaps its transport's
  connection pool for one that uses ours.)
- **Redirects** are followed here, not by httpx, so each hop is checked: 301/302/303/307/308, a relative
  `Location` taken against the current URL, at most `max_redirects` hops (`too_many_redirects`), a URL seen
  twice in one chain is `redirect_loop`, a target that is not http(s) is `bad_url`, a 3xx without a usable
  `Location` is `bad_redirect`. Authorization and Cookie headers a caller passed are dropped when a redirect
  leaves the origin; conditional headers are kept (a moved feed still answers 304).
- **Size.** The body cap (`max_bytes`, or the one a caller passes to `get`: a feed may be larger than a page)
  is on the DECOMPRESSED body and holds while streaming: we ask for `gzip, deflate` only, read raw bytes and
  inflate them ourselves in steps of at most 64 KiB of output, so a gzip bomb costs at most the cap plus one
  step (`too_large` as soon as the total passes the cap). A Content-Length over the cap is refused before
  reading, and the raw (encoded) bytes are capped too. An encoding we did not ask for (br, zstd, ...) or
  several stacked ones are refused with `bad_encoding` rather than kept as undecodable bytes; a corrupt or
  truncated gzip/deflate stream is `bad_encoding` too (a cut-off article is worse than none). Bytes after the
  end of a gzip/deflate stream are ignored, as browsers do; several gzip members are all decoded. Brotli is
  not offered: the package is not installed.
- **Time.** `deadline_s` bounds one attempt: every hop's connection, request, response headers and the whole
  body. It is enforced on every socket operation (each read, write, connect and TLS handshake waits at most
  until the deadline) and between body chunks, so a server trickling a byte a second, in its headers or its
  body, gets `timeout` at the deadline. `total_s` bounds a URL across all its attempts and the backoff between
  them: an attempt gets what is left of it when that is less than `deadline_s`, and no retry starts that its
  wait would reach past it, so a trickling server costs one `get()` at most `total_s`, not
  (retries + 1) * deadline_s. Not counted against either: waiting for a free in-flight slot, for the host's
  turn (host delay) and for robots.txt (fetched with its own 10 s deadline), each wait bounded by the host
  delays (and connection setups) of requests queued before it. Name resolution
  is the system resolver's (`getaddrinfo` has no timeout; its own, from resolv.conf, applies).
- **Retries.** 429, 5xx, timeouts and connection errors are tried again up to `retries` times, after
  `min(backoff_s * 2**n, max_retry_after_s) * uniform(0.5, 1)` seconds, or the server's `Retry-After`
  (seconds or an HTTP date) when it sends one. A `Retry-After` over `max_retry_after_s` ends the request at once
  with `retry_after_too_long`, at any attempt. After the last attempt the reason is `http_429`, `http_5xx`,
  `timeout` or `connection_error`, with "after N attempts" in the detail. Other 4xx (and unfollowable 3xx) are
  `http_<code>` at once. A name that does not resolve is `dns_error` (tried again only on a temporary failure).
- **Politeness.** robots.txt is fetched once per (scheme, host, port) for the Fetcher's life, through the same
  machinery (guard, caps, redirects; the first 500 KiB are parsed), with `urllib.robotparser`, for our
  User-Agent's product token (`article-pipeline`). RFC 9309 semantics: 4xx (but 429) means no rules, allow
  all; 5xx, 429, a timeout or a connection failure means "unreachable": every URL of the host is
  `robots_unreachable` for the Fetcher's life (the next run asks again; it is not kept in `robots_fetched`). A
  URL robots.txt disallows is `robots_disallowed`. Neither is requested. Every hop is checked. Two requests to
  one host (robots.txt included) start at least `host_delay_s` apart, measured when each is really sent (its
  first write on the socket, after DNS, connect and TLS): a request holds its host's turn until it is on the
  wire and the next turn is counted from then, across threads. At most `max_in_flight` requests are in flight
  at once.
- **No state from servers.** Cookies are refused (a crawler needs none, and a hostile server could grow the
  jar); proxies from the environment are ignored (`trust_env=False`); HTTP/1.1 only.

The module is one piece: these guarantees interlock in one request loop (`Fetcher._get` and `_attempt`: each
hop checked, timed and capped, retried as a whole), so they are read and changed together. The address guard
and the deadline inside the connection live in `pipeline.read.guard`, the capped decoding in
`pipeline.read.decode`.

`requests_sent` counts the HTTP requests started: robots.txt, redirect hops and retries included; a host the
guard refuses costs none. Thread-safe: one Fetcher serves a thread pool. Bodies are never logged; a failed
`get()` logs one line (INFO for 4xx, robots and bad URLs; WARNING otherwise).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.cookiejar
import logging
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.robotparser import RobotFileParser

import httpx

from pipeline import __version__
from pipeline.errors import Reject
from pipeline.read.decode import ACCEPT_ENCODING, Decoder, Overflow, content_coding
from pipeline.read.guard import (
    AddressBlocked,
    Budget,
    GuardedBackend,
    GuardedTransport,
    Resolver,
    budget_var,
    describe,
    resolve,
    sent_var,
)

log = logging.getLogger(__name__)

USER_AGENT = f"article-pipeline/{__version__} (news ingestion; +https://example.invalid/article-pipeline)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB
_ROBOTS_DEADLINE_S = 10.0
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_ALLOW_PRIVATE = (
    "pass --allow-private-network (PIPELINE_ALLOW_PRIVATE_NETWORK=1) to fetch local or private addresses"
)


MIN_ATTEMPT_S = 1.0  # no retry starts with less than this left of the URL's budget


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str = USER_AGENT
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0  # longest wait for the next bytes
    deadline_s: float = 60.0  # one attempt: all redirect hops and the whole body
    total_s: float = 90.0  # one URL: all its attempts and the waits between them
    max_bytes: int = 5_000_000  # cap on the DECOMPRESSED body, enforced while streaming
    max_redirects: int = 5
    retries: int = 3  # extra attempts on 429, 5xx and connection errors/timeouts; never on other 4xx
    backoff_s: float = 1.0  # before retry n (from 0): backoff_s * 2**n, times a jitter in [0.5, 1]
    max_retry_after_s: float = 60.0  # a longer Retry-After ends the request; also caps the backoff
    host_delay_s: float = 1.0  # minimum time between the starts of two requests to one host
    max_in_flight: int = 4  # requests in flight at once, all threads and hosts together
    allow_private: bool = False  # lift the private-address guard (local use, tests)
    respect_robots: bool = True

    def __post_init__(self) -> None:
        positive = (
            "connect_timeout_s",
            "read_timeout_s",
            "deadline_s",
            "total_s",
            "max_bytes",
            "max_in_flight",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchPolicy.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_redirects", "retries", "backoff_s", "max_retry_after_s", "host_delay_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"FetchPolicy.{name} must not be negative, got {getattr(self, name)!r}")
        if not self.user_agent.strip():
            raise ValueError("FetchPolicy.user_agent must not be empty")


@dataclass(frozen=True)
class Response:
    url: str  # final URL after redirects, without a fragment
    status: int  # 200..299, or 304 for a conditional GET that matched
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes  # decompressed; b"" for 304


class FetchError(Reject):
    """A fetch that gave no usable response. `reason` is a short code (`timeout`, `too_large`, `http_404`,
    ...), `detail` a human sentence, `url` the URL whose request failed (a redirect target when the failure
    came after a redirect), `status` the HTTP status when there was one."""

    def __init__(self, reason: str, detail: str, url: str, status: int | None = None):
        super().__init__(reason, detail)
        self.url = url
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.detail, self.url, self.status))


class _Transient(Exception):
    """A failure worth another attempt: the error to raise if none is left, and the server's Retry-After."""

    def __init__(self, error: FetchError, retry_after: float | None = None):
        super().__init__(error.reason)
        self.error = error
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value or not (value := value.strip()):
        return None
    if value.isdigit():
        return float(value) if len(value) < 12 else float("inf")
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- the fetcher -------------------------------------------------------------------------------------------


class _RobotsEntry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: RobotFileParser | None = None
        self.unreachable: str | None = None  # why robots.txt could not be fetched: the host is skipped


class _HostTurn:
    """One host's schedule. `lock` is held from waiting for the turn until the request is on the wire, and the
    next turn is `host_delay_s` after that moment, so a slow connection setup cannot shorten the gap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_start = float("-inf")
        self.users = 0  # threads holding or waiting for the turn; counted under the Fetcher's lock


class Fetcher:
    """Fetch URLs under a `FetchPolicy` (see the module docstring). `sleep` and `clock` are injectable for
    tests (host delay, backoff, deadline); `resolver` has `socket.getaddrinfo`'s signature."""

    def __init__(
        self,
        policy: FetchPolicy = FetchPolicy(),  # frozen: sharing the default is safe
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        resolver: Resolver | None = None,
        robots: Mapping[str, str | None] | None = None,
    ):
        """`robots` seeds the robots.txt cache from an earlier run: origin ("https://host[:port]") -> the
        robots.txt text, or None for "no robots.txt: everything allowed". `robots_fetched` holds the answers
        this Fetcher got itself, in the same form, for the caller to keep (unreachable ones are not kept)."""
        self.policy = policy
        self._sleep, self._clock = sleep, clock
        self._resolver: Resolver = resolver or socket.getaddrinfo
        self._agent = policy.user_agent.split("/", 1)[0].strip()  # the product token robots.txt names
        self._random = random.Random()
        self._lock = threading.Lock()  # the counter, the host table and the robots table
        self._sent = 0
        self._turns: dict[str, _HostTurn] = {}
        self._robots: dict[str, _RobotsEntry] = {}
        self.robots_fetched: dict[str, str | None] = {}
        for origin, text in (robots or {}).items():
            self._robots[origin] = entry = _RobotsEntry()
            entry.rules = _robots_rules(origin, text)
        self._slots = threading.BoundedSemaphore(policy.max_in_flight)
        limits = httpx.Limits(
            max_connections=policy.max_in_flight + 2,
            max_keepalive_connections=policy.max_in_flight + 2,
            keepalive_expiry=5.0,
        )
        self._timeout = httpx.Timeout(
            connect=policy.connect_timeout_s,
            read=policy.read_timeout_s,
            write=policy.read_timeout_s,
            pool=policy.connect_timeout_s,
        )
        no_cookies = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.Client(
            transport=GuardedTransport(GuardedBackend(self._resolver, policy.allow_private), limits),
            follow_redirects=False,
            timeout=self._timeout,
            trust_env=False,
            cookies=no_cookies,
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )

    @property
    def requests_sent(self) -> int:
        with self._lock:
            return self._sent

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, max_bytes: int | None = None
    ) -> Response:
        """GET `url` (with the caller's extra `headers`, e.g. If-None-Match); raise FetchError on failure.
        `max_bytes` replaces the policy's body cap for this request (a feed may be larger than a page)."""
        try:
            return self._get(url, dict(headers or {}), max_bytes)
        except FetchError as exc:
            # robots_unreachable: the host's one WARNING was logged when robots.txt failed
            quiet = exc.reason.startswith("http_4") or exc.reason in (
                "robots_disallowed",
                "robots_unreachable",
                "bad_url",
            )
            log.log(
                logging.INFO if quiet else logging.WARNING, "fetch %s: %s: %s", url, exc.reason, exc.detail
            )
            raise

    def _get(self, url: str, headers: dict[str, str], max_bytes: int | None) -> Response:
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError("bad_url", describe(exc), url) from None
        conditional = any(k.lower() in ("if-none-match", "if-modified-since") for k in headers)
        attempt, spent, total = 0, 0.0, self.policy.total_s
        whole = f"the URL's {total:g} s budget for all its attempts"
        while True:
            left = total - spent
            if left < self.policy.deadline_s:
                budget = Budget(self._clock, left, whole)
            else:
                budget = Budget(self._clock, self.policy.deadline_s)
            try:
                return self._attempt(target, headers, budget, conditional=conditional, max_bytes=max_bytes)
            except _Transient as transient:
                spent += budget.used()
                error, wait = transient.error, transient.retry_after
                attempt += 1
                if wait is not None and wait > self.policy.max_retry_after_s:
                    detail = f"{error.detail}; Retry-After {wait:g} s is over the {self.policy.max_retry_after_s:g} s limit"
                    raise FetchError("retry_after_too_long", detail, error.url, error.status) from None
                if wait is None:
                    wait = min(self.policy.backoff_s * 2 ** (attempt - 1), self.policy.max_retry_after_s)
                    wait *= self._random.uniform(0.5, 1.0)
                spent_out = spent + wait >= total - MIN_ATTEMPT_S  # a retry needs time to do anything
                if attempt > self.policy.retries or spent_out:
                    if attempt > 1 or spent_out:
                        why = f"; {whole} is spent" if spent_out and whole not in error.detail else ""
                        error = FetchError(
                            error.reason,
                            f"{error.detail} (after {attempt} attempt{'s' if attempt > 1 else ''}{why})",
                            error.url,
                            error.status,
                        )
                    raise error from None
                log.debug("fetch %s: %s, attempt %d; retrying in %.2f s", url, error.reason, attempt, wait)
                self._sleep(wait)
                spent += wait

    def _attempt(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        budget: Budget,
        *,
        conditional: bool = False,
        for_robots: bool = False,
        max_bytes: int | None = None,
    ) -> Response:
        """One try: follow redirects to a final response and read its body. `for_robots` when fetching
        robots.txt itself: no robots check, and a body over `max_bytes` is cut rather than refused."""
        token = budget_var.set(budget)
        try:
            seen = {str(url.copy_with(fragment=None))}
            origin = (url.scheme, url.raw_host, url.port)
            hops = 0
            while True:
                self._check_host(url)
                if not for_robots and self.policy.respect_robots:
                    with budget.paused():
                        self._check_robots(url)
                with budget.paused():
                    self._slots.acquire()
                try:
                    response = self._send(url, headers, budget)
                    try:
                        location = self._location(response, url)
                        if location is None:
                            return self._final(response, url, budget, conditional, for_robots, max_bytes)
                    finally:
                        response.close()
                finally:
                    self._slots.release()
                hops += 1
                url = self._redirect_target(url, location, seen, hops)
                if (url.scheme, url.raw_host, url.port) != origin:
                    headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
        finally:
            budget_var.reset(token)

    def _redirect_target(self, url: httpx.URL, location: str, seen: set[str], hops: int) -> httpx.URL:
        try:
            target = url.join(location)
        except (httpx.InvalidURL, ValueError) as exc:
            raise FetchError(
                "bad_redirect", f"unusable Location {location[:200]!r}: {describe(exc)}", str(url)
            ) from None
        if target.scheme not in ("http", "https"):
            raise FetchError(
                "bad_url",
                f"redirected to a {target.scheme or 'schemeless'} URL: {str(target)[:200]}",
                str(url),
            )
        key = str(target.copy_with(fragment=None))
        if key in seen:
            raise FetchError("redirect_loop", f"redirected back to {key[:200]} after {hops} hops", str(url))
        if hops > self.policy.max_redirects:
            raise FetchError(
                "too_many_redirects", f"more than {self.policy.max_redirects} redirects", str(url)
            )
        seen.add(key)
        return target

    def _check_host(self, url: httpx.URL) -> None:
        """bad_url unless http(s) with a host; blocked_address if the guard refuses one of its addresses."""
        if url.scheme not in ("http", "https"):
            raise FetchError(
                "bad_url",
                f"only http and https URLs are fetched, not {url.scheme or 'relative'} ones",
                str(url),
            )
        host = url.raw_host.decode("ascii")
        if not host:
            raise FetchError("bad_url", "the URL has no host", str(url))
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            resolve(self._resolver, host, port, self.policy.allow_private)
        except AddressBlocked as exc:
            raise FetchError("blocked_address", f"{exc}; {_ALLOW_PRIVATE}", str(url)) from None
        except (OSError, UnicodeError) as exc:
            error = FetchError("dns_error", f"cannot resolve {host}: {describe(exc)}", str(url))
            if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
                raise _Transient(error) from None
            raise error from None

    @contextlib.contextmanager
    def _host_turn(self, host: str, budget: Budget) -> Iterator[None]:
        """Wait for `host`'s turn, then run the request in the body. The next request to `host` may start
        `host_delay_s` after this one was really sent: its first write on the socket (after any DNS lookup,
        connect and TLS handshake), or its end if it failed before writing anything."""
        with self._lock:
            turn = self._turns.get(host)
            if turn is None:
                if len(self._turns) >= 10_000:  # forget hosts nobody waits for whose turn is past
                    now = self._clock()
                    self._turns = {h: t for h, t in self._turns.items() if t.users or t.next_start > now}
                turn = self._turns[host] = _HostTurn()
            turn.users += 1
        held = False

        def sent() -> None:
            nonlocal held
            if held:
                held = False
                turn.next_start = self._clock() + self.policy.host_delay_s
                turn.lock.release()

        try:
            with budget.paused():
                turn.lock.acquire()
                held = True
                if (wait := turn.next_start - self._clock()) > 0:
                    self._sleep(wait)
            token = sent_var.set(sent)
            try:
                yield
            finally:
                sent_var.reset(token)
        finally:
            sent()
            with self._lock:
                turn.users -= 1

    def _send(self, url: httpx.URL, headers: dict[str, str], budget: Budget) -> httpx.Response:
        remaining = max(budget.remaining(), 0.001)
        timeout = httpx.Timeout(
            connect=min(self._timeout.connect or remaining, remaining),
            read=self._timeout.read,
            write=self._timeout.write,
            pool=min(self._timeout.pool or remaining, remaining),
        )
        with self._host_turn(url.raw_host.decode("ascii"), budget), self._network_errors(url, budget):
            with self._lock:
                self._sent += 1
            try:
                request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
                request.headers["Accept-Encoding"] = ACCEPT_ENCODING  # ours: we can only decode these
                return self._client.send(request, stream=True)
            except AddressBlocked:
                with self._lock:
                    self._sent -= 1  # refused before it could connect: nothing was sent
                raise

    @contextlib.contextmanager
    def _network_errors(self, url: httpx.URL, budget: Budget) -> Iterator[None]:
        """httpx's exceptions as FetchError (or _Transient when worth another attempt)."""
        try:
            yield
        except AddressBlocked as exc:
            raise FetchError(
                "blocked_address", f"{exc} (found when connecting); {_ALLOW_PRIVATE}", str(url)
            ) from None
        except httpx.TimeoutException as exc:
            raise _Transient(FetchError("timeout", self._timeout_detail(exc, budget), str(url))) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError("bad_url", describe(exc), str(url)) from None
        except httpx.TransportError as exc:
            raise _Transient(FetchError("connection_error", describe(exc), str(url))) from None

    def _timeout_detail(self, exc: httpx.TimeoutException, budget: Budget) -> str:
        if budget.remaining() <= 0.01:
            return f"over {budget.what}"
        if isinstance(exc, httpx.ConnectTimeout):
            return f"no connection within {self.policy.connect_timeout_s:g} s"
        if isinstance(exc, httpx.PoolTimeout):
            return f"no free connection within {self.policy.connect_timeout_s:g} s"
        if isinstance(exc, httpx.WriteTimeout):
            return f"could not send the request within {self.policy.read_timeout_s:g} s"
        return f"no data for {self.policy.read_timeout_s:g} s"

    def _location(self, response: httpx.Response, url: httpx.URL) -> str | None:
        """The Location to follow for a redirect; None for any other response."""
        if response.status_code not in _REDIRECTS:
            return None
        location = response.headers.get("location", "").strip()
        if not location:
            raise FetchError(
                "bad_redirect",
                f"HTTP {response.status_code} without a Location",
                str(url),
                response.status_code,
            )
        return location

    def _final(
        self,
        response: httpx.Response,
        url: httpx.URL,
        budget: Budget,
        conditional: bool,
        for_robots: bool,
        max_bytes: int | None,
    ) -> Response:
        status, where = response.status_code, str(url.copy_with(fragment=None))
        what = f"HTTP {status} {response.reason_phrase}".strip()
        if status == 304 and conditional:
            return Response(where, 304, dict(response.headers.items()), b"")
        if status == 429 or status >= 500:
            reason = "http_429" if status == 429 else "http_5xx"
            retry_after = _retry_after(response.headers.get("retry-after"))
            raise _Transient(FetchError(reason, what, where, status), retry_after)
        if not 200 <= status < 300:
            raise FetchError(f"http_{status}", what, where, status)
        body = self._read_body(response, url, budget, max_bytes or self.policy.max_bytes, truncate=for_robots)
        return Response(where, status, dict(response.headers.items()), body)

    def _read_body(
        self, response: httpx.Response, url: httpx.URL, budget: Budget, cap: int, truncate: bool
    ) -> bytes:
        where = str(url)
        try:
            decoder = Decoder(content_coding(response.headers), cap)
        except ValueError as exc:
            raise FetchError("bad_encoding", str(exc), where, response.status_code) from None
        length = response.headers.get("content-length", "")
        if not truncate and length.isdigit() and int(length) > cap:
            detail = f"Content-Length {int(length)} is over the {cap} byte cap"
            raise FetchError("too_large", detail, where, response.status_code)
        received = 0
        try:
            with self._network_errors(url, budget):
                for chunk in response.iter_raw():
                    received += len(chunk)
                    if received > cap:
                        raise Overflow("as sent" if decoder.coding != "identity" else "")
                    decoder.feed(chunk)
                    if budget.remaining() <= 0:
                        raise _Transient(FetchError("timeout", f"over {budget.what}", where))
            return decoder.finish()
        except Overflow as exc:
            if truncate:
                return b"".join(decoder.parts)[:cap]
            stage = exc.args[0] if exc.args else "decompressed" if decoder.coding != "identity" else ""
            detail = f"the body passed the {cap} byte cap" + (f" ({stage})" if stage else "")
            raise FetchError("too_large", detail, where, response.status_code) from None
        except (zlib.error, EOFError) as exc:
            raise FetchError(
                "bad_encoding", f"bad {decoder.coding} data: {exc}", where, response.status_code
            ) from None

    # --- robots.txt ---------------------------------------------------------------------------------------

    def sitemaps_listed(self, url: str) -> list[str]:
        """The `Sitemap:` URLs the robots.txt of `url`'s host lists, in order ([] for none, or no robots.txt);
        read through the robots.txt cache (one request per host). FetchError when it cannot be fetched."""
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError("bad_url", describe(exc), url) from None
        try:
            self._check_host(target)
        except _Transient as exc:
            raise exc.error from None
        entry = self._robots_entry(target)
        if entry.unreachable is not None:
            raise FetchError(
                "robots_unreachable", f"robots.txt could not be fetched ({entry.unreachable})", url
            )
        return list(dict.fromkeys(entry.rules.site_maps() or []))

    def _robots_entry(self, url: httpx.URL) -> _RobotsEntry:
        key = robots_origin(url)
        with self._lock:
            entry = self._robots.setdefault(key, _RobotsEntry())
        with entry.lock:  # one fetch per host; other threads wait for its answer
            if entry.rules is None:
                entry.rules, entry.unreachable = self._load_robots(
                    url.copy_with(path="/robots.txt", query=None, fragment=None, userinfo=b"")
                )
        return entry

    def _check_robots(self, url: httpx.URL) -> None:
        """robots_unreachable if the host's robots.txt could not be fetched; robots_disallowed if it forbids
        `url`."""
        entry = self._robots_entry(url)
        if entry.unreachable is not None:
            detail = (
                f"robots.txt could not be fetched ({entry.unreachable}): "
                "the host is skipped for this run and asked again next run"
            )
            raise FetchError("robots_unreachable", detail, str(url))
        if not entry.rules.can_fetch(self._agent, str(url)):
            raise FetchError("robots_disallowed", "robots.txt disallows this URL", str(url))

    def _load_robots(self, robots_url: httpx.URL) -> tuple[RobotFileParser, str | None]:
        """The rules, and why robots.txt was unreachable (None when it was fetched or is missing)."""
        rules = RobotFileParser(str(robots_url))
        budget = Budget(self._clock, min(self.policy.deadline_s, _ROBOTS_DEADLINE_S))
        try:
            response = self._attempt(robots_url, {}, budget, for_robots=True, max_bytes=_ROBOTS_MAX_BYTES)
        except (_Transient, FetchError) as exc:
            error = exc.error if isinstance(exc, _Transient) else exc
            unavailable = (
                error.status is not None and 400 <= error.status < 500 and error.status != 429
            ) or (error.reason in ("redirect_loop", "too_many_redirects", "bad_redirect"))
            if unavailable:  # RFC 9309: no robots.txt, no rules
                rules.allow_all = True
                with self._lock:
                    self.robots_fetched[robots_origin(robots_url)] = None
                return rules, None
            # unreachable: the whole site is off limits for this Fetcher, and not remembered
            log.warning(
                "robots.txt %s unreachable (%s: %s): not fetching from this host",
                robots_url,
                error.reason,
                error.detail,
            )
            rules.disallow_all = True
            return rules, f"{error.reason}: {error.detail}"
        text = response.body.decode("utf-8", errors="replace").lstrip("\ufeff")
        rules.parse(text.splitlines())
        with self._lock:
            self.robots_fetched[robots_origin(robots_url)] = text
        return rules, None


def robots_origin(url: httpx.URL | str) -> str:
    """The key robots.txt rules are kept under: scheme, host and explicit port."""
    url = httpx.URL(str(url))
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.raw_host.decode('ascii')}{port}"


def _robots_rules(origin: str, text: str | None) -> RobotFileParser:
    rules = RobotFileParser(f"{origin}/robots.txt")
    if text is None:
        rules.allow_all = True
    else:
        rules.parse(text.splitlines())
    return rules
