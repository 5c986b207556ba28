"""Options shared by the scan commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from keyscan.cli.run import ScanOptions
from keyscan.config import MAX_FILE_SIZE_TEXT, SIZE_FORMAT
from keyscan.report import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def _size(value: str | None) -> int | None:
    from keyscan.config import parse_size

    return None if value is None else parse_size(value)


# Every command that reads the config takes it from the same option.
config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Config file to use instead of .keyscan.toml or pyproject.toml.",
)


def scan_options(function: F) -> F:
    """Add the options every scan command shares to a click command."""
    decorators = [
        click.option(
            "--format",
            "format_",
            type=click.Choice(sorted(FORMATS)),
            default="text",
            show_default=True,
            help="Report format written to stdout (or to --output).",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Path(dir_okay=False, writable=True, allow_dash=True),
            help="Write the report to this file, or to stdout for '-'. The "
            "terminal still gets the findings.",
        ),
        config_option,
        click.option(
            "--max-file-size",
            metavar="SIZE",
            help=f"Skip files larger than SIZE: {SIZE_FORMAT}; at most "
            f"{MAX_FILE_SIZE_TEXT} "
            "[default: 25MiB].",
        ),
        click.option(
            "--show-secrets",
            is_flag=True,
            help="Print full secrets in reports. Off by default: reports redact them.",
        ),
        click.option(
            "--color/--no-color",
            default=None,
            help="Colour the text report [default: when stdout is a terminal].",
        ),
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            help="Print no summary line for a clean run: one that found no "
            "secret, skipped no file and scanned at least one.",
        ),
        click.option(
            "--verify",
            is_flag=True,
            help="Check each key found against its token API (network access; "
            "a key goes only to configured gateways and its issuer's API).",
        ),
        click.option(
            "--revoke",
            is_flag=True,
            help="Plan the revocation of live gateway keys found (implies "
            "--verify; needs MODELSTREAM_ACCESS_TOKEN). Add --yes to disable them.",
        ),
        click.option(
            "--yes",
            is_flag=True,
            help="With --revoke: disable the keys, not only plan.",
        ),
        click.option(
            "--delete",
            is_flag=True,
            help="With --revoke --yes: delete each token after disabling it.",
        ),
        click.option(
            "--audit-log",
            type=click.Path(dir_okay=False, allow_dash=True),
            help="JSON Lines file that records every revocation attempt, or '-' "
            "for stdout [default: $XDG_STATE_HOME/keyscan/revocations.jsonl].",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(["any", "live"]),
            default="any",
            show_default=True,
            help="Exit 1 on any finding, or only when a live or restricted key "
            "is found (live implies --verify).",
        ),
        click.option(
            "--baseline",
            type=click.Path(dir_okay=False),
            help="Report only findings whose fingerprint is not in this baseline "
            "file (see 'keyscan baseline create').",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def make_options(params: dict[str, Any]) -> ScanOptions:
    """Build ScanOptions from the shared parameters, removing them from ``params``."""
    return ScanOptions(
        format=params.pop("format_"),
        output=params.pop("output"),
        config=params.pop("config"),
        max_file_size=_size(params.pop("max_file_size")),
        show_secrets=params.pop("show_secrets"),
        color=params.pop("color"),
        quiet=params.pop("quiet"),
        verify=params.pop("verify"),
        revoke=params.pop("revoke"),
        yes=params.pop("yes"),
        delete=params.pop("delete"),
        audit_log=params.pop("audit_log"),
        fail_on=params.pop("fail_on"),
        baseline=params.pop("baseline"),
    )
