"""Read TOML files through a small on-disk cache.

Parsing TOML costs more than the whole scan of a typical commit: the tomllib
import alone takes about 20 ms on the 2-core benchmark machine. So the parsed
data is stored with ``marshal`` under the user's cache directory, keyed by the
file's ``file_stamp``. A stale, unreadable or damaged entry is ignored.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from typing import Any

_CACHE_VERSION = b"2"
# Each entry file starts with this tag, the payload's length and its CRC-32,
# so a truncated or damaged file is a miss rather than a marshal error (a
# damaged length field in marshal data can make it allocate gigabytes).
_MAGIC = b"KSC2"
_HEADER_SIZE = len(_MAGIC) + 8 + 4
# Each edit of a config or rule file adds an entry; past this many, the
# oldest half is removed when a new entry is written.
_MAX_ENTRIES = 256


def cache_dir() -> str:
    """Return keyscan's cache directory (``KEYSCAN_CACHE_DIR`` overrides it)."""
    explicit = os.environ.get("KEYSCAN_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "keyscan")


def parse_toml(text: str) -> dict[str, Any]:
    """Parse TOML text with tomllib (or tomli on Python 3.10)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    return tomllib.loads(text)


def toml_decode_error() -> type[Exception]:
    """Return the exception class that ``parse_toml`` raises on bad input."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    return tomllib.TOMLDecodeError


def load_toml(path: str) -> dict[str, Any]:
    """Return the parsed content of the TOML file at ``path``, cached.

    Raises OSError when the file cannot be read and the TOML decode error of
    ``toml_decode_error()`` when it is not valid TOML.
    """
    key = "toml\0" + file_stamp(path)
    cached = read_cached(key)
    if isinstance(cached, dict):
        return cached
    with open(path, encoding="utf-8") as handle:
        data = parse_toml(handle.read())
    write_cached(key, data)
    return data


def file_stamp(path: str) -> str:
    """Return a string that changes when the file at ``path`` is written or replaced.

    The stamp is the absolute path, size, modification time, inode change
    time (ctime), inode number and device. ``touch -d``, ``cp -p`` and rsync
    can set the modification time back, but every write, rename onto the
    path or ``utime`` sets the ctime to the current time, and a file swapped
    in by rename has another inode. Raises OSError when the file does not
    exist.
    """
    # NOTE: a rewrite of the same size within the same tick of the kernel's
    # timestamp clock as the previous change (up to 10 ms on Linux) keeps the
    # stamp, so a cache entry written in between would be stale.
    stat = os.stat(path)
    return (
        f"{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}"
        f"\0{stat.st_ctime_ns}\0{stat.st_ino}\0{stat.st_dev}"
    )


def _entry_path(key: str) -> str:
    # zlib's checksums name the file without importing hashlib (and OpenSSL),
    # which would cost the hook several milliseconds. A collision is harmless
    # because the entry stores its full key and a mismatch is a miss.
    raw = _CACHE_VERSION + key.encode()
    name = f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}"
    return os.path.join(cache_dir(), name + ".marshal")


def read_cached(key: str) -> Any:
    """Return the value stored under ``key``, or None when there is none."""
    try:
        with open(_entry_path(key), "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    payload = _checked_payload(raw)
    if payload is None:
        return None
    try:
        # The cache folder is the user's own; marshal reads only plain values.
        entry = marshal.loads(payload)  # noqa: S302
    except (EOFError, ValueError, TypeError, MemoryError):
        return None
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == key:
        return entry[1]
    return None


def _checked_payload(raw: bytes) -> bytes | None:
    """Return the payload of an entry file, or None when the file is damaged."""
    if len(raw) < _HEADER_SIZE or not raw.startswith(_MAGIC):
        return None
    length = int.from_bytes(raw[len(_MAGIC) : len(_MAGIC) + 8], "little")
    checksum = int.from_bytes(raw[len(_MAGIC) + 8 : _HEADER_SIZE], "little")
    payload = raw[_HEADER_SIZE:]
    if len(payload) != length or zlib.crc32(payload) != checksum:
        return None
    return payload


def write_cached(key: str, data: Any) -> None:
    """Store ``data`` (plain values only) under ``key``; failures are ignored."""
    entry = _entry_path(key)
    try:
        payload = marshal.dumps((key, data))
    except ValueError:
        return  # datetime values cannot be marshalled; such files are re-parsed
    header = (
        _MAGIC
        + len(payload).to_bytes(8, "little")
        + zlib.crc32(payload).to_bytes(4, "little")
    )
    try:
        os.makedirs(os.path.dirname(entry), exist_ok=True)
        temporary = f"{entry}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(header + payload)
        os.replace(temporary, entry)
        _prune(os.path.dirname(entry))
    except OSError:
        pass  # a read-only home only costs the parse next time


def _prune(folder: str) -> None:
    names = [name for name in os.listdir(folder) if name.endswith(".marshal")]
    if len(names) <= _MAX_ENTRIES:
        return
    paths = sorted((os.path.join(folder, name) for name in names), key=os.path.getmtime)
    for path in paths[: len(paths) // 2]:
        try:
            os.remove(path)
        except OSError:
            continue  # another keyscan process removed it first
