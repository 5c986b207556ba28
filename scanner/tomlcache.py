"""Read TOML files through a small on-disk cache.

Parsing TOML costs more than the whole scan of a typical commit: the tomllib
import alone takes about 20 ms on the 2-core benchmark machine. So the parsed
data is stored with ``marshal`` under the user's cache directory, keyed by the
file's path, size and modification time. A stale or unreadable cache entry is ignored.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from typing import Any

_CACHE_VERSION = b"1"
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
    """Return a string that changes whenever the file at ``path`` changes.

    Raises OSError when the file does not exist.
    """
    stat = os.stat(path)
    return f"{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}"


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
            # The cache folder is the user's own; marshal reads only plain values.
            entry = marshal.load(handle)  # noqa: S302
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == key:
        return entry[1]
    return None


def write_cached(key: str, data: Any) -> None:
    """Store ``data`` (plain values only) under ``key``; failures are ignored."""
    entry = _entry_path(key)
    try:
        payload = marshal.dumps((key, data))
    except ValueError:
        return  # datetime values cannot be marshalled; such files are re-parsed
    try:
        os.makedirs(os.path.dirname(entry), exist_ok=True)
        temporary = f"{entry}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(payload)
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
