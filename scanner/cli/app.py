"""The click application: the ``keyscan`` group and its commands."""

from __future__ import annotations

from typing import Any

import click

from keyscan import __version__
from keyscan.cli.options import config_option, make_options, scan_options
from keyscan.config import MAX_FILE_SIZE_TEXT, SIZE_FORMAT

# Commands whose module is imported only when the command runs or is listed
# in the help, so that the other commands never pay for their imports.
_LAZY_COMMANDS = {
    "history": "keyscan.cli.history:command",
}


class _LazyGroup(click.Group):
    """A click group that also offers the commands of ``_LAZY_COMMANDS``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        import importlib

        module_name, _, attribute = target.partition(":")
        found: click.Command = getattr(importlib.import_module(module_name), attribute)
        return found


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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

    Inside a git work tree the files that .gitignore ignores are skipped and
    counted, unless named here. Symbolic links are not followed.
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
@config_option
def rules(config: str | None) -> None:
    """List the rules in effect: id, issuer and description."""
    import os

    from keyscan.cli.run import build_engine
    from keyscan.config import load_config

    engine = build_engine(load_config(os.getcwd(), config))
    for rule in engine.ruleset.rules:
        issuer = rule.issuer or "-"
        click.echo(f"{rule.id:<36} {issuer:<18} {rule.description}")


@cli.command()
@click.option(
    "--format",
    "format_",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format written to stdout (or to --output).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the report to this file ('-' for stdout).",
)
@config_option
@click.option(
    "--fail-on",
    type=click.Choice(["any", "live"]),
    default="live",
    show_default=True,
    help="Exit 1 for any key given, or only when a key is live or restricted.",
)
def verify(format_: str, output: str | None, config: str | None, fail_on: str) -> None:
    """Check keys read from stdin, one per line, against their token APIs.

    Gateway keys (sk- plus 48 characters) go only to the configured gateways
    (ModelStream by default); other keys go to their issuer's API.
    """
    from keyscan.cli.run import ScanOptions
    from keyscan.cli.verify import run_verify

    options = ScanOptions(format=format_, output=output, config=config, quiet=True)
    raise SystemExit(run_verify(options, fail_on))


@cli.command()
@click.option(
    "--yes", is_flag=True, help="Disable the keys; without it, print the plan."
)
@click.option("--delete", is_flag=True, help="Delete each token after disabling it.")
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Append one JSON line per key to this file ('-' is rejected, because "
    "the results go to stdout) [default: $XDG_STATE_HOME/keyscan/revocations.jsonl].",
)
@click.option(
    "--gateway",
    default="modelstream",
    show_default=True,
    help="Name of the configured gateway that issued the keys.",
)
@config_option
@click.option(
    "--format",
    "format_",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format of the results.",
)
def revoke(
    yes: bool,
    delete: bool,
    audit_log: str | None,
    gateway: str,
    config: str | None,
    format_: str,
) -> None:
    """Revoke gateway keys read from stdin, one per line, with the owner's account.

    Needs MODELSTREAM_ACCESS_TOKEN (the owner's access token) and, for
    new-api versions from 2024-07 to 2026-07, MODELSTREAM_USER_ID. Exit 1
    when any key may still work (planned in a dry run, not owned, still
    answering, failed).
    """
    from keyscan.cli.verify import run_revoke

    code = run_revoke(
        config_path=config,
        gateway=gateway,
        yes=yes,
        delete=delete,
        audit_log=audit_log,
        format=format_,
    )
    raise SystemExit(code)


@cli.command()
@click.option(
    "--rev",
    metavar="RANGE",
    help="Scan these commits instead of reading the CI environment: A..B, or A "
    "for A..HEAD.",
)
@click.option(
    "--deepen/--no-deepen",
    default=True,
    show_default=True,
    help="Fetch missing commits from the remote when the clone is shallow or "
    "lacks the range's base.",
)
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also write a SARIF report to this file ('-' for stdout), from the same scan.",
)
@click.option(
    "--gitlab",
    "gitlab_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also write a GitLab secret-detection report to this file ('-' for stdout).",
)
@scan_options
def ci(
    rev: str | None,
    deepen: bool,
    sarif_file: str | None,
    gitlab_file: str | None,
    **params: Any,
) -> None:
    """Scan the commits of the change under review in CI.

    The range comes from GitHub Actions (pull request and push events),
    GitLab CI/CD (merge request and branch pipelines) or --rev. When none of
    them names a base commit, the whole history is scanned. The range used and
    the reason are printed on stderr.
    """
    from keyscan.cli.ci import run_ci
    from keyscan.cli.run import stdout_writers
    from keyscan.output import check_one_stdout

    options = make_options(params)
    extra = [("sarif", sarif_file), ("gitlab", gitlab_file)]
    options.extra_reports = tuple((kind, path) for kind, path in extra if path)
    # Checked here as well as in the scan, so the error comes before git fetches.
    check_one_stdout(stdout_writers(options))
    raise SystemExit(run_ci(rev, options, deepen=deepen))


def _baseline_source_options(function: Any) -> Any:
    decorators = [
        click.argument("paths", nargs=-1, type=click.Path()),
        click.option(
            "--history",
            is_flag=True,
            help="Record the findings of the git history (as 'keyscan history' "
            "finds them) instead of the files on disk.",
        ),
        config_option,
        click.option(
            "--max-file-size",
            metavar="SIZE",
            help=f"Skip files larger than SIZE: {SIZE_FORMAT}; at most "
            f"{MAX_FILE_SIZE_TEXT} "
            "[default: 25MiB].",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@cli.group()
def baseline() -> None:
    """Accept the current findings, so that later scans report only new ones.

    A baseline file contains content fingerprints only: no secrets, paths, line
    numbers or timestamps. Pass it to any scan with --baseline FILE.
    """


@baseline.command("create")
@_baseline_source_options
@click.option(
    "--output",
    "-o",
    default=".keyscan-baseline.json",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Baseline file to write ('-' for stdout).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the baseline file if it exists; without it, an existing "
    "file is an error.",
)
def baseline_create(output: str, force: bool, **params: Any) -> None:
    """Record the current findings in a new baseline file.

    PATHS are scanned as 'keyscan scan' does (default: the current folder),
    or the git history with --history. An existing baseline file is kept
    unless --force is given; 'keyscan baseline update' adds to it.
    """
    from keyscan.cli.baseline import create_baseline

    raise SystemExit(create_baseline(_baseline_request(output, params), force=force))


@baseline.command("update")
@_baseline_source_options
@click.option(
    "--baseline",
    "file",
    default=".keyscan-baseline.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Baseline file to update.",
)
@click.option(
    "--prune", is_flag=True, help="Remove entries whose secret is no longer found."
)
def baseline_update(file: str, prune: bool, **params: Any) -> None:
    """Add new findings to a baseline file and list its stale entries.

    Scan the same source as 'baseline create' did (the same PATHS, --history
    or not), or entries the narrower scan does not see are listed as stale.
    """
    from keyscan.cli.baseline import update_baseline

    raise SystemExit(update_baseline(_baseline_request(file, params), prune=prune))


def _baseline_request(path: str, params: dict[str, Any]) -> Any:
    from keyscan.cli.baseline import BaselineRequest
    from keyscan.config import parse_size

    size = params["max_file_size"]
    return BaselineRequest(
        paths=params["paths"],
        history=params["history"],
        path=path,
        config=params["config"],
        max_file_size=None if size is None else parse_size(size),
    )
