"""``keyscan baseline create`` and ``keyscan baseline update``.

Both commands scan the same source as ``keyscan scan`` (files and folders on
disk, the current folder by default) or, with ``--history``, the whole git
history as ``keyscan history`` does, and record the findings' fingerprints
instead of reporting them. Scan the same source with ``--baseline`` later, or
``update`` reports every entry the narrower scan did not see as stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import click

from keyscan.baseline import (
    compare,
    dump_baseline,
    entries_of,
    load_baseline,
    write_baseline,
)
from keyscan.cli.run import Consumer, ScanOptions
from keyscan.display import count_noun
from keyscan.errors import BaselineError, ExitCode
from keyscan.findings import Finding, Summary
from keyscan.output import STDOUT, is_stdout, write_output


class BaselineRequest(NamedTuple):
    """The source to scan and the path of the baseline file."""

    paths: tuple[str, ...]
    history: bool
    path: str
    config: str | None
    max_file_size: int | None


def create_baseline(request: BaselineRequest, *, force: bool = False) -> ExitCode:
    """Scan, then write every finding's fingerprint to the baseline file.

    An existing file is an error unless ``force`` is set, so that a repeated
    ``create`` does not discard the accepted findings. The check runs before
    the scan.
    """
    import os

    if not force and os.path.lexists(request.path):
        raise BaselineError(
            f"baseline file already exists: {request.path}",
            "run 'keyscan baseline update' to add new findings to it, or "
            "'keyscan baseline create --force' to replace it",
        )

    def record(findings: list[Finding], summary: Summary) -> ExitCode:
        entries = entries_of(findings)
        if is_stdout(request.path):
            write_output(STDOUT, dump_baseline(entries))
            target = "stdout"
        else:
            write_baseline(request.path, entries)
            target = request.path
        fingerprints = count_noun(len(entries), "fingerprint")
        click.echo(
            f"keyscan: wrote {fingerprints} of {count_noun(len(findings), 'finding')} "
            f"to {target}",
            err=True,
        )
        return ExitCode.CLEAN

    return _scan(request, record)


def update_baseline(request: BaselineRequest, *, prune: bool) -> ExitCode:
    """Scan, add new fingerprints to the baseline file and list the stale ones.

    Stale entries (accepted secrets no longer found) stay in the file unless
    ``prune`` is set, because a narrower scan than the one that created the
    baseline also misses them.
    """
    baseline = load_baseline(request.path)

    def merge(findings: list[Finding], summary: Summary) -> ExitCode:
        diff = compare(baseline, findings)
        entries = {**diff.kept, **diff.new}
        if not prune:
            entries.update(diff.stale)
        write_baseline(request.path, entries)
        _print_update(request.path, diff.new, diff.stale, prune)
        return ExitCode.CLEAN

    return _scan(request, merge)


def _print_update(
    path: str, new: Mapping[str, str], stale: Mapping[str, str], prune: bool
) -> None:
    added = count_noun(len(new), "new fingerprint")
    click.echo(f"keyscan: added {added} to {path}", err=True)
    if not stale:
        return
    verb = "removed" if prune else "kept"
    click.echo(
        f"keyscan: {count_noun(len(stale), 'stale entry', 'stale entries')} (no "
        f"longer found), {verb}:",
        err=True,
    )
    for fingerprint in sorted(stale):
        click.echo(f"  {fingerprint}  {stale[fingerprint]}", err=True)
    if not prune:
        click.echo(
            "keyscan: hint: run again with --prune to remove stale entries", err=True
        )


def _scan(request: BaselineRequest, consume: Consumer) -> ExitCode:
    options = ScanOptions(
        config=request.config,
        max_file_size=request.max_file_size,
        consume=consume,
        quiet=True,
    )
    if request.history:
        return _scan_history(request.paths, options)
    from keyscan.cli.scan import run_scan

    return run_scan(request.paths, options)


def _scan_history(paths: Sequence[str], options: ScanOptions) -> ExitCode:
    import os

    from keyscan.cli.history import run_history

    repo = paths[0] if paths else os.getcwd()
    return run_history(repo, (), None, None, False, options)
