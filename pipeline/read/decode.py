"""Response bodies decoded as they stream in, with the cap on the decompressed size (gzip bombs stop at it)."""

from __future__ import annotations

import zlib
from typing import Any

import httpx

ACCEPT_ENCODING = "gzip, deflate"  # no br: the brotli package is not a dependency
_STEP = 64 * 1024  # most bytes one inflate call may produce
_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS  # zlib detects the gzip or zlib header
_RAW_DEFLATE = -zlib.MAX_WBITS


class Overflow(Exception):
    """The decoded body passed its cap."""


class Decoder:
    """Decodes a body of one Content-Encoding as it streams in; `Overflow` once the output passes `limit`.

    gzip (any number of members; a zlib stream is accepted too) and deflate (zlib-wrapped as the RFC says,
    or raw as some servers send it, told apart by the first two bytes). Each inflate call produces at most
    `_STEP` bytes, the rest of its input waiting in `unconsumed_tail`, so memory never passes the cap plus
    one step. Raises `zlib.error` on corrupt data and `EOFError` on a truncated stream.
    """

    def __init__(self, coding: str, limit: int):
        self.coding, self.limit = coding, limit
        self.parts: list[bytes] = []
        self.size = 0
        self._inflater: Any = None  # zlib decompress object of the current stream or member
        self._pending = b""  # first bytes of a stream or member, until there are two to look at
        self._streams = 0  # streams or members finished
        self._ended = False  # the data is over; anything further is ignored

    def feed(self, data: bytes) -> None:
        if self.coding == "identity":
            self._add(data)
            return
        data, self._pending = self._pending + data, b""
        while data and not self._ended:
            if self._inflater is None:
                if len(data) < 2:
                    self._pending = data
                    return
                wbits = self._wbits(data[:2])
                if wbits is None:  # trailing bytes after the last stream
                    self._ended = True
                    return
                self._inflater = zlib.decompressobj(wbits)
            data = self._inflate(data)
            if self._inflater.eof:
                self._inflater, self._streams = None, self._streams + 1
                self._ended = self.coding == "deflate"

    def finish(self) -> bytes:
        if self._inflater is not None or (self._pending and not self._streams):
            raise EOFError(f"the {self.coding} stream is truncated")
        return b"".join(self.parts)

    def _wbits(self, head: bytes) -> int | None:
        if self._streams:  # only a further gzip member may follow
            return _GZIP_OR_ZLIB if self.coding == "gzip" and head == b"\x1f\x8b" else None
        if self.coding == "gzip":
            return _GZIP_OR_ZLIB
        zlib_header = head[0] & 0x0F == 8 and int.from_bytes(head, "big") % 31 == 0
        return _GZIP_OR_ZLIB if zlib_header else _RAW_DEFLATE

    def _inflate(self, data: bytes) -> bytes:
        """Inflate `data` step by step; return what follows the end of the stream, if it ended."""
        while True:
            room = min(self.limit - self.size + 1, _STEP)
            out = self._inflater.decompress(data, room)
            self._add(out)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:
                return self._inflater.unused_data
            if not data and len(out) < room:  # input used up and no output held back
                return b""

    def _add(self, out: bytes) -> None:
        if out:
            self.parts.append(out)
            self.size += len(out)
        if self.size > self.limit:
            raise Overflow


def content_coding(headers: httpx.Headers) -> str:
    """identity, gzip or deflate; ValueError for anything else."""
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return "identity"
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return "deflate" if codings[0] == "deflate" else "gzip"
    raise ValueError(
        f"Content-Encoding {headers['content-encoding']!r} was not asked for ({ACCEPT_ENCODING})"
    )
