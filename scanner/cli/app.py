"""The click application: the ``keyscan`` group and its commands."""

from __future__ import annotations

from typing import Any

import click

from keyscan import __version__
from keyscan.cli.options import make_options, scan_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keyscan")
@click.option(
    "-v", "--verbose", count=True, help="Log more: -v for INFO, -vv for DEBUG."
)
def cli(verbose: int) -> None:
    """Find leaked API keys and credentials in files, staged changes and git history.

    Exit codes: 0 nothing found, 1 secrets found, 2 usage, configuration,
    rule or git error, 3 internal error.
    """
    from keyscan.cli.entry import setup_logging

    setup_logging(verbose)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@scan_options
def scan(paths: tuple[str, ...], **params: Any) -> None:
    """Scan files and folders on disk (default: the current folder).

    Inside a git work tree a folder's .gitignore is honoured.
    """
    from keyscan.cli.scan import run_scan

    raise SystemExit(run_scan(paths, make_options(params)))


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("paths", nargs=-1, type=click.UNPROCESSED)
@scan_options
def staged(paths: tuple[str, ...], **params: Any) -> None:
    """Scan the staged content (the git index) of PATHS, or of every staged change.

    This is what the pre-commit hook runs: it reads what the commit will
    record, not the working tree.
    """
    from keyscan.cli.staged import check_dash_paths, run_staged

    # pre-commit passes file names as they are, so a file named "-x.env"
    # arrives looking like an option; one that exists is taken as a path.
    check_dash_paths(paths)
    raise SystemExit(run_staged(paths, make_options(params)))


@cli.command()
@click.option("--config", type=click.Path(dir_okay=False), help="Config file to use.")
def rules(config: str | None) -> None:
    """List the rules in effect: id, issuer and description."""
    import os

    from keyscan.cli.run import build_engine
    from keyscan.config import load_config

    engine = build_engine(load_config(os.getcwd(), config))
    for rule in engine.ruleset.rules:
        issuer = rule.issuer or "-"
        click.echo(f"{rule.id:<36} {issuer:<14} {rule.description}")
