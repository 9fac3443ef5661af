"""Web archives: `.warc` and `.warc.gz` files (WARC 1.0/1.1, as Common Crawl's CC-NEWS and web crawlers write them).

`warc_records(path, max_record_bytes)` yields, in file order, for each WARC record:

- a `Record` for an HTML response with HTTP status 200: its `WARC-Target-URI` as the URL, its `WARC-Date` as
  the fetch time (`Fields.fetched_at`, kept in `raw_documents`), its payload (de-chunked, Content-Encoding
  undone by warcio) as the page's bytes, transcoded to UTF-8 when the HTTP Content-Type names a charset that
  decodes it (the page's own `<meta charset>` may say otherwise; the server's header wins, as in a browser);
- a `Passed` (counted, not an article) for a revisit, a response that is not HTML or not 200, and the
  records that are not responses (warcinfo, request, metadata, ...);
- a `Problem` for a record whose payload is over the record cap (`too_large`) or that cannot be parsed, and
  for a gzip member that is truncated or corrupt (`corrupt_warc`): that member is given up and reading goes
  on at the next member, found by its gzip header.

Memory stays flat whatever the file's size: a `.warc.gz` is read one gzip member at a time through a
streaming inflater (`_Member`), each record's payload read up to the cap; a `.warc` is streamed by warcio
(its corruption ends the file: without gzip's member boundaries there is no safe place to start again).
Record numbers (`Record.index`, and `<path>#<n>` in `source_uri`) count every record of the file from 1.
"""

from __future__ import annotations

import codecs
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pipeline.read.records import HTML_CONTENT_TYPES, Fields, Passed, Problem, Record, parse_date

WARC_SUFFIXES = (".warc", ".warc.gz")
_GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip header: magic and the deflate method
_CHUNK = 1 << 16
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


class WarcError(Exception):
    """A gzip member (or an uncompressed file) that cannot be read further."""


class _Member(io.RawIOBase):
    """One gzip member of `file`, starting at `offset`, as a stream of its decompressed bytes.

    `end` is the offset right after the member once it has been read to its end. Raises `WarcError` on
    corrupt deflate data, a bad CRC, or a member cut short by the end of the file.
    """

    def __init__(self, file: BinaryIO, offset: int):
        self.file, self.end = file, None
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""  # compressed bytes read but not yet inflated
        self._read_to = offset
        file.seek(offset)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        size = _CHUNK if size is None or size < 0 else size
        while self.end is None:
            data = self._tail or self.file.read(_CHUNK)
            if not self._tail:
                self._read_to += len(data)
            if not data:
                raise WarcError("a gzip member cut short by the end of the file")
            try:
                out = self._inflater.decompress(data, size)
            except zlib.error as exc:
                raise WarcError(f"corrupt gzip data: {exc}") from None
            self._tail = self._inflater.unconsumed_tail
            if self._inflater.eof:  # what follows the member: unused_data (the tail holds the same bytes)
                self.end = self._read_to - len(self._inflater.unused_data)
            if out:
                return out
        return b""

    def drain(self) -> None:
        """Read to the end of the member (what warcio left of it)."""
        while self.read(_CHUNK):
            pass


def warc_records(path: Path, max_record_bytes: int) -> Iterator[Record | Problem | Passed]:
    """The records of a WARC file, in order (see the module docstring); bad data is a `Problem`."""
    with path.open("rb") as file:
        if file.read(2) != _GZIP_MAGIC[:2]:
            file.seek(0)
            yield from _uncompressed(file, max_record_bytes)
            return
        yield from _members(file, max_record_bytes)


def _uncompressed(file: BinaryIO, cap: int) -> Iterator[Record | Problem | Passed]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    number = 0
    records = ArchiveIterator(file, no_record_parse=False)
    try:
        for number, record in enumerate(records, 1):
            yield _record(number, record, cap)
    except (ArchiveLoadFailed, ValueError, EOFError) as exc:
        yield Problem(
            "corrupt_warc",
            f"cannot read past record {number}: {exc}; the {number} records before were read",
            number + 1,
        )
        return
    size = _size(file)
    if records.offset < size:  # warcio stops quietly at a record the file ends inside
        yield Problem(
            "corrupt_warc",
            f"the file ends inside record {number + 1} (offset {records.offset} of {size} bytes): cut short",
            number + 1,
        )


