"""Output files named on the command line, where ``-`` means stdout."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

from keyscan.errors import UsageError

# The name that -o/--output, --sarif, --gitlab and --audit-log read as stdout,
# as most command-line tools do. A file named "-" can still be written as ./-.
STDOUT = "-"


class ClosedStdout(io.TextIOBase):
    """The stand-in for ``sys.stdout`` when keyscan starts with stdout closed.

    Python sets ``sys.stdout`` to None then. Every write raises UsageError,
    so output meant for stdout ends the run with exit 2 and a message.
    """

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        raise closed_stdout_error()


def closed_stdout_error() -> UsageError:
    """Return the error for output that cannot go to stdout because it is closed."""
    return UsageError(
        "cannot write to stdout: stdout is closed",
        "run keyscan with stdout open, or send a scan's report to a file with "
        "--output FILE",
    )


def stdout_is_closed() -> bool:
    """Return whether keyscan started with stdout closed."""
    return isinstance(sys.stdout, ClosedStdout)


def is_stdout(path: str | None) -> bool:
    """Return whether ``path`` names stdout rather than a file."""
    return path == STDOUT


def write_output(path: str, text: str, option: str = "--output") -> None:
    """Write ``text`` to the file ``path`` as UTF-8, or to stdout for ``-``.

    Raises UsageError naming the path (or stdout) and ``option`` when the
    file cannot be written, and BrokenPipeError when the reader of stdout
    has quit. Some failures, such as EIO from a file under /proc, come only
    when the file is closed, and OSError then carries no file name.
    """
    if is_stdout(path):
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # the reader quit, as `keyscan scan | head` does
        except OSError as error:
            raise UsageError(
                f"cannot write the report to stdout: {error.strerror or error}",
                "check that the file or device stdout goes to has free space, "
                f"or write the report to a file with {option} FILE",
            ) from error
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise UsageError(
            f"cannot write the report to {path}: {error.strerror or error}",
            f"pass {option} a file in a folder you can write to",
        ) from error


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
