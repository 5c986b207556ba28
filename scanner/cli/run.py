"""The shared body of every scan command: config, rules, source, report, exit code."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from keyscan.config import Config, load_config
from keyscan.display import count_noun, display_name
from keyscan.engine import AllowList, Engine
from keyscan.errors import ExitCode
from keyscan.findings import Finding, Summary
from keyscan.output import (
    STDOUT,
    check_one_stdout,
    closed_stdout_error,
    is_stdout,
    stdout_is_closed,
    write_output,
)

if TYPE_CHECKING:
    from keyscan.baseline import Baseline

# A function that receives the findings of a run in place of the reporters.
# The baseline commands use it to record findings rather than report them.
Consumer = Callable[[list[Finding], Summary], ExitCode]


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
        baseline: str | None = None,
        consume: Consumer | None = None,
        extra_reports: tuple[tuple[str, str], ...] = (),
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
        self.baseline = baseline
        self.consume = consume
        # (format, file) pairs written beside the main report, from the same scan.
        self.extra_reports = extra_reports


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
        config_path=config.source,
    )
    allow = AllowList(config.allow_secrets, config.allow_fingerprints)
    return Engine(ruleset, allow)


def execute(
    command: str, options: ScanOptions, config_root: str, produce: Producer
) -> ExitCode:
    """Run one scan command end to end and return its exit code.

    A ``--baseline`` file is read before the scan, so a missing or malformed
    one stops the command before any work is done.
    """
    started = time.monotonic()
    if options.consume is None:
        writers = stdout_writers(options)
        check_one_stdout(writers)
        if writers and stdout_is_closed():
            # Fail before the scan, which could take minutes, not after it.
            raise closed_stdout_error()
    baseline = _load_baseline(options.baseline)
    config = load_config(config_root, options.config)
    if options.revoke:
        from keyscan.revoke import load_credentials

        load_credentials()  # fail before scanning, not after
    summary = Summary()
    engine = build_engine(config)
    context = ScanContext(
        config=config,
        engine=engine,
        summary=summary,
        max_file_size=options.max_file_size or config.max_file_size,
    )
    findings = produce(context)
    _save_compiled_patterns()
    if options.consume is not None:
        summary.duration_s = time.monotonic() - started
        return options.consume(findings, summary)
    if baseline is not None:
        findings = apply_baseline(findings, baseline, summary)
    if options.verify:
        from keyscan.cli.verify import verify_scan_findings

        findings = verify_scan_findings(findings, context, options)
    summary.findings = len(findings)
    summary.duration_s = time.monotonic() - started
    code = exit_code(findings, options.fail_on)
    extra = {
        "rules": engine.ruleset.rules,
        "exit_code": int(code),
        "config_path": config.source,
    }
    write_report(command, options, findings, summary, **extra)
    return code


def stdout_writers(options: ScanOptions) -> list[str]:
    """Return the outputs of a scan that go to stdout, as the user named them."""
    writers = []
    if options.output is None:
        writers.append(f"the {options.format} report (no --output)")
    elif is_stdout(options.output):
        writers.append("--output -")
    writers += [
        f"--{kind} -" for kind, path in options.extra_reports if is_stdout(path)
    ]
    if options.revoke and is_stdout(options.audit_log):
        writers.append("--audit-log -")
    return writers


def _save_compiled_patterns() -> None:
    # A run that compiled nothing never imported the cache module (or regex).
    cache = sys.modules.get("keyscan.regexcache")
    if cache is not None:
        cache.save_compiled()


def exit_code(findings: list[Finding], fail_on: str) -> ExitCode:
    """Return FINDINGS for any finding, or with ``fail_on="live"`` for a usable key.

    A usable key is one whose verification is live or restricted.
    """
    if fail_on == "live":
        unknown = sum(
            1 for f in findings if f.verification and f.verification.status == "unknown"
        )
        if unknown:
            # Such a key may still work. The run passes only because the API
            # could not be reached, so the CI log should show it.
            print(
                f"keyscan: warning: {count_noun(unknown, 'key')} could not be "
                "checked (status unknown); under --fail-on live, unknown keys do "
                "not fail the run",
                file=sys.stderr,
            )
        usable = ("live", "restricted")
        findings = [
            f for f in findings if f.verification and f.verification.status in usable
        ]
    return ExitCode.FINDINGS if findings else ExitCode.CLEAN


def _load_baseline(path: str | None) -> Baseline | None:
    if path is None:
        return None
    from keyscan.baseline import load_baseline

    return load_baseline(path)


def apply_baseline(
    findings: list[Finding], baseline: Baseline, summary: Summary
) -> list[Finding]:
    """Drop the findings in ``baseline`` and record how many it suppressed."""
    from keyscan.baseline import filter_findings

    kept, suppressed = filter_findings(findings, baseline)
    summary.extra["baseline_suppressed"] = suppressed
    summary.notes.append(
        f"{count_noun(suppressed, 'finding')} suppressed by baseline "
        f"{display_name(baseline.path)}"
    )
    return kept


def write_report(
    command: str,
    options: ScanOptions,
    findings: list[Finding],
    summary: Summary,
    **context: Any,
) -> None:
    """Write the report to stdout or ``--output`` and the summary to stderr.

    ``context`` is passed on to the reporter (see ``keyscan.report.render``).
    """
    from keyscan.report import render
    from keyscan.report.text import summary_line

    output = None if is_stdout(options.output) else options.output
    color = use_color(sys.stdout) if options.color is None else options.color
    report = render(
        options.format,
        findings,
        summary,
        show_secrets=options.show_secrets,
        color=color and output is None,
        command=command,
        **_format_context(options.format, context),
    )
    if output is not None:
        write_output(output, report)
        _write_text_findings(command, options, findings, summary, context)
    elif report:
        write_output(STDOUT, report)
    for format, path in options.extra_reports:
        extra = render(format, findings, summary, **_format_context(format, context))
        write_output(path, extra, option=f"--{format}")
    if not options.quiet or not _is_clean(findings, summary):
        print(summary_line(summary, color=use_color(sys.stderr)), file=sys.stderr)


def _is_clean(findings: list[Finding], summary: Summary) -> bool:
    # --quiet hides the summary of a clean run only. A run that scanned
    # nothing or skipped a file must never look clean.
    return not findings and not summary.skipped and not summary.nothing_scanned


def _format_context(format: str, context: dict[str, Any]) -> dict[str, Any]:
    # Only the GitLab report needs the checked-out commit, so only it pays for
    # the git call.
    if format == "gitlab" and "head_commit" not in context:
        return {**context, "head_commit": head_commit(os.getcwd())}
    return context


def head_commit(cwd: str) -> str | None:
    """Return the commit id of HEAD in ``cwd``, or None outside a repository."""
    from keyscan.errors import GitError
    from keyscan.git import run_git

    try:
        out = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd)
    except GitError:
        return None
    return out.decode("ascii", "replace").strip() or None


def _write_text_findings(
    command: str,
    options: ScanOptions,
    findings: list[Finding],
    summary: Summary,
    context: dict[str, Any],
) -> None:
    # With --output, the terminal still gets the human-readable findings.
    from keyscan.report import render

    text = render(
        "text",
        findings,
        summary,
        color=use_color(sys.stderr),
        command=command,
        config_path=context.get("config_path"),
    )
    if text:
        sys.stderr.write(text)


def use_color(stream: TextIO | None) -> bool:
    """Return whether to colour output on ``stream`` (NO_COLOR, FORCE_COLOR, TTY).

    ``stream`` is None for a standard stream that was closed when Python
    started.
    """
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream is not None and stream.isatty()
