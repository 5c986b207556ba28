"""Bytes to text: BOMs, UTF-16 and UTF-32, legacy encodings, binary sniffing,
and line and column numbers from an offset.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

_SNIFF_BYTES = 8192
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ASCII_LOWER = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz"
)
_STR_ASCII_LOWER = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
)


class Sniffed(NamedTuple):
    """The result of sniffing a file's first bytes.

    ``encoding`` is None for ASCII-compatible text whose exact encoding is
    decided only if a keyword occurs in it; ``bom`` is the number of BOM bytes.
    """

    encoding: str | None
    bom: int
    binary: bool


def sniff(data: bytes) -> Sniffed:
    """Classify ``data`` as BOM-marked, UTF-16/32 without a BOM, binary or text.

    A file is binary only when a NUL byte occurs in its first 8 KiB and the
    NULs do not form the regular pattern of UTF-16 or UTF-32 text. Carriage
    returns, form feeds and ANSI escape sequences are text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Sniffed(encoding, len(bom), False)
    head = data[:_SNIFF_BYTES]
    if b"\0" not in head:
        return Sniffed(None, 0, False)
    wide = _wide_encoding(head)
    if wide:
        return Sniffed(wide, 0, False)
    return Sniffed(None, 0, True)


def _wide_encoding(head: bytes) -> str | None:
    # ASCII text in UTF-16 has a NUL in every other byte; in UTF-32, three of
    # every four. Require the pattern to hold almost everywhere.
    even = head[0::2]
    odd = head[1::2]
    if (
        len(head) >= 4
        and head[1::4].count(0) == len(head[1::4]) == head[2::4].count(0)
        and head[3::4].count(0) == len(head[3::4])
    ):
        return "utf-32-le"
    if (
        len(head) >= 2
        and odd.count(0) >= 0.9 * len(odd)
        and even.count(0) < 0.1 * len(even)
    ):
        return "utf-16-le"
    if (
        len(head) >= 2
        and even.count(0) >= 0.9 * len(even)
        and odd.count(0) < 0.1 * len(odd)
    ):
        return "utf-16-be"
    return None


def lower_ascii(data: bytes) -> bytes:
    """Return ``data`` with ASCII letters lowercased; the length is unchanged."""
    return data.translate(_ASCII_LOWER)


def lower_ascii_text(text: str) -> str:
    """Return ``text`` with ASCII letters lowercased; the length is unchanged.

    ``str.lower`` can change the length of non-ASCII text (``İ`` becomes two
    characters), which would shift every offset after it.
    """
    lowered = text.lower()
    # str.lower only ever lengthens text (U+0130 becomes two characters), so
    # an unchanged length means every offset still lines up.
    if len(lowered) == len(text):
        return lowered
    return text.translate(_STR_ASCII_LOWER)


def decode(data: bytes, sniffed: Sniffed) -> tuple[str, str]:
    """Decode ``data`` and return the text and the name of the encoding used.

    UTF-8 is tried first. Text that is not valid UTF-8 is decoded with the
    encoding that charset-normalizer detects, else as cp1252, else as
    Latin-1, which accepts any bytes. Binary data is decoded as Latin-1, so
    offsets equal byte offsets.
    """
    if sniffed.binary:
        return data.decode("latin-1"), "binary"
    if sniffed.encoding:
        return data[sniffed.bom :].decode(sniffed.encoding, "replace"), sniffed.encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    detected = _detect_legacy(data)
    for encoding in (detected, "cp1252"):
        if encoding:
            try:
                return data.decode(encoding), encoding
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("latin-1"), "latin-1"


def _detect_legacy(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return None
    best = from_bytes(data[:65536]).best()
    return None if best is None else str(best.encoding)


def line_column(text: str, offset: int) -> tuple[int, int]:
    """Return the 1-based line and column of ``offset`` in ``text``.

    CRLF, LF and a lone CR each end a line, as in editors and git.
    """
    return LineCounter(text).locate(offset)


class LineCounter:
    """Line and column numbers for increasing offsets in one text.

    Each call counts line breaks only since the previous offset, so locating
    every match of a file costs one pass over it, not one pass per match.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._has_cr = "\r" in text
        self._offset = 0
        self._breaks = 0

    def locate(self, offset: int) -> tuple[int, int]:
        """Return the 1-based line and column of ``offset``."""
        text = self._text
        start = self._offset if offset >= self._offset else 0
        if start == 0:
            self._breaks = 0
        breaks = text.count("\n", start, offset)
        line_start = text.rfind("\n", 0, offset) + 1
        if self._has_cr:
            # A CRLF that straddles ``start`` was counted once already, as LF.
            breaks += text.count("\r", start, offset) - text.count(
                "\r\n", start, offset
            )
            if 0 < start < offset and text[start - 1] == "\r" and text[start] == "\n":
                breaks -= 1
            line_start = max(line_start, text.rfind("\r", 0, offset) + 1)
        self._breaks += breaks
        self._offset = offset
        return self._breaks + 1, offset - line_start + 1


def line_bounds(text: str, offset: int) -> tuple[int, int]:
    """Return the start and end offsets of the line that contains ``offset``."""
    # The search for CR is bounded by the LF found first, so that text without
    # CRs is not searched to its start and end for every offset.
    start = text.rfind("\n", 0, offset) + 1
    start = text.rfind("\r", start, offset) + 1 or start
    end = text.find("\n", offset)
    if end < 0:
        end = len(text)
    carriage = text.find("\r", offset, end)
    return start, end if carriage < 0 else carriage
