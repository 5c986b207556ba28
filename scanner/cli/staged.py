"""``keyscan staged``: scan the content staged in the git index."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from keyscan.cli.run import ScanContext, ScanOptions, execute
from keyscan.errors import ExitCode
from keyscan.findings import Finding
from keyscan.pipeline import Unit


def check_dash_paths(paths: Sequence[str]) -> None:
    """Reject an argument that looks like an option and names no file."""
    from keyscan.errors import UsageError

    for path in paths:
        if path.startswith("-") and not os.path.lexists(path):
            raise UsageError(
                f"no such option or file: {path}",
                "run 'keyscan staged --help' for the options; put -- before a path "
                "that starts with a dash",
            )


def _without_excluded(units: Iterator[Unit], patterns: Sequence[str]) -> Iterator[Unit]:
    # pathspec is imported only here, because it costs the hook about 50 ms.
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    return (unit for unit in units if not spec.match_file(unit.path or ""))


def run_staged(paths: Sequence[str], options: ScanOptions) -> ExitCode:
    """Scan the staged content of ``paths``, or of every staged change."""
    cwd = os.getcwd()

    def produce(context: ScanContext) -> list[Finding]:
        from keyscan.pipeline import scan_units
        from keyscan.sources.index import iter_staged

        units = iter_staged(
            cwd, paths, context.summary, max_file_size=context.max_file_size
        )
        if context.config.exclude:
            units = _without_excluded(units, context.config.exclude)
        return scan_units(units, context.engine, context.summary)

    return execute("staged", options, cwd, produce)
