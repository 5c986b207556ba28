"""GitHub Actions workflow commands: one ``::error`` annotation per finding.

A step that prints these lines makes GitHub show each finding on its line of
the pull request's diff. Values are escaped as the Actions toolkit does
(actions/toolkit, ``packages/core/src/command.ts``): ``%``, CR and LF in the
message, and also ``:`` and ``,`` in the properties. Other characters that
are not printable, such as a tab or ESC in a file name, are first written as
backslash escapes (``\\t``, ``\\x1b``), as the text report shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keyscan.display import count_noun, escape_unprintable
from keyscan.findings import Finding, Summary
from keyscan.report.sarif import end_column, message_text
from keyscan.report.text import scanned_units


def render(findings: Sequence[Finding], summary: Summary, **_: Any) -> str:
    """Return one workflow command per finding, then a summary notice."""
    lines = [annotation(finding) for finding in findings]
    lines.append(_summary(summary, len(findings)))
    return "\n".join(lines) + "\n"


def annotation(finding: Finding) -> str:
    """Return the ``::error`` command for one finding; the secret stays redacted."""
    properties: list[tuple[str, str]] = []
    if finding.path is not None:
        properties.append(("file", finding.path))
        properties.append(("line", str(finding.line)))
        properties.append(("col", str(finding.column)))
        end = end_column(finding)
        if end is not None:
            properties.append(("endColumn", str(end)))
    properties.append(("title", f"keyscan {finding.rule_id}"))
    message = message_text(finding) + f" (fingerprint {finding.fingerprint})"
    if finding.path is None:
        message += f" in the message of {finding.ref or finding.commit or 'a commit'}"
    elif finding.commit:
        message += f", introduced in {finding.commit[:12]}"
    fields = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::error {fields}::{escape_data(message)}"


def _summary(summary: Summary, count: int) -> str:
    found = f"{count_noun(count, 'secret')} found" if count else "no secrets found"
    text = f"keyscan: {found}; scanned {scanned_units(summary)}"
    if summary.skipped:
        text += f"; {len(summary.skipped)} not scanned completely"
    if summary.nothing_scanned:
        text += " (nothing was scanned)"
    return f"::notice title=keyscan::{escape_data(text)}"


def escape_data(value: str) -> str:
    """Escape a command's message: unprintable characters, then ``%``, CR and LF."""
    value = escape_unprintable(value, keep="\r\n")
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a command property value: as a message, plus ``:`` and ``,``."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
