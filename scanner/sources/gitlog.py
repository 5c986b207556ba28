"""The raw-diff stream of ``git log``: which blobs each commit wrote, and where.

One ``git log --raw -m --no-renames`` process lists, for every commit, the
paths whose blob differs from each parent, with the old and new blob ids. A
merge is listed once per parent (``-m``), so content that appears only in a
conflict resolution shows up as new against every parent. Without rename
detection a renamed or copied file is an added path, and its blob is seen at
the new path too.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from typing import IO, NamedTuple

from keyscan.display import display_name
from keyscan.errors import GitError
from keyscan.git import command, git_env

SUBMODULE_MODE = "160000"
SYMLINK_MODE = "120000"
_CHUNK = 1 << 20
# Each commit block starts with this header: a marker, the commit id, then
# the parent ids. Paths and raw lines are NUL-terminated tokens (-z).
_FORMAT = "--format=C%H %P"


class Change(NamedTuple):
    """One path whose blob differs between a commit and one of its parents."""

    path: str
    old_mode: str
    new_mode: str
    old: str
    new: str


class Block(NamedTuple):
    """A commit's changes against one parent (all parents for a root: none)."""

    commit: str
    parents: tuple[str, ...]
    changes: list[Change]


class Revisions(NamedTuple):
    """The commits to read.

    ``revs`` are passed to git after ``--end-of-options``, so a value can
    never be taken as an option. ``exclude_remotes`` leaves out commits that
    are on remote-tracking branches (of ``remote`` only, when it is set).
    """

    revs: tuple[str, ...] = ()
    all_refs: bool = True
    exclude_remotes: bool = False
    remote: str | None = None

    def args(self) -> list[str]:
        """Return the revision arguments for ``git log`` or ``git rev-list``."""
        args = ["--all"] if self.all_refs else []
        if self.exclude_remotes:
            remotes = f"--remotes={self.remote}" if self.remote else "--remotes"
            args += ["--not", remotes, "--not"]
        return [*args, "--end-of-options", *self.revs]


def log_command(revisions: Revisions, *, date_order: bool = False) -> list[str]:
    """Return the ``git log`` command line that lists raw changes per parent."""
    args = ["log", "--raw", "-m", "--root", "--no-renames", "--no-abbrev", "-z"]
    args += ["--no-ext-diff", "--no-textconv", "--no-color", "--no-mailmap"]
    args += [_FORMAT]
    if date_order:
        args.append("--date-order")
    return command([*args, *revisions.args(), "--"])


def iter_blocks(
    cwd: str, revisions: Revisions, *, date_order: bool = False
) -> Iterator[Block]:
    """Yield one block per commit and parent, streaming from one git process.

    ``date_order`` lists no parent before its children and otherwise orders
    by commit date, newest first. Raises GitError, with git's message, when
    git fails (a bad revision range, a corrupt repository).
    """
    # stderr goes to a file: an unread pipe could fill up and stall git.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            log_command(revisions, date_order=date_order),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=git_env(),
        )
        stdout: IO[bytes] = process.stdout  # type: ignore[assignment]
        try:
            yield from _parse(_tokens(stdout))
        finally:
            stdout.close()
            code = process.wait()
        if code != 0:
            errors.seek(0)
            message = _first_line(errors.read())
            raise GitError(
                f"git log failed with exit code {code}: {message}",
                "check the revisions given with --rev or --branch, or run "
                "'git fsck' on the repository",
            )


def is_zero(oid: str) -> bool:
    """Return True for the all-zero id git prints for the missing side of a change."""
    return not oid.strip("0")


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "(no message)"


def _tokens(stream: IO[bytes]) -> Iterator[bytes]:
    read = stream.read
    rest = b""
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def _parse(tokens: Iterator[bytes]) -> Iterator[Block]:
    block: Block | None = None
    for token in tokens:
        token = token.lstrip(b"\n")
        if token.startswith(b":"):
            path = next(tokens, b"")
            if block is not None:
                block.changes.append(_change(token, path))
        elif token.startswith(b"C"):
            if block is not None:
                yield block
            ids = token[1:].decode("ascii").split()
            block = Block(ids[0], tuple(ids[1:]), [])
    if block is not None:
        yield block


def _change(raw: bytes, path: bytes) -> Change:
    old_mode, new_mode, old, new, _status = raw[1:].decode("ascii").split(" ")
    return Change(display_name(path), old_mode, new_mode, old, new)


def count_commits(cwd: str, revisions: Revisions) -> int:
    """Return how many commits ``revisions`` select (for the progress bar)."""
    from keyscan.git import run_git

    out = run_git(["rev-list", "--count", *revisions.args(), "--"], cwd)
    return int(out.strip() or b"0")
