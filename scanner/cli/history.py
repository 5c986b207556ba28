"""``keyscan history``: every secret that ever entered a repository's history."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import click

from keyscan.cli.options import make_options, scan_options
from keyscan.cli.run import ScanContext, ScanOptions, execute
from keyscan.display import count_noun
from keyscan.errors import ExitCode, UsageError
from keyscan.findings import Finding
from keyscan.sources.gitlog import Revisions

_PUSH_HELP = (
    "Scan only the commits being pushed, as the pre-push hook does: the range "
    "pre-commit passes in PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF, or the "
    "commits of the pushed branch that no remote-tracking branch has."
)


@click.command()
@click.argument("repo", required=False, type=click.Path(file_okay=False))
@click.option(
    "--rev",
    "revs",
    multiple=True,
    metavar="RANGE",
    help="Scan this revision range (main..feature, v1.0..) instead of all refs. "
    "Repeat to combine ranges.",
)
@click.option("--branch", metavar="NAME", help="Scan the commits of one branch.")
@click.option(
    "--jobs",
    "-j",
    type=int,
    help="Number of worker processes: 1 to 4 per CPU core, or 1 to 8 on "
    "smaller machines. No more start than there are batches to scan "
    "[default: the number of CPU cores].",
)
@click.option("--pre-push", is_flag=True, help=_PUSH_HELP)
@scan_options
def command(
    repo: str | None,
    revs: tuple[str, ...],
    branch: str | None,
    jobs: int | None,
    pre_push: bool,
    **params: Any,
) -> None:
    """Scan every commit, merge, commit message and tag message of a repository.

    By default every commit reachable from any ref (branches, tags,
    remote-tracking branches) is read. Each distinct file version is scanned
    once. Each finding names the commit that introduced the secret at that
    path, its author and date, and how often the secret occurs.
    """
    options = make_options(params)
    target = repo or "."
    if jobs is not None:
        from keyscan.sources.workers import check_jobs

        check_jobs(jobs)
    if pre_push and (revs or branch):
        raise UsageError("--pre-push cannot be combined with --rev or --branch")
    raise SystemExit(run_history(target, revs, branch, jobs, pre_push, options))


def run_history(
    repo: str,
    revs: tuple[str, ...],
    branch: str | None,
    jobs: int | None,
    pre_push: bool,
    options: ScanOptions,
) -> ExitCode:
    """Scan the history of ``repo`` and report; return the exit code."""
    from keyscan.sources.history import git_dir
    from keyscan.sources.workers import default_jobs

    cwd = git_dir(repo)
    if pre_push:
        revisions = pre_push_revisions(os.environ, cwd)
    else:
        revisions = _revisions(cwd, revs, branch)

    def produce(context: ScanContext) -> list[Finding]:
        from keyscan.sources.history import HistoryOptions, scan_history

        history_options = HistoryOptions(
            revisions=revisions,
            jobs=jobs or default_jobs(),
            max_file_size=context.max_file_size,
            exclude=tuple(context.config.exclude),
        )
        with ProgressBar(sys.stderr) as bar:
            return scan_history(
                cwd, history_options, context.engine, context.summary, bar.update
            )

    return execute("history", options, cwd, produce)


def _revisions(cwd: str, revs: tuple[str, ...], branch: str | None) -> Revisions:
    if branch is not None:
        revs = (*revs, _branch_ref(cwd, branch))
    if not revs:
        return Revisions()
    return Revisions(revs=revs, all_refs=False)


def _branch_ref(cwd: str, name: str) -> str:
    """Return the full ref of branch ``name`` (local first, then remote-tracking)."""
    from keyscan.git import run_git

    candidates = [f"refs/heads/{name}", f"refs/remotes/{name}"]
    if name.startswith("refs/"):
        candidates.append(name)
    for ref in candidates:
        out = run_git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", ref],
            cwd,
            check=False,
        )
        if out.strip():
            return ref
    raise UsageError(
        f"branch not found: {name}", "list the branches with 'git branch --all'"
    )


def pre_push_revisions(environ: Mapping[str, str], cwd: str) -> Revisions:
    """Return the commits a push sends, from pre-commit's environment.

    pre-commit (3.2 and later, ``commands/hook_impl.py``) sets
    PRE_COMMIT_FROM_REF to the remote's old commit and PRE_COMMIT_TO_REF to
    the pushed one. For a new branch it sets FROM to the parent of the first
    commit that no remote-tracking branch has, or sets neither variable when
    the push includes a root commit. Other tools pass an all-zero FROM. In
    every case the commits already on the remote's branches are left out.
    """
    to_ref = environ.get("PRE_COMMIT_TO_REF") or environ.get(
        "PRE_COMMIT_LOCAL_BRANCH", "HEAD"
    )
    from_ref = environ.get("PRE_COMMIT_FROM_REF", "")
    remote = environ.get("PRE_COMMIT_REMOTE_NAME") or None
    if _is_zero(to_ref):
        return Revisions(revs=(), all_refs=False)  # a branch deletion sends nothing
    revs = [to_ref]
    if from_ref and not _is_zero(from_ref) and _commit_exists(cwd, from_ref):
        revs.append(f"^{from_ref}")
    return Revisions(
        revs=tuple(revs), all_refs=False, exclude_remotes=True, remote=remote
    )


def _is_zero(oid: str) -> bool:
    return bool(oid) and not oid.strip("0")


def _commit_exists(cwd: str, rev: str) -> bool:
    from keyscan.git import run_git

    out = run_git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        cwd,
        check=False,
    )
    return bool(out.strip())


class ProgressBar:
    """A one-line progress display on a terminal; silent on anything else."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._active = stream.isatty() and not os.environ.get("CI")
        self._shown = False

    def update(self, progress: Any) -> None:
        """Redraw the line with the counters in ``progress`` (a history Progress)."""
        if not self._active:
            return
        rate = progress.bytes_done / progress.elapsed_s if progress.elapsed_s else 0.0
        line = (
            f"keyscan: {count_noun(progress.commits, 'commit')}, "
            f"{progress.blobs_done}/{progress.blobs_queued} blobs, "
            f"{_mib(progress.bytes_done)} MiB at {_mib(rate)} MiB/s, "
            f"{progress.elapsed_s:.0f} s"
        )
        self._stream.write("\r\033[K" + line)
        self._stream.flush()
        self._shown = True

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()


def _mib(count: float) -> str:
    return f"{count / (1 << 20):.1f}"
