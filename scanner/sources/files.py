"""Working-tree source: files on disk, honouring .gitignore inside a work tree."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from keyscan.display import count_noun, display_name
from keyscan.errors import GitError, UsageError
from keyscan.findings import Summary
from keyscan.pipeline import Unit

if TYPE_CHECKING:
    import pathspec

SYMLINK_REASON = "symbolic link, not followed; name its target"


class _Ignored:
    """Untracked files and folders that .gitignore hid in the scanned folders.

    Each is stored by its real path (see ``_SeenPaths.real_path``), so a
    folder listed from two named folders counts once.
    """

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.folders: set[str] = set()


class _SeenPaths:
    """The real paths of the files and folders a scan has already taken."""

    def __init__(self) -> None:
        self._paths: set[str] = set()
        # realpath() costs a system call per folder level, and a listing
        # repeats the same folders.
        self._folders: dict[str, str] = {}

    def real_path(self, path: str) -> str:
        """Return the path that identifies ``path`` however it is written.

        The folders above the last component are resolved, but not the last
        component itself, so a symbolic link stays distinct from its target.
        A path with a trailing separator is a folder and is resolved whole.
        """
        if path.endswith(os.sep):
            return os.path.realpath(path) + os.sep
        head, tail = os.path.split(os.path.abspath(path))
        folder = self._folders.get(head)
        if folder is None:
            folder = self._folders[head] = os.path.realpath(head)
        return os.path.join(folder, tail)

    def first_time(self, path: str) -> bool:
        """Record the real path of ``path``; return False if it was recorded before."""
        real = self.real_path(path)
        if real in self._paths:
            return False
        self._paths.add(real)
        return True

    def __contains__(self, real: object) -> bool:
        return real in self._paths


class _Listing(NamedTuple):
    paths: list[str]
    # Ignored entries relative to the folder, folders with a trailing "/".
    ignored: list[str]


def iter_files(
    paths: Sequence[str],
    summary: Summary,
    *,
    exclude: Sequence[str] = (),
    max_file_size: int,
) -> Iterator[Unit]:
    """Yield a unit for every file under ``paths``.

    Inside a git work tree a folder lists its tracked and untracked files
    that .gitignore does not exclude (``git ls-files``), and the files and
    folders it excludes are counted in a note. A path named explicitly is
    scanned even when .gitignore ignores it: a file is read, and an ignored
    folder lists every file in it. A symbolic link named explicitly is not
    followed but recorded as skipped. Files over ``max_file_size`` and
    unreadable files are recorded in ``summary`` as skipped. A file named
    several ways (``a.txt``, ``./a.txt``, its absolute path, or inside a
    folder that is also named) is yielded once, under the first name given.
    """
    spec = _exclude_spec(exclude)
    ignored = _Ignored()
    seen = _SeenPaths()
    # A named link is recorded as skipped even when a folder listing has
    # passed over it, so it has a set of its own.
    named_links = _SeenPaths()
    for given in paths:
        if not os.path.lexists(given):
            raise UsageError(
                f"path not found: {display_name(given)}",
                "check the spelling, or scan '.'",
            )
        if os.path.islink(given):
            # A trailing slash ("link/") makes islink() False, so that form
            # scans the folder that the link points to.
            reported = display_path(given)
            first = named_links.first_time(given)
            if first and (spec is None or not spec.match_file(reported)):
                summary.skip(reported, SYMLINK_REASON)
            continue
        if os.path.isdir(given) and not seen.first_time(given + os.sep):
            continue  # the same folder, named again
        for full in _expand(given, summary, ignored, seen):
            if not seen.first_time(full):
                continue
            reported = display_path(full)
            if spec is not None and spec.match_file(reported):
                continue
            data = _read(full, reported, summary, max_file_size)
            if data is not None:
                yield Unit(reported, data)
    _note_ignored(summary, ignored, seen)


def _note_ignored(summary: Summary, ignored: _Ignored, seen: _SeenPaths) -> None:
    # A file or folder that one listing ignored and the command line also
    # named was scanned after all.
    # NOTE: an ignored folder still counts when only some files inside it
    # were named.
    files = sum(1 for path in ignored.files if path not in seen)
    folders = sum(1 for path in ignored.folders if path not in seen)
    if not files and not folders:
        return
    summary.extra["gitignored"] = {"files": files, "folders": folders}
    parts = []
    if files:
        parts.append(count_noun(files, "file"))
    if folders:
        parts.append(count_noun(folders, "folder"))
    verb = "was" if files + folders == 1 else "were"
    summary.notes.append(
        f"{' and '.join(parts)} ignored by .gitignore {verb} not scanned "
        "(name an ignored file or folder on the command line to scan it)"
    )


def display_path(full: str) -> str:
    """Return ``full`` as reports show it: relative to the current folder when
    it lies below it, with bytes that are not UTF-8 as escapes."""
    relative = os.path.relpath(full)
    if relative == ".." or relative.startswith(".." + os.sep):
        relative = full
    # Reports use slashes, so a backslash in a name stays part of the name.
    return display_name(relative.replace(os.sep, "/"))


def _exclude_spec(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec | None:
    if not patterns:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _expand(
    given: str, summary: Summary, ignored: _Ignored, seen: _SeenPaths
) -> Iterator[str]:
    if not os.path.isdir(given):
        yield given
        return
    listing = _git_listing(given)
    if listing is None:
        yield from _walk(given, summary)
        return
    for entry in listing.ignored:
        real = seen.real_path(os.path.join(given, entry.replace("/", os.sep)))
        if entry.endswith("/"):
            ignored.folders.add(real)
        else:
            ignored.files.add(real)
    for relative in listing.paths:
        full = os.path.join(given, relative)
        if os.path.isdir(full) and not os.path.islink(full):
            if seen.first_time(full + os.sep):
                summary.skip(display_path(full), "submodule, not descended into")
        else:
            # A symbolic link goes on to _read, which passes over it: its
            # target is scanned where it lives.
            yield full


def _git_listing(folder: str) -> _Listing | None:
    """List the files to scan in ``folder``, or None outside a git work tree."""
    from keyscan.git import run_git, split_z

    ignored_args = ["--others", "--ignored", "--exclude-standard", "--directory"]
    try:
        ignored = split_z(run_git(["ls-files", "-z", *ignored_args], folder))
    except GitError:
        return None  # not a work tree: walk the folder instead
    if "./" in ignored:
        # The folder itself is ignored: a pattern matches it, or every file in
        # it is ignored, and then git 2.39 lists those files after "./". The
        # user named it, so every file in it is scanned.
        out = run_git(["ls-files", "-z", "--cached", "--others"], folder)
        return _Listing(sorted(set(split_z(out))), [])
    out = run_git(
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], folder
    )
    return _Listing(sorted(set(split_z(out))), _outermost(ignored))


def _outermost(entries: list[str]) -> list[str]:
    """Drop the entries inside a listed folder, so an ignored folder counts once.

    git lists the files of a folder whose files are all ignored after the
    folder itself.
    """
    outermost: list[str] = []
    inside = None
    # Sorted, the entries under "dir/" directly follow "dir/".
    for entry in sorted(entries):
        if inside is not None and entry.startswith(inside):
            continue
        outermost.append(entry)
        inside = entry if entry.endswith("/") else None
    return outermost


def _walk(folder: str, summary: Summary) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            full = os.path.join(root, name)
            if os.path.islink(full):
                continue
            yield full


def _read(
    full: str, reported: str, summary: Summary, max_file_size: int
) -> bytes | None:
    try:
        mode = os.lstat(full).st_mode
        if stat.S_ISLNK(mode):
            return None  # the link target is scanned where it lives
        if not stat.S_ISREG(mode):
            # Reading a FIFO blocks forever and /dev/zero never ends.
            summary.skip(reported, "not a regular file (a pipe, socket or device)")
            return None
        # O_NONBLOCK keeps open() from blocking if a FIFO replaced the file.
        descriptor = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(descriptor, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_file_size:
                summary.skip(
                    reported, f"over the size limit ({size} > {max_file_size} bytes)"
                )
                return None
            return handle.read(max_file_size + 1)
    except FileNotFoundError:
        return None  # deleted from the working tree since git listed it
    except OSError as error:
        summary.skip(reported, f"unreadable: {error.strerror}")
        return None
