"""``keyscan ci``: scan the commits of the change a CI pipeline runs for.

The range comes from ``keyscan.ci_range``. This module checks that its
commits are in the clone, fetches them when the clone is shallow or lacks
them, prints on stderr which range it scans and why, and runs the history scan.
A range that cannot be completed falls back to the whole history, with the
CI setting that would avoid it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

import click

from keyscan.ci_range import RangeChoice, resolve_range
from keyscan.cli.run import ScanOptions
from keyscan.display import count_noun
from keyscan.errors import ExitCode, GitError
from keyscan.git import repo_root, run_git

logger = logging.getLogger(__name__)

# A full object name: SHA-1 (40 hex digits) or SHA-256 (64). A remote serves
# no abbreviated name or revision expression such as HEAD~1.
_FULL_OBJECT_NAME = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
# Characters and sequences that git check-ref-format rejects in a ref name.
_NOT_IN_REF_NAME = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
DEPTH_HINT = (
    "fetch the full history: 'fetch-depth: 0' on actions/checkout (GitHub), "
    "'GIT_DEPTH: 0' in the job's variables (GitLab), or 'git fetch --unshallow'"
)


def run_ci(
    rev: str | None,
    options: ScanOptions,
    *,
    deepen: bool = True,
    env: Mapping[str, str] | None = None,
) -> ExitCode:
    """Scan the commits the CI environment (or ``rev``) names and return the code."""
    repo = repo_root(os.getcwd())
    choice = resolve_range(os.environ if env is None else env, rev)
    if rev is None:
        choice = complete_range(repo, choice, deepen=deepen)
    else:
        if deepen and not _range_complete(repo, choice):
            fetch_range(repo, choice)
        _require_commits(repo, choice)
    announce(repo, choice)
    warn_config_changes(repo, choice)
    return scan_range(repo, choice.rev_range, options)


# Files whose keyscan settings a change could use to hide its own secrets.
_CONFIG_FILES = (".keyscan.toml", "pyproject.toml", ".pre-commit-config.yaml")


def warn_config_changes(repo: str, choice: RangeChoice) -> None:
    """Warn when the change under review edits keyscan's own settings.

    The scan uses the config of the checked-out commit, so a change that adds
    ``exclude = ["**"]`` would switch its own check off. Reviewers should see
    that in the job log.
    """
    if choice.rev_range is None:
        return
    out = run_git(
        ["diff", "--name-only", "-z", choice.rev_range, "--", *_CONFIG_FILES],
        repo,
        check=False,
    )
    changed = [name for name in out.decode("utf-8", "replace").split("\0") if name]
    if changed:
        click.echo(
            f"keyscan ci: warning: this change edits {', '.join(changed)}, whose "
            "settings apply to this scan; review that edit before trusting the result",
            err=True,
        )


def scan_range(repo: str, rev_range: str | None, options: ScanOptions) -> ExitCode:
    """Run the history scan on ``rev_range`` (None: the whole history)."""
    from keyscan.cli.history import run_history

    revs = (rev_range,) if rev_range else ()
    return run_history(repo, revs, None, None, False, options)


def complete_range(repo: str, choice: RangeChoice, *, deepen: bool) -> RangeChoice:
    """Return ``choice`` once its commits are in the clone, or a fallback.

    Missing commits are fetched from the remote when ``deepen`` is set; a
    shallow clone is deepened until the range has a merge base. When that
    fails the result is the whole history, with the reason and the setting
    that avoids it.
    """
    if choice.base is None:
        return choice
    if deepen and not _range_complete(repo, choice):
        fetch_range(repo, choice)
    missing = _missing(repo, choice)
    if missing:
        return _fallback(choice, f"commit {missing[0]} is not in this clone")
    if is_shallow(repo) and not _has_merge_base(repo, choice):
        return _fallback(choice, "this shallow clone does not reach the range's base")
    return choice


def _fallback(choice: RangeChoice, problem: str) -> RangeChoice:
    return RangeChoice(
        None,
        None,
        f"{choice.reason}, but {problem}; scanning the whole history instead "
        f"(to scan only the change, {DEPTH_HINT})",
    )


def _range_complete(repo: str, choice: RangeChoice) -> bool:
    if _missing(repo, choice):
        return False
    return not is_shallow(repo) or _has_merge_base(repo, choice)


def _missing(repo: str, choice: RangeChoice) -> list[str]:
    revisions = [choice.base, choice.head or "HEAD"]
    return [rev for rev in revisions if rev and not has_commit(repo, rev)]


def has_commit(repo: str, rev: str) -> bool:
    """Return whether ``rev`` names a commit present in the clone."""
    out = run_git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        repo,
        check=False,
    )
    return bool(out.strip())


def _has_merge_base(repo: str, choice: RangeChoice) -> bool:
    args = ["merge-base", "--", choice.base or "HEAD", choice.head or "HEAD"]
    return bool(run_git(args, repo, check=False).strip())


def is_shallow(repo: str) -> bool:
    """Return whether the clone is shallow (made with ``--depth``)."""
    out = run_git(["rev-parse", "--is-shallow-repository"], repo, check=False)
    return out.strip() == b"true"


def fetch_range(repo: str, choice: RangeChoice) -> None:
    """Fetch the range's commits from the remote, then unshallow if still needed.

    Only full object names and ref names can be fetched. A missing revision
    written another way (``HEAD~1``, an abbreviated name) is left to the
    unshallow step. Fetch failures are logged, not raised: the caller checks
    the result and falls back to the whole history with an explanation.
    """
    remote = default_remote(repo)
    if remote is None:
        logger.info("no git remote to fetch missing commits from")
        return
    refspecs = []
    for rev in _missing(repo, choice):
        refspec = fetch_refspec(rev, remote)
        if refspec is None:
            logger.info("%s is not a full object name or ref name to fetch", rev)
        else:
            refspecs.append(refspec)
    if refspecs:
        _fetch(repo, [remote, *refspecs])
    if is_shallow(repo) and not _range_complete(repo, choice):
        _fetch(repo, ["--unshallow", remote])


def fetch_refspec(rev: str, remote: str) -> str | None:
    """Return the refspec that fetches ``rev`` from ``remote``, or None.

    A full object name is fetched as it is, ``<remote>/<branch>`` into that
    remote-tracking branch, and a full ref name (``refs/tags/v1``) into the
    same ref. Anything else names no object that a remote can serve.
    """
    if _FULL_OBJECT_NAME.fullmatch(rev):
        return rev
    if not _is_ref_name(rev):
        return None
    prefix = f"{remote}/"
    if rev.startswith(prefix):
        branch = rev[len(prefix) :]
        return f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"
    if rev.startswith("refs/"):
        return f"+{rev}:{rev}"
    return None


def _is_ref_name(name: str) -> bool:
    # The rules of "git check-ref-format --allow-onelevel", checked in Python
    # to avoid starting a process.
    if not name or name == "@" or _NOT_IN_REF_NAME.search(name):
        return False
    if name.startswith("/") or name.endswith(("/", ".")):
        return False
    parts = name.split("/")
    return not any(part.startswith(".") or part.endswith(".lock") for part in parts)


def _fetch(repo: str, args: list[str]) -> None:
    click.echo(f"keyscan ci: running git fetch {' '.join(args)}", err=True)
    try:
        run_git(["fetch", "--quiet", "--no-tags", *args], repo)
    except GitError as error:
        logger.warning("%s", error.message)


def default_remote(repo: str) -> str | None:
    """Return ``origin`` when it exists, else the first remote, else None."""
    remotes = run_git(["remote"], repo, check=False).decode().split()
    if "origin" in remotes:
        return "origin"
    return remotes[0] if remotes else None


def _require_commits(repo: str, choice: RangeChoice) -> None:
    missing = _missing(repo, choice)
    if missing:
        raise GitError(
            f"--rev names a commit that is not in this clone: {missing[0]}",
            f"check the revision, or {DEPTH_HINT}",
        )


def announce(repo: str, choice: RangeChoice) -> None:
    """Print the range that will be scanned, how many commits it contains, and why."""
    rev_range = choice.rev_range
    if rev_range is None:
        where = "the whole history"
        if is_shallow(repo):
            where += f" of this shallow clone ({_count(repo, ['HEAD'])})"
    else:
        where = f"{rev_range} ({_count(repo, [rev_range])})"
    click.echo(f"keyscan ci: scanning {where}: {choice.reason}", err=True)


def _count(repo: str, revisions: list[str]) -> str:
    """Return how many commits ``revisions`` select, as ``2 commits``."""
    out = run_git(["rev-list", "--count", *revisions, "--"], repo, check=False)
    count = out.decode().strip()
    return count_noun(int(count), "commit") if count.isdigit() else "? commits"
