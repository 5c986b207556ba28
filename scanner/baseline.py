"""Baseline files: findings a team accepted, so that only new ones are reported.

A baseline stores content fingerprints (a hash of the rule id and the secret)
and rule ids, sorted by fingerprint::

    {"version": 1, "fingerprints": [{"fingerprint": "…", "rule_id": "…"}]}

It contains no line numbers, paths, timestamps or secrets, so the file changes
only when the set of accepted secrets changes and two branches that accept
nothing new never conflict on it. A secret that moves to another line or file
keeps its fingerprint and stays accepted; a different secret on the same line
is new.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from keyscan.errors import BaselineError
from keyscan.findings import Finding

BASELINE_VERSION = 1
_CREATE_HINT = "create one with 'keyscan baseline create --output {path}'"


class Baseline(NamedTuple):
    """Accepted fingerprints, each with the rule id that produced it."""

    entries: Mapping[str, str]
    path: str = ""

    def accepts(self, finding: Finding) -> bool:
        """Return whether ``finding``'s fingerprint is in the baseline."""
        return finding.fingerprint in self.entries


class BaselineDiff(NamedTuple):
    """The current findings compared with a baseline: new, stale and kept entries."""

    new: dict[str, str]
    stale: dict[str, str]
    kept: dict[str, str]


def entries_of(findings: Iterable[Finding]) -> dict[str, str]:
    """Return the fingerprint to rule id map of ``findings``."""
    return {finding.fingerprint: finding.rule_id for finding in findings}


def load_baseline(path: str) -> Baseline:
    """Read and validate the baseline file at ``path``.

    Raises BaselineError naming the file and the fix when it is missing,
    unreadable or malformed, because an empty stand-in would report every
    accepted finding again, or a lenient one could hide new findings.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError as error:
        raise BaselineError(
            f"baseline file not found: {path}", _CREATE_HINT.format(path=path)
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"cannot read baseline file {path}: {error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _malformed(path, f"invalid JSON at line {error.lineno}") from error
    return Baseline(_parse(data, path), path)


def _parse(data: Any, path: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise _malformed(path, "the top level is not a JSON object")
    if data.get("version") != BASELINE_VERSION:
        raise _malformed(
            path, f"unsupported version {data.get('version')!r}, expected 1"
        )
    items = data.get("fingerprints")
    if not isinstance(items, list):
        raise _malformed(path, "'fingerprints' is missing or not a list")
    entries: dict[str, str] = {}
    for number, item in enumerate(items, start=1):
        if not _valid_entry(item):
            raise _malformed(
                path,
                f"entry {number} is not an object with string 'fingerprint' and "
                "'rule_id'",
            )
        entries[item["fingerprint"]] = item["rule_id"]
    return entries


def _valid_entry(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("fingerprint"), str)
        and bool(item["fingerprint"])
        and isinstance(item.get("rule_id"), str)
    )


def _malformed(path: str, reason: str) -> BaselineError:
    return BaselineError(
        f"malformed baseline file {path}: {reason}",
        "fix the file, or write a new one with 'keyscan baseline create "
        f"--output {path}'",
    )


def dump_baseline(entries: Mapping[str, str]) -> str:
    """Return the file text of a baseline: sorted, one entry per line group."""
    items = [
        {"fingerprint": fingerprint, "rule_id": entries[fingerprint]}
        for fingerprint in sorted(entries)
    ]
    document = {"version": BASELINE_VERSION, "fingerprints": items}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_baseline(path: str, entries: Mapping[str, str]) -> None:
    """Write ``entries`` to ``path`` through a temporary file, then rename it."""
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(dump_baseline(entries))
        os.replace(temporary, path)
    except OSError as error:
        raise BaselineError(
            f"cannot write baseline file {path}: {error.strerror or error}",
            "choose a file in a folder you can write to (-o for create, "
            "--baseline for update)",
        ) from error


def filter_findings(
    findings: Sequence[Finding], baseline: Baseline
) -> tuple[list[Finding], int]:
    """Return the findings not in ``baseline`` and how many it suppressed."""
    kept = [finding for finding in findings if not baseline.accepts(finding)]
    return kept, len(findings) - len(kept)


def compare(baseline: Baseline, findings: Iterable[Finding]) -> BaselineDiff:
    """Split the current findings and baseline entries into new, stale and kept."""
    current = entries_of(findings)
    new = {fp: rule for fp, rule in current.items() if fp not in baseline.entries}
    stale = {fp: rule for fp, rule in baseline.entries.items() if fp not in current}
    kept = {fp: rule for fp, rule in baseline.entries.items() if fp in current}
    return BaselineDiff(new=new, stale=stale, kept=kept)
