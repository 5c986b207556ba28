"""``keyscan scan``: scan files and folders on disk."""

from __future__ import annotations

import os
from collections.abc import Sequence

from keyscan.cli.run import ScanContext, ScanOptions, execute
from keyscan.errors import ExitCode
from keyscan.findings import Finding


def run_scan(paths: Sequence[str], options: ScanOptions) -> ExitCode:
    """Scan ``paths`` (files or folders; the current folder when empty)."""
    targets = list(paths) or ["."]
    first = targets[0] if os.path.isdir(targets[0]) else os.path.dirname(targets[0])

    def produce(context: ScanContext) -> list[Finding]:
        from keyscan.pipeline import scan_units
        from keyscan.sources.files import iter_files

        units = iter_files(
            targets,
            context.summary,
            exclude=context.config.exclude,
            max_file_size=context.max_file_size,
        )
        return scan_units(units, context.engine, context.summary)

    return execute("scan", options, first or ".", produce)
