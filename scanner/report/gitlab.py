"""The GitLab secret-detection report (``gl-secret-detection-report.json``).

The document follows GitLab's secret-detection report schema, version 15.2.4
(gitlab-org/security-products/security-report-schemas,
``dist/secret-detection-report-format.json``). A CI job publishes it with
``artifacts: reports: secret_detection:`` and GitLab shows the findings in the
merge request and the vulnerability report. ``raw_source_code_extract`` is
left out on purpose, because that field contains unredacted source.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

from keyscan import __version__
from keyscan.findings import Finding, Summary

SCHEMA_VERSION = "15.2.4"
# The schema requires a commit for every finding. GitLab's own analyzer writes
# this placeholder for a scan of the checked-out files (seen in third-party
# converters, not in GitLab's documentation), so keyscan does the same when
# neither the finding nor the caller names a commit.
UNKNOWN_COMMIT = "0000000"
# Fixed namespace, so that a finding gets the same id in every report.
_ID_NAMESPACE = uuid.UUID("5b1d3c52-6f0e-4a55-9a3e-7c1f1b1f4b6e")
_SEVERITY = {"live": "Critical", "restricted": "Critical", "dead": "Low"}
_SOLUTION = (
    "Revoke or rotate the key at its issuer, then remove it from the code and load "
    "it from the environment or a secret store."
)
_ANALYZER = {
    "id": "keyscan",
    "name": "keyscan",
    "version": __version__,
    "vendor": {"name": "keyscan"},
}


def render(
    findings: Sequence[Finding],
    summary: Summary,
    *,
    head_commit: str | None = None,
    now: dt.datetime | None = None,
    **_: Any,
) -> str:
    """Return the GitLab secret-detection report of ``findings`` as JSON text.

    ``head_commit`` is the commit that was checked out for a scan of files;
    history findings carry their own commit. ``now`` fixes the end time for
    tests; the start time is ``now`` minus the scan's duration.
    """
    end = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    start = end - dt.timedelta(seconds=summary.duration_s)
    document = {
        "version": SCHEMA_VERSION,
        "scan": {
            "analyzer": _ANALYZER,
            "scanner": _ANALYZER,
            "type": "secret_detection",
            "start_time": _timestamp(start),
            "end_time": _timestamp(end),
            "status": "success",
            "messages": _messages(summary),
        },
        "vulnerabilities": [_vulnerability(f, head_commit) for f in findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _timestamp(moment: dt.datetime) -> str:
    # The schema's pattern is yyyy-mm-ddThh:mm:ss, with no zone and no fraction.
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _messages(summary: Summary) -> list[dict[str, str]]:
    messages = [
        {
            "level": "warn",
            "value": f"not scanned completely: {item.path}: {item.reason}",
        }
        for item in summary.skipped
    ]
    messages += [{"level": "info", "value": note} for note in summary.notes]
    return messages


def _vulnerability(finding: Finding, head_commit: str | None) -> dict[str, Any]:
    name = finding.description
    status = finding.verification.status if finding.verification else ""
    return {
        "id": vulnerability_id(finding),
        "category": "secret_detection",
        "name": name[:255],
        "description": _description(finding),
        "severity": _SEVERITY.get(status, "High"),
        "confidence": "High" if status in ("live", "restricted") else "Unknown",
        "solution": _SOLUTION,
        "location": _location(finding, head_commit),
        "identifiers": [
            {
                "type": "keyscan_rule_id",
                "name": f"keyscan rule {finding.rule_id}",
                "value": finding.rule_id,
            }
        ],
        "tracking": {
            "type": "source",
            "items": [
                {
                    "signatures": [
                        {
                            "algorithm": "keyscan_fingerprint_v1",
                            "value": finding.fingerprint,
                        }
                    ]
                }
            ],
        },
    }


def vulnerability_id(finding: Finding) -> str:
    """Return a UUID that is the same for the same secret at the same place."""
    where = f"{finding.fingerprint}\0{finding.path}\0{finding.line}\0{finding.commit}"
    return str(uuid.uuid5(_ID_NAMESPACE, where))


def _description(finding: Finding) -> str:
    text = f"{finding.description}: {finding.secret_redacted}"
    if finding.issuer:
        text += f" (issuer {finding.issuer})"
    if finding.verification is not None:
        text += f". The key is {finding.verification.status}: "
        text += finding.verification.reason
    if finding.path is None:
        target = finding.ref or finding.commit or "a commit"
        text += f". Found in the message of {target}"
    return f"{text}. Fingerprint {finding.fingerprint}."


def _location(finding: Finding, head_commit: str | None) -> dict[str, Any]:
    commit: dict[str, str] = {"sha": finding.commit or head_commit or UNKNOWN_COMMIT}
    if finding.author_name or finding.author_email:
        commit["author"] = f"{finding.author_name or ''} <{finding.author_email or ''}>"
    if finding.date:
        commit["date"] = finding.date
    location: dict[str, Any] = {"commit": commit}
    if finding.path is not None:
        location["file"] = finding.path
        location["start_line"] = finding.line
        location["end_line"] = finding.line + finding.secret.count("\n")
    return location
