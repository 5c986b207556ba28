"""Findings and schemas shared by the report format tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from keyscan.findings import Finding, Summary, Verification, fingerprint, redact
from tests.keygen import KeyGen

# The schemas are published documents kept outside the repository: in the
# folders KEYSCAN_SCHEMA_DIR lists (separated like PATH), or in a
# shared/schemas folder beside the clone.
SCHEMA_DIRS = [
    *(Path(f) for f in os.environ.get("KEYSCAN_SCHEMA_DIR", "").split(os.pathsep) if f),
    Path(__file__).resolve().parents[1].parent / "shared" / "schemas",
]


def find_schema(name: str) -> Any | None:
    """Return the JSON schema ``name`` from SCHEMA_DIRS, or None when absent."""
    for folder in SCHEMA_DIRS:
        path = folder / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def load_schema(name: str) -> Any:
    """Return the JSON schema ``name`` from SCHEMA_DIRS, or skip the test."""
    schema = find_schema(name)
    if schema is None:
        searched = ", ".join(str(folder) for folder in SCHEMA_DIRS)
        pytest.skip(f"schema {name} not found in {searched}; set KEYSCAN_SCHEMA_DIR")
    return schema


def make_finding(secret: str, **fields: Any) -> Finding:
    """Return a finding of ``secret`` with test defaults for the other fields."""
    values: dict[str, Any] = {
        "rule_id": "modelstream-api-key",
        "description": "ModelStream gateway key",
        "path": "config/app.py",
        "line": 3,
        "column": 11,
        "issuer": "ModelStream",
    }
    values.update(fields)
    return Finding(
        secret_redacted=redact(secret),
        fingerprint=fingerprint(values["rule_id"], secret),
        secret=secret,
        **values,
    )


def sample_findings(keys: KeyGen) -> list[Finding]:
    """Return a file finding, a history finding and a commit-message finding."""
    history = {
        "commit": "a" * 40,
        "author_name": "Test Author",
        "author_email": "author@example.invalid",
        "date": "2024-03-01T10:00:00+00:00",
    }
    live = Verification(status="live", reason="the token API accepted the key")
    return [
        make_finding(keys.gateway()),
        make_finding(
            keys.github(),
            rule_id="github-pat",
            description="GitHub personal access token",
            path="src/deploy, old:v1.sh",
            line=7,
            column=1,
            issuer="GitHub",
            verification=live,
            **history,
        ),
        make_finding(keys.gateway(), path=None, line=1, column=5, **history),
    ]


def sample_summary() -> Summary:
    """Return a summary with a skipped file and a note."""
    summary = Summary()
    summary.files_scanned = 3
    summary.bytes_scanned = 1200
    summary.duration_s = 1.5
    summary.skip("big.bin", "too large (30 MiB)")
    summary.notes.append("scanned 1 binary file for exact key formats only")
    return summary
