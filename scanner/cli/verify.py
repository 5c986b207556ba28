"""``keyscan verify`` and ``keyscan revoke``, and the ``--verify``, ``--revoke``
and ``--fail-on`` steps of the scan commands.

Keys given on stdin become findings without a path, so ``verify`` reports
them in the same shape as a scan does.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from keyscan.cli.run import ScanContext, ScanOptions, build_engine, exit_code
from keyscan.config import Config, load_config
from keyscan.display import count_noun
from keyscan.engine import Engine, Match
from keyscan.errors import ExitCode
from keyscan.findings import Finding, Summary, fingerprint, redact
from keyscan.output import STDOUT, check_one_stdout, is_stdout, write_output
from keyscan.revoke import (
    ALREADY_DEAD,
    DELETED,
    DISABLED,
    RevocationResult,
    revoke_keys,
)
from keyscan.verify.base import LIVE, RESTRICTED, STATUSES
from keyscan.verify.runner import GATEWAY_ALIASES, classify_secret, verify_findings

logger = logging.getLogger(__name__)

# Revocation outcomes after which the key no longer works. A planned
# revocation (a dry run) leaves the key working, so it is not one of them.
SETTLED = frozenset({ALREADY_DEAD, DISABLED, DELETED})


def read_keys(stream: TextIO) -> list[str]:
    """Return the keys on ``stream``: one per line, blank lines and ``#`` skipped."""
    keys = (line.strip() for line in stream)
    return [key for key in keys if key and not key.startswith("#")]


def findings_from_keys(
    keys: Sequence[str], engine: Engine | None = None
) -> list[Finding]:
    """Return one path-less finding per key, its line being the stdin line.

    With an engine, a key that one rule matches whole gets that rule's id,
    so its fingerprint equals the one a scan reports for the same key, and
    baselines and allow lists apply to both.
    """
    findings = []
    for number, key in enumerate(keys, start=1):
        match = _whole_match(engine, key)
        if match is not None:
            rule_id, description = match.rule.id, match.rule.description
            issuer = match.issuer
        else:
            family = classify_secret(key) or "unrecognised"
            rule_id, description = f"{family}-key", f"key given on stdin ({family})"
            issuer = None
        findings.append(
            Finding(
                rule_id=rule_id,
                description=description,
                path=None,
                line=number,
                column=1,
                secret_redacted=redact(key),
                fingerprint=fingerprint(rule_id, key),
                issuer=issuer,
                secret=key,
            )
        )
    return findings


def _whole_match(engine: Engine | None, key: str) -> Match | None:
    if engine is None:
        return None
    matches = engine.scan_text(key + "\n", None).matches
    return next((m for m in matches if m.secret == key), None)


def _is_usable(finding: Finding) -> bool:
    verification = finding.verification
    return verification is not None and verification.status in (LIVE, RESTRICTED)


def run_verify(options: ScanOptions, fail_on: str, stdin: TextIO | None = None) -> int:
    """Verify the keys on stdin, write the report, return the exit code."""
    from keyscan.report import render

    config = load_config(os.getcwd(), options.config)
    findings = findings_from_keys(read_keys(stdin or sys.stdin), build_engine(config))
    summary = Summary()
    verified = verify_findings(findings, config)
    summary.findings = len(verified)
    counts = count_statuses(verified)
    summary.extra["verification"] = counts
    report = render(
        options.format,
        verified,
        summary,
        command="verify",
        config_path=config.source,
    )
    write_output(options.output or STDOUT, report)
    print(f"keyscan: {verify_summary_line(counts)}", file=sys.stderr)
    return exit_code(verified, fail_on)


def verify_summary_line(counts: dict[str, int]) -> str:
    """Return the stderr summary of a verify run, such as ``checked 3 keys: ...``."""
    total = sum(counts.values())
    parts = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    return f"checked {count_noun(total, 'key')}: {parts or 'none given'}"


def count_statuses(findings: Sequence[Finding]) -> dict[str, int]:
    """Return how many findings have each status, ``unchecked`` for none."""
    counts = dict.fromkeys((*STATUSES, "unchecked"), 0)
    for finding in findings:
        status = finding.verification.status if finding.verification else "unchecked"
        counts[status] += 1
    return counts


