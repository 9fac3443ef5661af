"""Compact run state: what a run remembers of each article it landed, in a few bytes, with exact answers.

A run keeps a little of every article it lands (ids, content hashes, signatures, band keys, paragraph
counts, stories) until it ends. Held as Python objects that is kilobytes an article (a 64-digit hex string
alone is 113 bytes, a dict entry another 50 to 100); here ids and hashes are int64 words in sorted numpy
columns with a small dict of the newest in front (`HexKeys`, `IdColumn`), and state read back only for the
rare candidate goes to an unlinked temporary file (`Spill`). Every lookup gives what a dict would.
"""

from __future__ import annotations

import os
import re
import tempfile
from array import array

import numpy as np

_WORD = 1 << 64
_SIGNED = 1 << 63


def hex_words(text: str, digits: int) -> list[int] | None:
    """A lowercase hex string of `digits` digits as signed int64 words (16 digits a word); None otherwise."""
    if not isinstance(text, str) or len(text) != digits or not _hex(digits).fullmatch(text):
        return None
    words = []
    for i in range(0, digits, 16):
        word = int(text[i : i + 16], 16)
        words.append(word - _WORD if word >= _SIGNED else word)
    return words


def words_hex(words) -> str:
    """`hex_words`' inverse."""
    return "".join(f"{int(w) % _WORD:016x}" for w in words)


_PATTERNS: dict[int, re.Pattern] = {}


def _hex(digits: int) -> re.Pattern:
    if digits not in _PATTERNS:
        _PATTERNS[digits] = re.compile(f"[0-9a-f]{{{digits}}}")
    return _PATTERNS[digits]


class HexKeys:
    """An exact map from strings to ints, compact for lowercase hex digests of one length.

    A key of `digits` hex digits (an article id: 16, a sha256: 64) is held as its int64 words: the first in a
    sorted column, the others beside it (compared on a hit), the value in a third column; 8 bytes a word
    and 8 for the value. The newest keys wait in a dict until `FLUSH_AT` of them are merged in. Any other
    string (a test's "a1") is kept in a dict of its own, so every key gives what a dict would give.
    """

    FLUSH_AT = 16_384

    def __init__(self, digits: int):
        if digits <= 0 or digits % 16:
            raise ValueError(f"digits must be a positive multiple of 16, got {digits}")
        self.digits = digits
        width = digits // 16
        self.heads = np.empty(0, dtype=np.int64)  # sorted
        self.tails = np.empty((0, width - 1), dtype=np.int64)
        self.values = np.empty(0, dtype=np.int64)
        self.pending: dict[str, int] = {}
        self.other: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.heads) + len(self.pending) + len(self.other)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def get(self, key: str) -> int | None:
        if key in self.pending:  # (any key, hashable: None included, as a dict takes it)
            return self.pending[key]
        if key in self.other:
            return self.other[key]
        words = hex_words(key, self.digits)
        at = self._find(words) if words is not None else None
        return None if at is None else int(self.values[at])

    def __setitem__(self, key: str, value: int) -> None:
        words = hex_words(key, self.digits)
        if words is None:
            self.other[key] = value
            return
        at = None if key in self.pending else self._find(words)
        if at is not None:
            self.values[at] = value
            return
        self.pending[key] = value
        if len(self.pending) >= self.FLUSH_AT:
            self.flush()

    def _find(self, words: list[int]) -> int | None:
        """The row holding `words` in the columns, or None."""
        heads = self.heads
        at = int(heads.searchsorted(words[0]))
        while at < len(heads) and heads[at] == words[0]:
            if self.tails.shape[1] == 0 or self.tails[at].tolist() == words[1:]:
                return at
            at += 1
        return None

    def flush(self) -> None:
        """Merge the pending keys into the sorted columns."""
        if not self.pending:
            return
        words = np.array([hex_words(k, self.digits) for k in self.pending], dtype=np.int64)
        values = np.fromiter(self.pending.values(), dtype=np.int64, count=len(self.pending))
        order = np.argsort(words[:, 0], kind="stable")
        words, values = words[order], values[order]
        at = np.searchsorted(self.heads, words[:, 0], side="right")
        self.heads = np.insert(self.heads, at, words[:, 0])
        self.tails = np.insert(self.tails, at, words[:, 1:], axis=0)
        self.values = np.insert(self.values, at, values)
        self.pending.clear()

    @property
    def nbytes(self) -> int:
        """Bytes of the sorted columns (the dicts not counted)."""
        return self.heads.nbytes + self.tails.nbytes + self.values.nbytes


class IdColumn:
    """Row number -> id string: 8 bytes a row for 16-hex-digit ids (others kept in a dict by row)."""

    DIGITS = 16

    def __init__(self) -> None:
        self.codes = array("q")
        self.other: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.codes)

    def append(self, value: str) -> int:
        """Add `value` as the next row; return its row number."""
        row = len(self.codes)
        words = hex_words(value, self.DIGITS)
        if words is None:
            self.other[row] = value
            self.codes.append(0)
        else:
            self.codes.append(words[0])
        return row

    def __getitem__(self, row: int) -> str:
        if row in self.other:
            return self.other[row]
        return words_hex((self.codes[row],))


class Spill:
    """Bytes appended to an unlinked temporary file and read back by offset: run state that is rarely read.

    Writes gather in memory up to `BUFFER` bytes, so the file grows in large appends; a read of what is still
    buffered is served from memory. The file lives in the system's temporary folder (`TMPDIR`), has no name
    (nothing to clean up after a crash) and is gone when the run state is.
    """

    BUFFER = 1 << 20

    def __init__(self) -> None:
        self._file = None
        self.written = 0  # bytes in the file
        self.buffer = bytearray()

    def __len__(self) -> int:
        return self.written + len(self.buffer)

    def append(self, data: bytes) -> int:
        """Store `data`; return its offset."""
        offset = len(self)
        self.buffer += data
        if len(self.buffer) >= self.BUFFER:
            self._write()
        return offset

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.written:
            start = offset - self.written
            return bytes(self.buffer[start : start + size])
        if offset + size > self.written:  # straddles the file's end and the buffer
            self._write()
        data = os.pread(self._file.fileno(), size, offset)
        if len(data) != size:
            raise OSError(f"run state spill file: read {len(data)} of {size} bytes at {offset}")
        return data

    def _write(self) -> None:
        if self._file is None:
            # Open for as long as the run state lives; closed with it (or by `close`).
            self._file = tempfile.TemporaryFile(prefix="pipeline-run-state-", buffering=0)  # noqa: SIM115
        view = memoryview(self.buffer)
        while view:
            done = os.pwrite(self._file.fileno(), view, self.written)
            self.written += done
            view = view[done:]
        view.release()
        self.buffer = bytearray()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
