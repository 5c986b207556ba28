"""Staged source: file content as recorded in the git index.

The index is what ``git commit`` will record, so a hook that reads it is right
about partial staging (``git add -p``) and about content removed from the
working tree after staging. git honours ``GIT_INDEX_FILE``, which is how
``git commit -a`` and pre-commit hand a temporary index to hooks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from keyscan.display import display_name
from keyscan.errors import GitError
from keyscan.findings import Summary
from keyscan.git import read_blobs, run_git, split_z
from keyscan.pipeline import Unit

_SUBMODULE = "160000"
_SYMLINK = "120000"
# Above this many paths the whole index is listed and filtered here, because
# the paths would not fit on one git command line.
_MAX_PATHSPECS = 500


class IndexEntry(NamedTuple):
    """One row of ``git ls-files --stage``; ``path`` is relative to the top."""

    mode: str
    oid: str
    stage: int
    path: str


def iter_staged(
    cwd: str,
    paths: Sequence[str],
    summary: Summary,
    *,
    max_file_size: int,
) -> Iterator[Unit]:
    """Yield the staged content of ``paths``, or of every staged change.

    With no ``paths`` the units are the files whose index content differs
    from HEAD (all staged files before the first commit). Paths are reported
    relative to the top of the work tree, as git prints them.
    """
    if paths:
        entries = _index_entries(cwd, paths)
        _note_missing(cwd, paths, entries, summary)
    else:
        # ls-files runs first: outside a repository it fails with a clear
        # message, while git diff would fall back to comparing plain files.
        entries = _index_entries(cwd, [])
        changed = set(staged_changes(cwd))
        entries = [e for e in entries if e.path in changed]
    yield from _read_entries(cwd, entries, summary, max_file_size)


def staged_changes(cwd: str) -> list[str]:
    """Return the paths, relative to the top, whose staged content differs from HEAD.

    Without a HEAD (before the first commit) git compares with an empty tree,
    so every staged file counts.
    """
    args = ["diff", "--cached", "--name-only", "-z", "--no-renames"]
    out = _git([*args, "--diff-filter=ACMRTU"], cwd)
    return split_z(out)


def _git(args: list[str], cwd: str) -> bytes:
    try:
        return run_git(args, cwd, env={"GIT_LITERAL_PATHSPECS": "1"})
    except GitError as error:
        if "not a git repository" in error.message.lower():
            raise GitError(
                f"not a git repository: {os.path.abspath(cwd)}",
                "run 'keyscan staged' inside a git work tree, or use 'keyscan scan'",
            ) from error
        raise


def _index_entries(cwd: str, paths: Sequence[str]) -> list[IndexEntry]:
    args = ["ls-files", "--stage", "-z", "--full-name"]
    selective = 0 < len(paths) <= _MAX_PATHSPECS
    if selective:
        args += ["--", *paths]
    entries = []
    for row in _git(args, cwd).split(b"\0"):
        if not row:
            continue
        info, _, name = row.partition(b"\t")
        mode, oid, stage = info.decode("ascii").split(" ")
        entries.append(IndexEntry(mode, oid, int(stage), os.fsdecode(name)))
    if paths and not selective:
        prefix = _prefix(cwd)
        keep = {_normalise(prefix, p) for p in paths}
        entries = [e for e in entries if e.path in keep]
    return entries


def _prefix(cwd: str) -> str:
    return os.fsdecode(_git(["rev-parse", "--show-prefix"], cwd).rstrip(b"\n"))


def _normalise(prefix: str, path: str) -> str:
    return os.path.normpath(os.path.join(prefix, path)).replace(os.sep, "/")


def _note_missing(
    cwd: str, paths: Sequence[str], entries: list[IndexEntry], summary: Summary
) -> None:
    if len(entries) >= len(paths):
        return  # every path is in the index (a folder adds several entries)
    listed = {e.path for e in entries}
    prefix = _prefix(cwd)
    for path in paths:
        full = _normalise(prefix, path)
        if full not in listed and not any(p.startswith(full + "/") for p in listed):
            summary.skip(path, "not in the index (deleted, or never added)")


def _read_entries(
    cwd: str, entries: list[IndexEntry], summary: Summary, max_file_size: int
) -> Iterator[Unit]:
    wanted: list[IndexEntry] = []
    for entry in entries:
        if entry.mode == _SUBMODULE:
            summary.skip(entry.path, "submodule, not descended into")
        elif entry.mode == _SYMLINK:
            continue  # the link target is scanned where it lives
        else:
            wanted.append(entry)
    # NOTE: blobs are read whole before the size check, which saves a git
    # process per commit. A staged file of several GiB is read into memory.
    blobs = read_blobs(cwd, sorted({e.oid for e in wanted}))
    for entry in wanted:
        data = blobs.get(entry.oid)
        if data is None:
            summary.skip(entry.path, f"blob {entry.oid} missing from the object store")
        elif len(data) > max_file_size:
            summary.skip(
                entry.path, f"over the size limit ({len(data)} > {max_file_size} bytes)"
            )
        else:
            yield Unit(display_name(entry.path), data)
