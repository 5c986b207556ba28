"""From scan units to findings: the part of the flow every source shares."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from keyscan.display import count_noun, display_name
from keyscan.engine import Engine, Match
from keyscan.findings import Finding, Summary, redact


class Unit(NamedTuple):
    """Bytes to scan and where they came from.

    ``meta`` contains the history fields of a finding (commit, author_name,
    author_email, date, ref) for units read from git history.
    """

    path: str | None
    data: bytes
    meta: dict[str, Any] | None = None


def make_finding(match: Match, path: str | None, **extra: Any) -> Finding:
    """Build the finding for ``match`` found at ``path``.

    ``path`` may be a file system path with undecodable bytes, so it is
    converted to the escaped form every report can write.
    """
    return Finding(
        rule_id=match.rule.id,
        description=match.rule.description,
        path=None if path is None else display_name(path),
        line=match.line,
        column=match.column,
        secret_redacted=redact(match.secret),
        fingerprint=match.fingerprint,
        issuer=match.issuer,
        issuer_source=match.issuer_source,
        snippet=match.snippet,
        context_hosts=match.context_hosts,
        secret=match.secret,
        **extra,
    )


def scan_units(
    units: Iterable[Unit], engine: Engine, summary: Summary
) -> list[Finding]:
    """Scan every unit and return the findings; record counts in ``summary``."""
    findings: list[Finding] = []
    binary = 0
    for unit in units:
        summary.files_scanned += 1
        summary.bytes_scanned += len(unit.data)
        result = engine.scan(unit.data, unit.path)
        if result.encoding == "binary":
            binary += 1
        if result.skipped_reason:
            summary.skip(unit.path or "(message)", result.skipped_reason)
        for match in result.matches:
            findings.append(make_finding(match, unit.path, **(unit.meta or {})))
    if binary:
        summary.extra["binary_files"] = binary
        summary.notes.append(
            f"scanned {count_noun(binary, 'binary file')} for exact key formats only"
        )
    summary.findings = len(findings)
    return findings
