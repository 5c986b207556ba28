"""Text for reports and messages: file names as valid UTF-8, counted nouns."""

from __future__ import annotations


def display_name(name: str | bytes) -> str:
    """Return a file or ref name as valid text, with bytes that are not UTF-8 escaped.

    ``name`` is raw bytes from git, or a string decoded as a file system path,
    where Python stores each undecodable byte as a lone surrogate
    (``os.fsdecode``, ``sys.argv``). Either way the byte 0xE9 of a Latin-1
    ``café.txt`` becomes the four characters ``\\xe9``, so every report shows
    ``caf\\xe9.txt`` and can be encoded as UTF-8. A name made of valid UTF-8
    is returned unchanged.
    """
    if isinstance(name, bytes):
        return name.decode("utf-8", "backslashreplace")
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    raw = bytearray()
    for char in name:
        try:
            raw += char.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            # A lone surrogate that no undecodable byte produced (a Windows
            # file name may contain one) is written as its escaped UTF-8 bytes.
            raw += char.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


def escape_unprintable(text: str, keep: str = "") -> str:
    """Return ``text`` with each character that is not printable as its Python escape.

    A tab becomes ``\\t`` and ESC ``\\x1b``, so a file name cannot move the
    cursor, colour a terminal or start a line of its own. Characters in
    ``keep`` are left as they are.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() or char in keep else repr(char)[1:-1]
        for char in text
    )


def count_noun(count: int, singular: str, plural: str | None = None) -> str:
    """Return ``count`` and the noun in the right number: ``1 file``, ``2 files``.

    ``plural`` defaults to ``singular`` plus ``s``. Pass it for other plurals
    (``entry``, ``entries``).
    """
    if count == 1:
        return f"{count} {singular}"
    return f"{count} {plural or singular + 's'}"
