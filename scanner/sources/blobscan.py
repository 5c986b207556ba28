"""Scanning git objects by id: the work that history scans spread over processes.

A worker has its own engine and its own ``git cat-file --batch`` process.
It is sent object ids, never contents, and sends back only matches and
counters, so the bytes of the history cross no process boundary.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import NamedTuple

from keyscan.engine import Engine, Match
from keyscan.findings import Skipped
from keyscan.git import CatFile

# A Git LFS pointer file is a few lines that start with this; the content it
# points to is stored outside git (https://github.com/git-lfs/git-lfs,
# docs/spec.md).
_LFS_PREFIX = b"version https://git-lfs.github.com/spec/"
_LFS_MAX_SIZE = 1024


class BlobJob(NamedTuple):
    """A blob to scan, and a path it was seen at (rules may depend on it)."""

    oid: str
    path: str


class MessageJob(NamedTuple):
    """A commit or annotated tag whose message to scan; ``ref`` names a tag."""

    oid: str
    ref: str | None = None


class Person(NamedTuple):
    """The author of a commit or the tagger of a tag, decoded for display."""

    name: str
    email: str
    date: str
    timestamp: int


class MessageMatches(NamedTuple):
    """The matches in one commit or tag message."""

    oid: str
    ref: str | None
    person: Person | None
    matches: list[Match]


class BatchResult(NamedTuple):
    """The matches and counters a worker returns for one batch of jobs."""

    blobs: list[tuple[str, str, list[Match]]]
    messages: list[MessageMatches]
    blobs_scanned: int = 0
    bytes_scanned: int = 0
    binary: int = 0
    lfs_pointers: int = 0
    skipped: tuple[Skipped, ...] = ()


class ObjectScanner:
    """Read objects through one cat-file process and scan them with an engine."""

    def __init__(self, cwd: str, engine: Engine, max_size: int) -> None:
        self._cat = CatFile(cwd)
        self._engine = engine
        self._max_size = max_size

    def close(self) -> None:
        """Stop the cat-file process."""
        self._cat.close()

    def scan_blobs(self, jobs: Sequence[BlobJob]) -> BatchResult:
        """Scan each blob once and return those with matches, plus counters."""
        found: list[tuple[str, str, list[Match]]] = []
        skipped: list[Skipped] = []
        scanned = size_total = binary = lfs = 0
        reader = self._cat.read_many([job.oid for job in jobs], self._max_size)
        for (oid, path), (_oid, size, data) in zip(jobs, reader, strict=True):
            if data is None:
                skipped.append(Skipped(path, _unread_reason(oid, size, self._max_size)))
                continue
            if size <= _LFS_MAX_SIZE and data.startswith(_LFS_PREFIX):
                lfs += 1
                continue
            result = self._engine.scan(data, path)
            scanned += 1
            size_total += size
            binary += result.encoding == "binary"
            if result.skipped_reason:
                skipped.append(Skipped(path, result.skipped_reason))
            if result.matches:
                found.append((oid, path, result.matches))
        return BatchResult(found, [], scanned, size_total, binary, lfs, tuple(skipped))

    def scan_messages(self, jobs: Sequence[MessageJob]) -> BatchResult:
        """Scan the message of each commit or tag and return those with matches."""
        found: list[MessageMatches] = []
        reader = self._cat.read_many([job.oid for job in jobs], self._max_size)
        for (oid, ref), (_oid, _size, data) in zip(jobs, reader, strict=True):
            if data is None:
                continue
            header, _, message = data.partition(b"\n\n")
            matches = self._scan_message(header, message)
            if matches:
                found.append(MessageMatches(oid, ref, person_of(header), matches))
        return BatchResult([], found)

    def _scan_message(self, header: bytes, message: bytes) -> list[Match]:
        """Scan a message in the encoding its header names, else as any text."""
        encoding = header_encoding(header)
        if encoding is not None:
            try:
                text = message.decode(encoding)
            except UnicodeDecodeError:
                pass  # the header is wrong; let the engine guess
            else:
                return self._engine.scan_text(text, None, encoding=encoding).matches
        return self._engine.scan(message, None).matches


def _unread_reason(oid: str, size: int, max_size: int) -> str:
    if size < 0:
        return f"blob {oid} missing from the object store"
    return f"over the size limit ({size} > {max_size} bytes)"


def person_of(header: bytes) -> Person | None:
    """Return the author (or, for a tag, the tagger) named in an object header.

    Nothing in the header can make this fail: a name that is not valid in
    the header's ``encoding`` (UTF-8 by default) keeps its bytes as escapes,
    such as ``Ren\\xe9``, and a malformed date is shown as written.
    """
    line = None
    for row in header.split(b"\n"):
        key, _, value = row.partition(b" ")
        if key in (b"author", b"tagger"):
            line = value
            break
    if line is None:
        return None
    return _person(line, header_encoding(header) or "utf-8")


def header_encoding(header: bytes) -> str | None:
    """Return the codec that an object header's ``encoding`` line names, if any.

    git writes that line when a commit was made with ``i18n.commitEncoding``
    set to something other than UTF-8. An unknown name counts as UTF-8.
    """
    for row in header.split(b"\n"):
        key, _, value = row.partition(b" ")
        if key == b"encoding":
            return _codec(value.decode("ascii", "replace").strip())
    return None


def _codec(name: str) -> str:
    import codecs

    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def _person(line: bytes, encoding: str) -> Person:
    name, _, rest = line.partition(b"<")
    email, _, when = rest.partition(b">")
    date, timestamp = format_date(when.decode("ascii", "backslashreplace").strip())
    return Person(
        name.strip().decode(encoding, "backslashreplace"),
        email.strip().decode(encoding, "backslashreplace"),
        date,
        timestamp,
    )


def format_date(raw: str) -> tuple[str, int]:
    """Return ISO 8601 text and the Unix time for a git date (``1288373970 +0200``).

    A time zone git cannot read (``--700``) gives the time in UTC; a
    timestamp that is not a number gives the raw text and time 0.
    """
    stamp, _, zone = raw.partition(" ")
    try:
        seconds = int(stamp)
        when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return raw, 0
    offset = _zone_offset(zone)
    if offset is not None:
        when = when.astimezone(datetime.timezone(offset))
    return when.isoformat(), seconds


def _zone_offset(zone: str) -> datetime.timedelta | None:
    if len(zone) != 5 or zone[0] not in "+-" or not zone[1:].isdigit():
        return None
    minutes = int(zone[1:3]) * 60 + int(zone[3:5])
    if minutes >= 24 * 60:
        return None
    return datetime.timedelta(minutes=-minutes if zone[0] == "-" else minutes)


# The scanner of a worker process, created by ``init_worker``.
_WORKER: ObjectScanner | None = None


def init_worker(cwd: str, engine: Engine, max_size: int) -> None:
    """Create this worker process's scanner (a pool initializer)."""
    import signal
    from multiprocessing.util import Finalize

    # Ctrl-C reaches the whole process group; the main process stops the
    # pool, so the workers ignore it instead of each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _WORKER
    _WORKER = ObjectScanner(cwd, engine, max_size)
    # Stop the worker's cat-file process when the pool shuts the worker down.
    Finalize(_WORKER, _WORKER.close, exitpriority=10)


def run_batch(kind: str, jobs: Sequence[BlobJob] | Sequence[MessageJob]) -> BatchResult:
    """Scan one batch in a worker process: ``kind`` is "blobs" or "messages"."""
    if _WORKER is None:
        raise RuntimeError("init_worker was not called in this worker process")
    if kind == "blobs":
        return _WORKER.scan_blobs(jobs)  # type: ignore[arg-type]
    return _WORKER.scan_messages(jobs)  # type: ignore[arg-type]