def verify_scan_findings(
    findings: list[Finding], context: ScanContext, options: ScanOptions
) -> list[Finding]:
    """Run the ``--verify`` and ``--revoke`` steps of a scan command."""
    rule_verifiers = {rule.id: rule.verifier for rule in context.engine.ruleset.rules}
    verified = verify_findings(findings, context.config, rule_verifiers=rule_verifiers)
    context.summary.extra["verification"] = count_statuses(verified)
    if options.revoke:
        revocable = [f for f in verified if _revocable(f, rule_verifiers)]
        results = _revoke(revocable, context.config, options)
        context.summary.extra["revocations"] = [r.to_dict() for r in results]
    return verified


def _revocable(finding: Finding, rule_verifiers: dict[str, str | None]) -> bool:
    family = rule_verifiers.get(finding.rule_id) or classify_secret(finding.secret)
    return _is_usable(finding) and family in GATEWAY_ALIASES


def _revoke(
    findings: list[Finding], config: Config, options: ScanOptions
) -> list[RevocationResult]:
    if not findings:
        return []
    results = revoke_keys(
        [f.secret for f in findings],
        config,
        yes=options.yes,
        delete=options.delete,
        audit_log=options.audit_log,
        fingerprints=_fingerprints(findings),
    )
    for result in results:
        print(f"keyscan: revoke: {format_revocation(result)}", file=sys.stderr)
    if not options.yes:
        print(
            "keyscan: revoke: dry run, nothing changed; add --yes to act",
            file=sys.stderr,
        )
    return results


def _fingerprints(findings: Sequence[Finding]) -> dict[str, str]:
    """Map each finding's secret to its fingerprint; the first finding wins."""
    mapping: dict[str, str] = {}
    for finding in findings:
        mapping.setdefault(finding.secret, finding.fingerprint)
    return mapping


def _gateway_keys(lines: list[str]) -> list[str]:
    """Return the lines that are gateway keys; report and drop the others.

    Only gateway keys can be revoked, and a line that is no key at all should
    not travel to the gateway's token search.
    """
    keys = []
    for number, line in enumerate(lines, start=1):
        # sk- and 32 hex digits is a legacy gateway key or a DeepSeek key. The
        # gateway reports not-owned for a key that it did not issue.
        if classify_secret(line) in {*GATEWAY_ALIASES, "deepseek"}:
            keys.append(line)
        else:
            print(
                f"keyscan: revoke: line {number} is not a gateway key "
                f"({redact(line)}); skipped",
                file=sys.stderr,
            )
    return keys


def format_revocation(result: RevocationResult) -> str:
    """Return one line describing a revocation result."""
    token = f"token {result.token_id}" if result.token_id is not None else "no token"
    return (
        f"{result.key} on {result.gateway}: {result.outcome} ({token}; {result.detail})"
    )


def run_revoke(
    *,
    config_path: str | None,
    gateway: str,
    yes: bool,
    delete: bool,
    audit_log: str | None,
    format: str,
    stdin: TextIO | None = None,
) -> int:
    """Revoke the keys on stdin; exit 1 when any key may still be usable.

    A dry run exits 1 whenever it plans a revocation, because the planned
    key still works.
    """
    import json

    if is_stdout(audit_log):
        # The results always go to stdout.
        check_one_stdout(
            [f"the {format} results", "--audit-log -"],
            "pass a file to --audit-log",
        )
    config = load_config(os.getcwd(), config_path)
    keys = _gateway_keys(read_keys(stdin or sys.stdin))
    # The audit log records each key's fingerprint as a scan would report it,
    # so the rules decide the rule id as they do in 'keyscan verify'.
    findings = findings_from_keys(keys, build_engine(config)) if keys else []
    results = revoke_keys(
        keys,
        config,
        gateway=gateway,
        yes=yes,
        delete=delete,
        audit_log=audit_log,
        fingerprints=_fingerprints(findings),
    )
    if format == "json":
        payload = {"revocations": [r.to_dict() for r in results]}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        for result in results:
            sys.stdout.write(format_revocation(result) + "\n")
    if not yes and results:
        print("keyscan: dry run, nothing changed; add --yes to act", file=sys.stderr)
    settled = all(r.outcome in SETTLED for r in results)
    return ExitCode.CLEAN if settled else ExitCode.FINDINGS
