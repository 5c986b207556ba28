"""The SARIF 2.1.0 report, as GitHub code scanning and other viewers read it.

The log follows the OASIS SARIF 2.1.0 schema. Each result carries the content
fingerprint in ``partialFingerprints``, so a viewer tracks one leaked key
across commits, moved lines and renames. Messages show the redacted secret
only; the raw value is never written, even with ``--show-secrets``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from keyscan import __version__
from keyscan.findings import Finding, Summary

SCHEMA_URI = (
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/"
    "sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "keyscanFingerprint/v1"
_HELP = (
    "Revoke or rotate the key at its issuer first: removing it from the code or "
    "rewriting history does not make a leaked key safe. Then load it from the "
    "environment or a secret store. For a false alarm, put 'keyscan:allow' in a "
    "comment on the line or add the fingerprint to allow_fingerprints in "
    ".keyscan.toml."
)
# A key the token API reported as dead no longer grants access, so it is
# reported below the level of a usable one.
_LEVELS = {"dead": "warning"}


def render(
    findings: Sequence[Finding],
    summary: Summary,
    *,
    rules: Iterable[Any] = (),
    exit_code: int | None = None,
    **_: Any,
) -> str:
    """Return the SARIF log of ``findings`` as JSON text.

    ``rules`` are the rules in effect (objects with ``id``, ``description``
    and ``issuer``), listed in the driver even when nothing matched them.
    ``exit_code`` is the process exit code recorded in the invocation.
    """
    descriptors = _rule_descriptors(rules, findings)
    index = {descriptor["id"]: i for i, descriptor in enumerate(descriptors)}
    run: dict[str, Any] = {
        "tool": {"driver": _driver(descriptors)},
        "invocations": [_invocation(summary, exit_code)],
        "results": [_result(finding, index[finding.rule_id]) for finding in findings],
        # Columns count characters of the decoded text, not UTF-16 code units.
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {
            "%SRCROOT%": {"description": {"text": "The scanned repository or folder."}}
        },
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _driver(descriptors: list[dict[str, Any]]) -> dict[str, Any]:
    driver: dict[str, Any] = {
        "name": "keyscan",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": descriptors,
    }
    uri = information_uri()
    if uri:
        driver["informationUri"] = uri
    return driver


def information_uri() -> str | None:
    """Return the project's home page from the installed package metadata, if any."""
    from importlib import metadata

    try:
        meta = metadata.metadata("keyscan")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "repository"):
            return url.strip()
    return None


def _rule_descriptors(
    rules: Iterable[Any], findings: Sequence[Finding]
) -> list[dict[str, Any]]:
    """Return one reportingDescriptor per rule in effect, plus any rule that
    only the findings name (a rule removed from the config since, for example)."""
    descriptors: dict[str, dict[str, Any]] = {}
    for rule in rules:
        descriptors[rule.id] = _descriptor(rule.id, rule.description, rule.issuer)
    for finding in findings:
        if finding.rule_id not in descriptors:
            descriptors[finding.rule_id] = _descriptor(
                finding.rule_id, finding.description, finding.issuer
            )
    return list(descriptors.values())


def _descriptor(rule_id: str, description: str, issuer: str | None) -> dict[str, Any]:
    full = (
        f"{description}." if issuer is None else f"{description}, issued by {issuer}."
    )
    tags = ["security", "secret"]
    if issuer:
        tags.append(f"issuer:{issuer}")
    return {
        "id": rule_id,
        "name": _pascal_case(rule_id),
        "shortDescription": {"text": description},
        "fullDescription": {"text": full},
        "help": {"text": _HELP, "markdown": _HELP},
        "defaultConfiguration": {"level": "error"},
        # GitHub code scanning reads this score (0.0 to 10.0) to give each
        # alert a security severity of low, medium, high or critical.
        "properties": {"tags": tags, "security-severity": "8.0"},
    }


def _pascal_case(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.replace("_", "-").split("-"))


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    status = finding.verification.status if finding.verification else None
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVELS.get(status or "", "error"),
        "message": {"text": message_text(finding)},
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    properties = _properties(finding)
    if properties:
        result["properties"] = properties
    return result


def message_text(finding: Finding) -> str:
    """Return the one-line message of a finding: what, which secret, whose key."""
    text = f"{finding.description}: {finding.secret_redacted}"
    if finding.issuer:
        text += f" (issuer {finding.issuer})"
    if finding.verification is not None:
        text += f"; key is {finding.verification.status}"
    return text


def _location(finding: Finding) -> dict[str, Any]:
    if finding.path is None:
        # NOTE: a commit or tag message has no file, so its location is
        # logical only. SARIF allows this, but GitHub code scanning rejects a
        # whole upload when one result lacks a physical location, with the
        # error "locationFromSarifResult: expected at least one location".
        target = finding.ref or finding.commit or "unknown"
        return {
            "logicalLocations": [
                {"name": target, "fullyQualifiedName": target, "kind": "commitMessage"}
            ]
        }
    region: dict[str, Any] = {
        "startLine": finding.line,
        "startColumn": finding.column,
    }
    end = end_column(finding)
    if end is not None:
        region["endColumn"] = end
    return {
        "physicalLocation": {
            "artifactLocation": {
                "uri": relative_uri(finding.path),
                "uriBaseId": "%SRCROOT%",
            },
            "region": region,
        }
    }


def end_column(finding: Finding) -> int | None:
    """Return the column just past the secret, or None when it is unknown.

    The raw secret is used for its length only. A secret spread over several
    lines, such as a private key, has no end column on its first line.
    """
    if not finding.secret or "\n" in finding.secret or "\r" in finding.secret:
        return None
    return finding.column + len(finding.secret)


def relative_uri(path: str) -> str:
    """Return ``path``, whose separators are slashes, as a relative URI reference.

    A backslash is part of a name (or of an escape such as ``caf\\xe9.txt``)
    and is percent-encoded like any other reserved character.
    """
    from urllib.parse import quote

    posix = path
    while posix.startswith("./"):
        posix = posix[2:]
    return quote(posix.lstrip("/"), safe="/")


def _properties(finding: Finding) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in ("commit", "date", "ref", "issuer"):
        value = getattr(finding, name)
        if value:
            properties[name] = value
    if finding.author_name or finding.author_email:
        properties["author"] = (
            f"{finding.author_name or ''} <{finding.author_email or ''}>"
        )
    if finding.occurrences:
        properties["occurrences"] = finding.occurrences
    if finding.verification is not None:
        properties["verification"] = {
            "status": finding.verification.status,
            "reason": finding.verification.reason,
        }
    return properties


def _invocation(summary: Summary, exit_code: int | None) -> dict[str, Any]:
    invocation: dict[str, Any] = {
        # The scan itself completed; findings are results, not a failure.
        "executionSuccessful": exit_code is None or exit_code in (0, 1),
        "properties": {
            "filesScanned": summary.files_scanned,
            "bytesScanned": summary.bytes_scanned,
            "skipped": len(summary.skipped),
        },
    }
    if exit_code is not None:
        invocation["exitCode"] = exit_code
    notifications = [
        {"level": "warning", "message": {"text": f"{item.path}: {item.reason}"}}
        for item in summary.skipped
    ]
    notifications += [{"level": "note", "message": {"text": n}} for n in summary.notes]
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation
