"""The console entry point, with a fast path for the pre-commit hook.

Importing click costs about as much as the rest of a staged scan: about 40 ms
of a 0.1 s budget on the 2-core benchmark machine. So ``keyscan staged`` with
only the options a hook uses is parsed here by hand and runs without click. Any
other command line, including every help and error case, goes to the click
application, which stays the single definition of the interface.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from keyscan.errors import ExitCode, KeyscanError

_VALUE_OPTIONS = {"--format": "format", "--config": "config", "--output": "output"}
_VALUE_OPTIONS["--max-file-size"] = "max_file_size"
_VALUE_OPTIONS["-o"] = "output"
_VALUE_OPTIONS["--baseline"] = "baseline"
_FLAGS = {
    "--quiet": ("quiet", True),
    "-q": ("quiet", True),
    "--show-secrets": ("show_secrets", True),
    "--color": ("color", True),
    "--no-color": ("color", False),
}
_FAST_FORMATS = ("text", "json")


def main(argv: Sequence[str] | None = None) -> None:
    """Run keyscan with ``argv`` (default: the process arguments) and exit."""
    replace_closed_streams()
    args = list(sys.argv[1:] if argv is None else argv)
    fast = parse_fast_staged(args)
    if fast is not None:
        paths, options = fast
        raise SystemExit(_guarded(lambda: _run_fast(paths, options)))
    raise SystemExit(_guarded(lambda: _run_click(args)))


def replace_closed_streams() -> None:
    """Give stdout or stderr a stand-in when the process started with it closed.

    Python sets a standard stream that was closed at start (``>&-``) to
    None. Without stderr, messages are discarded and the scan still runs.
    Without stdout, writing to it fails with exit 2 (see ClosedStdout).
    """
    if sys.stdout is None:
        from keyscan.output import ClosedStdout

        _hold_descriptor(1)
        sys.stdout = ClosedStdout()
    if sys.stderr is None:
        _hold_descriptor(2)
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115


def _hold_descriptor(descriptor: int) -> None:
    # Open /dev/null on a closed standard descriptor, so that no file or pipe
    # opened later gets its number and receives what a child process, such
    # as git, writes to it.
    try:
        os.fstat(descriptor)
        return  # already open
    except OSError:
        pass
    null = os.open(os.devnull, os.O_WRONLY)
    if null != descriptor:
        os.dup2(null, descriptor)
        os.close(null)


def parse_fast_staged(args: list[str]) -> tuple[list[str], dict[str, object]] | None:
    """Parse ``staged`` command lines that the fast path handles, else None.

    The result is the paths and the option values by ScanOptions field name.
    """
    if not args or args[0] != "staged":
        return None
    options: dict[str, object] = {}
    paths: list[str] = []
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--":
            paths.extend(rest)
            break
        name, _, inline = arg.partition("=")
        if name in _VALUE_OPTIONS:
            value = inline if "=" in arg else next(rest, None)
            if value is None:
                return None
            options[_VALUE_OPTIONS[name]] = value
        elif arg in _FLAGS:
            field, flag = _FLAGS[arg]
            options[field] = flag
        elif arg.startswith("-") and not os.path.lexists(arg):
            # An option that only click defines, or a mistake that click reports.
            return None
        else:
            paths.append(arg)
    if options.get("format", "text") not in _FAST_FORMATS:
        return None
    return paths, options


def _run_fast(paths: list[str], values: dict[str, object]) -> int:
    # The regex module is imported later, only when a keyword occurs in the
    # change: a commit that touches no credential-like word never needs it.
    from keyscan.cli.run import ScanOptions
    from keyscan.cli.staged import run_staged
    from keyscan.config import parse_size

    size = values.pop("max_file_size", None)
    options = ScanOptions(**values)  # type: ignore[arg-type]
    if size is not None:
        options.max_file_size = parse_size(size)
    setup_logging(0)
    return run_staged(paths, options)


def _run_click(args: list[str]) -> int:
    import click

    from keyscan.cli.app import cli

    try:
        result = cli.main(args=args, prog_name="keyscan", standalone_mode=False)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else ExitCode.ERROR
    except click.ClickException as error:
        error.show()
        return ExitCode.ERROR
    except click.Abort:
        print("keyscan: aborted", file=sys.stderr)
        return ExitCode.ERROR
    # --help and --version return normally; commands exit through SystemExit.
    return result if isinstance(result, int) else ExitCode.CLEAN


def _guarded(run: Callable[[], int]) -> int:
    """Call ``run`` and map expected errors to one line and exit code 2."""
    try:
        return int(run())
    except KeyscanError as error:
        print(f"keyscan: error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"keyscan: hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("keyscan: interrupted", file=sys.stderr)
        return ExitCode.ERROR
    except BrokenPipeError:
        return ExitCode.ERROR
    except OSError as error:
        # An unwritable report path or an unreadable input is a problem of
        # the environment, not a bug: one line that names the path.
        where = f": {error.filename}" if error.filename else ""
        print(f"keyscan: error: {error.strerror or error}{where}", file=sys.stderr)
        print("keyscan: hint: check the path and its permissions", file=sys.stderr)
        return ExitCode.ERROR
    except Exception as error:
        import logging

        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(
            f"keyscan: internal error: {type(error).__name__}: {str(error)[:200]}\n"
            "keyscan: hint: run again with -vv to see the traceback, and report it",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL


def setup_logging(verbose: int) -> None:
    """Send log records to stderr: WARNING by default, INFO with -v, DEBUG with -vv.

    Without -v logging is not even imported, which keeps the hook fast; a
    library module that logs imports it itself.
    """
    if verbose == 0 and "logging" not in sys.modules:
        return
    import logging

    level = (
        logging.WARNING
        if verbose == 0
        else logging.INFO
        if verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(
        level=level, format="keyscan: %(levelname)s: %(name)s: %(message)s"
    )
