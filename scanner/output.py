"""Output files named on the command line, where ``-`` means stdout."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from keyscan.errors import UsageError

# The name that -o/--output, --sarif, --gitlab and --audit-log read as stdout,
# as most command-line tools do. A file named "-" can still be written as ./-.
STDOUT = "-"


def is_stdout(path: str | None) -> bool:
    """Return whether ``path`` names stdout rather than a file."""
    return path == STDOUT


def write_output(path: str, text: str) -> None:
    """Write ``text`` to the file ``path`` as UTF-8, or to stdout for ``-``."""
    if is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def check_one_stdout(
    writers: Sequence[str],
    hint: str = "send all but one of them to a file, for example with --output FILE",
) -> None:
    """Raise UsageError when more than one output would be written to stdout.

    ``writers`` names each output that goes to stdout, such as ``--sarif -``.
    Two documents on one stream could not be parsed apart.
    """
    if len(writers) < 2:
        return
    listed = ", ".join(writers[:-1]) + f" and {writers[-1]}"
    raise UsageError(f"more than one output would go to stdout: {listed}", hint)
