"""The shared body of every scan command: config, rules, source, report, exit code."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import NamedTuple, TextIO

from keyscan.config import Config, load_config
from keyscan.engine import AllowList, Engine
from keyscan.errors import ExitCode
from keyscan.findings import Finding, Summary


class ScanOptions:
    """Options every scan command shares; see ``keyscan.cli.options``."""

    def __init__(
        self,
        *,
        format: str = "text",
        output: str | None = None,
        config: str | None = None,
        show_secrets: bool = False,
        max_file_size: int | None = None,
        color: bool | None = None,
        quiet: bool = False,
        verify: bool = False,
        revoke: bool = False,
        yes: bool = False,
        delete: bool = False,
        audit_log: str | None = None,
        fail_on: str = "any",
    ) -> None:
        self.format = format
        self.output = output
        self.config = config
        self.show_secrets = show_secrets
        self.max_file_size = max_file_size
        self.color = color
        self.quiet = quiet
        # --revoke and --fail-on live need liveness, so they imply --verify.
        self.verify = verify or revoke or fail_on == "live"
        self.revoke = revoke
        self.yes = yes
        self.delete = delete
        self.audit_log = audit_log
        self.fail_on = fail_on


class ScanContext(NamedTuple):
    """The config, engine and summary that a source uses to produce findings."""

    config: Config
    engine: Engine
    summary: Summary
    max_file_size: int


Producer = Callable[[ScanContext], list[Finding]]


def build_engine(config: Config) -> Engine:
    """Load the rule pack plus the config's rules and return the engine."""
    from keyscan.ruleset import default_pack_files, load_rules

    ruleset = load_rules(
        [*default_pack_files(), *config.rule_files],
        inline=config.rules,
        disabled=config.disable_rules,
    )
    allow = AllowList(config.allow_secrets, config.allow_fingerprints)
    return Engine(ruleset, allow)


def execute(
    command: str, options: ScanOptions, config_root: str, produce: Producer
) -> ExitCode:
    """Run one scan command end to end and return its exit code."""
    started = time.monotonic()
    config = load_config(config_root, options.config)
    if options.revoke:
        from keyscan.revoke import load_credentials

        load_credentials()  # fail before scanning, not after
    summary = Summary()
    context = ScanContext(
        config=config,
        engine=build_engine(config),
        summary=summary,
        max_file_size=options.max_file_size or config.max_file_size,
    )
    findings = produce(context)
    if options.verify:
        from keyscan.cli.verify import verify_scan_findings

        findings = verify_scan_findings(findings, context, options)
    summary.findings = len(findings)
    summary.duration_s = time.monotonic() - started
    write_report(command, options, findings, summary)
    return exit_code(findings, options.fail_on)


def exit_code(findings: list[Finding], fail_on: str) -> ExitCode:
    """Return FINDINGS for any finding, or with ``fail_on="live"`` for a usable key.

    A usable key is one whose verification is live or restricted.
    """
    if fail_on == "live":
        usable = ("live", "restricted")
        findings = [
            f for f in findings if f.verification and f.verification.status in usable
        ]
    return ExitCode.FINDINGS if findings else ExitCode.CLEAN


def write_report(
    command: str, options: ScanOptions, findings: list[Finding], summary: Summary
) -> None:
    """Write the report to stdout or ``--output`` and the summary to stderr."""
    from keyscan.report import render
    from keyscan.report.text import summary_line

    output = options.output
    color = use_color(sys.stdout) if options.color is None else options.color
    report = render(
        options.format,
        findings,
        summary,
        show_secrets=options.show_secrets,
        color=color and output is None,
        command=command,
    )
    if output is not None:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(report)
        if options.format != "text":
            _write_text_findings(command, options, findings, summary)
    elif report:
        sys.stdout.write(report)
        sys.stdout.flush()
    if not options.quiet or findings:
        print(summary_line(summary, color=use_color(sys.stderr)), file=sys.stderr)


def _write_text_findings(
    command: str, options: ScanOptions, findings: list[Finding], summary: Summary
) -> None:
    # With --output, the terminal still gets the human-readable findings.
    from keyscan.report import render

    text = render(
        "text", findings, summary, color=use_color(sys.stderr), command=command
    )
    if text:
        sys.stderr.write(text)


def use_color(stream: TextIO) -> bool:
    """Return whether to colour output on ``stream`` (NO_COLOR, FORCE_COLOR, TTY)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()
