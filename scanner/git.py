"""The single wrapper for git processes.

Every git call runs with the C locale, no pager, no user hooks, paths printed
verbatim (``core.quotepath=off``) and NUL-separated output where git offers
it. A failure raises GitError that shows the command, exit code and stderr.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from typing import IO

from keyscan.errors import GitError

_CONFIG = (
    "-c",
    "core.quotepath=off",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "color.ui=false",
    "-c",
    "log.showSignature=false",
    "-c",
    "diff.external=",
)


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a git process: ours, plus fixed settings.

    ``GIT_INDEX_FILE`` and ``GIT_DIR`` pass through, so a hook run by git with
    a temporary index reads that index.
    """
    env = dict(os.environ)
    env.update(
        LC_ALL="C",
        LANG="C",
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
    )
    if extra:
        env.update(extra)
    return env


def command(args: Sequence[str]) -> list[str]:
    """Return the full argument list for ``git args``."""
    return ["git", *_CONFIG, *args]


def run_git(
    args: Sequence[str],
    cwd: str,
    *,
    check: bool = True,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run ``git args`` in ``cwd`` and return its standard output.

    Raises GitError when git is missing or, with ``check``, exits non-zero.
    """
    argv = command(args)
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            input=input,
            capture_output=True,
            env=git_env(env),
            check=False,
        )
    except FileNotFoundError as error:
        raise GitError(
            "git was not found on PATH", "install git and run keyscan again"
        ) from error
    except NotADirectoryError as error:
        raise GitError(f"not a directory: {cwd}") from error
    if check and done.returncode != 0:
        raise GitError(
            f"git {' '.join(args[:3])} failed with exit code {done.returncode}: "
            f"{_first_line(done.stderr)}",
        )
    return done.stdout


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "(no message)"


def repo_root(path: str) -> str:
    """Return the top folder of the work tree that contains ``path``.

    Raises GitError naming the path when it is not inside a git work tree.
    """
    folder = path if os.path.isdir(path) else os.path.dirname(path) or "."
    try:
        out = run_git(["rev-parse", "--show-toplevel"], folder)
    except GitError as error:
        raise GitError(
            f"not a git repository: {path}",
            "run keyscan inside a git work tree, or name one as an argument",
        ) from error
    return os.fsdecode(out.rstrip(b"\n"))


def split_z(output: bytes) -> list[str]:
    """Split NUL-terminated git output into paths (bytes decoded as fs paths)."""
    return [os.fsdecode(item) for item in output.split(b"\0") if item]


class CatFile:
    """A long-lived ``git cat-file --batch`` process that reads objects by id."""

    def __init__(self, cwd: str) -> None:
        self._process = subprocess.Popen(
            command(["cat-file", "--batch"]),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_env(),
        )

    def read(self, oid: str) -> bytes | None:
        """Return the content of object ``oid``, or None when it is missing."""
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None:
            raise GitError("git cat-file was started without pipes")
        stdin.write(oid.encode("ascii") + b"\n")
        stdin.flush()
        header = stdout.readline().split()
        if len(header) != 3:
            return None
        size = int(header[2])
        data = stdout.read(size)
        stdout.read(1)  # the newline after the content
        return data

    def read_many(
        self, oids: Sequence[str], max_size: int
    ) -> Iterator[tuple[str, int, bytes | None]]:
        """Yield ``(oid, size, content)`` for each object in ``oids``, in order.

        All ids are written before the first response is read, which saves a
        round trip per object. The content is None for an object larger than
        ``max_size``, which is read past in chunks and never held whole, and
        the size is -1 for a missing object. Send at most about 1,000 ids at
        a time: they must fit in the pipe buffer, because git's output is
        not read until every id is written.
        """
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None:
            raise GitError("git cat-file was started without pipes")
        stdin.write("".join(f"{oid}\n" for oid in oids).encode("ascii"))
        stdin.flush()
        for oid in oids:
            header = stdout.readline().split()
            if len(header) != 3:
                yield oid, -1, None
                continue
            size = int(header[2])
            if size > max_size:
                _discard(stdout, size + 1)
                yield oid, size, None
                continue
            data = stdout.read(size)
            stdout.read(1)  # the newline after the content
            yield oid, size, data

    def close(self) -> None:
        """Stop the git process."""
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _discard(stream: IO[bytes], count: int) -> None:
    while count > 0:
        chunk = stream.read(min(count, 1 << 20))
        if not chunk:
            raise GitError("git cat-file stopped in the middle of an object")
        count -= len(chunk)


def read_blobs(cwd: str, oids: Sequence[str]) -> dict[str, bytes]:
    """Return the content of each blob in ``oids``, read by one git process.

    ``subprocess.run`` writes the ids and reads the output concurrently, so a
    long list cannot deadlock against git's output.
    """
    if not oids:
        return {}
    request = "".join(f"{oid}\n" for oid in oids).encode("ascii")
    return _parse_batch(run_git(["cat-file", "--batch"], cwd, input=request))


def _parse_batch(output: bytes) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    position = 0
    while position < len(output):
        newline = output.index(b"\n", position)
        header = output[position:newline].split()
        position = newline + 1
        if len(header) == 2 and header[1] == b"missing":
            continue
        size = int(header[2])
        blobs[header[0].decode("ascii")] = output[position : position + size]
        position += size + 1
    return blobs
