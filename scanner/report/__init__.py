"""Reporters: one module per output format. Reporters only format."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from keyscan.findings import Finding, Summary

# Format name to module; each module has render(findings, summary, **context).
FORMATS = {
    "text": "keyscan.report.text",
    "json": "keyscan.report.json",
    "sarif": "keyscan.report.sarif",
    "gitlab": "keyscan.report.gitlab",
    "github": "keyscan.report.github",
}


def render(
    name: str, findings: Sequence[Finding], summary: Summary, **context: Any
) -> str:
    """Return the report of ``findings`` in format ``name``.

    ``context`` carries what a format may use: ``show_secrets`` (include raw
    secrets, only when the user asked), ``color``, ``command``, ``rules`` (the
    rules in effect), ``exit_code`` and ``head_commit`` (the checked-out commit).
    """
    module = importlib.import_module(FORMATS[name])
    result: str = module.render(findings, summary, **context)
    return result
