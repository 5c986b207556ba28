"""Working-tree source: files on disk, honouring .gitignore inside a work tree."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from keyscan.display import display_name
from keyscan.errors import GitError, UsageError
from keyscan.findings import Summary
from keyscan.pipeline import Unit

if TYPE_CHECKING:
    import pathspec


def iter_files(
    paths: Sequence[str],
    summary: Summary,
    *,
    exclude: Sequence[str] = (),
    max_file_size: int,
) -> Iterator[Unit]:
    """Yield a unit for every file under ``paths``.

    Inside a git work tree a folder lists its tracked and untracked files
    that .gitignore does not exclude (``git ls-files``). A file named
    explicitly is always read. Files over ``max_file_size`` and unreadable
    files are recorded in ``summary`` as skipped.
    """
    spec = _exclude_spec(exclude)
    for given in paths:
        if not os.path.lexists(given):
            raise UsageError(
                f"path not found: {display_name(given)}",
                "check the spelling, or scan '.'",
            )
        for full in _expand(given, summary):
            shown = display_path(full)
            if spec is not None and spec.match_file(shown):
                continue
            data = _read(full, shown, summary, max_file_size)
            if data is not None:
                yield Unit(shown, data)


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


def _expand(given: str, summary: Summary) -> Iterator[str]:
    if not os.path.isdir(given):
        yield given
        return
    listed = _git_listing(given)
    if listed is None:
        yield from _walk(given, summary)
        return
    for relative in listed:
        full = os.path.join(given, relative)
        if os.path.isdir(full):
            summary.skip(display_path(full), "submodule, not descended into")
        else:
            yield full


def _git_listing(folder: str) -> list[str] | None:
    from keyscan.git import run_git, split_z

    try:
        out = run_git(
            ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            folder,
        )
    except GitError:
        return None  # not a work tree: walk the folder instead
    return sorted(set(split_z(out)))


def _walk(folder: str, summary: Summary) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            full = os.path.join(root, name)
            if os.path.islink(full):
                continue
            yield full


def _read(full: str, shown: str, summary: Summary, max_file_size: int) -> bytes | None:
    try:
        mode = os.lstat(full).st_mode
        if stat.S_ISLNK(mode):
            return None  # the link target is scanned where it lives
        if not stat.S_ISREG(mode):
            # Reading a FIFO blocks forever and /dev/zero never ends.
            summary.skip(shown, "not a regular file (a pipe, socket or device)")
            return None
        # O_NONBLOCK keeps open() from blocking if a FIFO replaced the file.
        descriptor = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(descriptor, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_file_size:
                summary.skip(
                    shown, f"over the size limit ({size} > {max_file_size} bytes)"
                )
                return None
            return handle.read(max_file_size + 1)
    except FileNotFoundError:
        return None  # deleted from the working tree since git listed it
    except OSError as error:
        summary.skip(shown, f"unreadable: {error.strerror}")
        return None
