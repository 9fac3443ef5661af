"""The address guard and the deadline, in the connection itself (see `pipeline.read.fetch` for the whole).

Before a connection the host is resolved and refused if any of its addresses is not a public one; the
connection then goes to the address that was checked, so DNS cannot change between check and use. Every socket
operation of an attempt (connect, TLS handshake, each read and write) ends by the attempt's deadline, and each
write of a request tells the Fetcher it was sent (`sent_var`), which is when the host's delay starts.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpcore
import httpx

_MAX_DETAIL = 300
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[..., list[tuple[Any, ...]]]  # socket.getaddrinfo's signature


class AddressBlocked(Exception):
    """A host resolved to an address the guard refuses (raised from the network backend, unmapped by httpx)."""


def describe(exc: BaseException) -> str:
    message = str(exc)
    return (f"{type(exc).__name__}: {message}" if message else type(exc).__name__)[:_MAX_DETAIL]


# --- the address guard -------------------------------------------------------------------------------------


def blocked_address_kind(address: str) -> str | None:
    """Why the guard refuses an IP address ("loopback", "private", ...), or None for a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope ("fe80::1%eth0")
    except ValueError:
        return "unparseable"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and (kind := blocked_address_kind(str(embedded))):
            return f"{kind}, as {embedded} inside IPv6"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-global", not ip.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def resolve(resolver: Resolver, host: str, port: int, allow_private: bool) -> list[str]:
    """The host's addresses, in the resolver's order; `AddressBlocked` if the guard refuses any of them."""
    infos = resolver(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
    if not allow_private:
        for address in addresses:
            if kind := blocked_address_kind(address):
                shown = address if host == address else f"{host} resolves to {address}, which"
                raise AddressBlocked(f"{shown} is not a public address ({kind})")
    return addresses


# --- the deadline, seen by every socket operation ---------------------------------------------------------


class Budget:
    """The deadline of one attempt, on the Fetcher's clock; waits inside `paused()` do not count. `what` names
    the limit in a timeout's detail ("the 60 s deadline", or the URL's whole budget when that is shorter)."""

    def __init__(self, clock: Callable[[], float], seconds: float, what: str | None = None):
        self.clock, self.seconds = clock, seconds
        self.deadline = clock() + seconds
        self.what = what or f"the {seconds:g} s deadline"

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def used(self) -> float:
        """Seconds spent so far, the paused waits left out."""
        return self.seconds - self.remaining()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            self.deadline += self.clock() - start


budget_var: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("fetchbudget_var", default=None)
# Called after each write of the current request: its head is on the wire, whatever DNS, connect and TLS cost.
sent_var: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "fetch_sent", default=None
)


def _clamp(timeout: float | None, exc_type: type[Exception]) -> float | None:
    """The socket timeout to use: the configured one, cut to what the current attempt has left."""
    budget = budget_var.get()
    if budget is None:
        return timeout
    remaining = budget.remaining()
    if remaining <= 0:
        raise exc_type("the deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the current attempt's deadline."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._stream.write(buffer, _clamp(timeout, httpcore.WriteTimeout))
        finally:
            if (sent := sent_var.get()) is not None:
                sent()

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:  # type: ignore[no-untyped-def]
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _dial(address: str, port: int, timeout, local_address, socket_options) -> httpcore.NetworkStream:  # type: ignore[no-untyped-def]
    """Open a TCP connection to an address the guard has checked (a seam for tests)."""
    return httpcore.SyncBackend().connect_tcp(address, port, timeout, local_address, socket_options)


class GuardedBackend(httpcore.SyncBackend):
    """Connects to the addresses it resolved and checked itself, so DNS cannot change between check and use."""

    def __init__(self, resolver: Resolver, allow_private: bool):
        self._resolver, self._allow_private = resolver, allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        try:
            addresses = resolve(self._resolver, host, port, self._allow_private)
        except OSError as exc:
            raise httpcore.ConnectError(describe(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = _dial(
                    address, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # refused or unreachable: try the next address
                failure = exc
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, with a connection pool that connects through `GuardedBackend`."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits):
        super().__init__(trust_env=False, limits=limits)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError(
                "httpx.HTTPTransport no longer keeps its pool in _pool; update pipeline/read/guard.py"
            )
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