def _members(file: BinaryIO, cap: int) -> Iterator[Record | Problem | Passed]:
    """Record by record, one gzip member at a time; a bad member is a problem and the next one is read."""
    from warcio.exceptions import ArchiveLoadFailed

    offset, number = 0, 0
    while True:
        file.seek(offset)
        head = file.read(3)
        if not head:
            return
        if head != _GZIP_MAGIC:
            found = _next_member(file, offset + 1)
            number += 1
            skipped = (found if found is not None else _size(file)) - offset
            yield Problem("corrupt_warc", f"{skipped} bytes at offset {offset} are not a gzip member", number)
            if found is None:
                return
            offset = found
            continue
        member = _Member(file, offset)
        first = number
        try:
            for record in _archive(member):
                number += 1
                yield _record(number, record, cap)
            member.drain()
        except (WarcError, ArchiveLoadFailed, ValueError, EOFError) as exc:
            if number == first:
                number += 1  # the member's record, unread
            yield Problem("corrupt_warc", f"the gzip member at offset {offset}: {exc}", number)
            found = _next_member(file, offset + 1)
            if found is None:
                return
            offset = found
            continue
        offset = member.end


def _archive(stream) -> Iterator:
    from warcio.archiveiterator import ArchiveIterator

    return iter(ArchiveIterator(stream, no_record_parse=False))


def _next_member(file: BinaryIO, start: int) -> int | None:
    """The offset of the next gzip header at or after `start`, or None at the end of the file."""
    file.seek(start)
    pos, carry = start, b""
    while chunk := file.read(_CHUNK):
        data = carry + chunk
        at = data.find(_GZIP_MAGIC)
        while at != -1:
            flags = data[at + 3] if at + 3 < len(data) else 0
            if flags & 0xE0 == 0:  # reserved flag bits clear: a plausible header
                return pos - len(carry) + at
            at = data.find(_GZIP_MAGIC, at + 1)
        carry = data[-3:]
        pos += len(chunk)
    return None


def _size(file: BinaryIO) -> int:
    return file.seek(0, io.SEEK_END)


def _record(number: int, record, cap: int) -> Record | Problem | Passed:
    kind = record.rec_type
    if kind == "revisit":
        return Passed("warc_revisit")
    if kind != "response":
        return Passed("warc_other_record")
    headers = record.http_headers
    if headers is None:  # a response record that is not HTTP (dns:, ...)
        return Passed("warc_not_html")
    status = headers.get_statuscode()
    if status != "200":
        return Passed("warc_not_200")
    content_type = headers.get_header("Content-Type") or ""
    media = content_type.split(";")[0].strip().lower()
    if media and media not in HTML_CONTENT_TYPES:
        return Passed("warc_not_html")
    body = record.content_stream().read(cap + 1)
    if not media and not body.lstrip()[:16].lower().startswith(
        _HTML_START
    ):  # no type: only what reads as HTML
        return Passed("warc_not_html")
    uri = (record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    if len(body) > cap:
        return Problem("too_large", f"a payload over the {cap}-byte record cap ({uri})", number)
    fetched_at, _ = parse_date(record.rec_headers.get_header("WARC-Date"))
    return Record(
        number,
        Fields(
            raw=_as_utf8(body, _charset(content_type)),
            media_type="text/html",
            url=uri or None,
            fetched_at=fetched_at,
        ),
    )


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'")
    return None


def _as_utf8(body: bytes, charset: str | None) -> bytes:
    """The payload in UTF-8 when the HTTP charset decodes it; otherwise as it is (the extractor detects it)."""
    if charset is None:
        return body
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        return body
    if codec.name in ("utf-8", "ascii"):
        return body
    try:
        return body.decode(codec.name).encode("utf-8")
    except (UnicodeDecodeError, ValueError):
        return body
