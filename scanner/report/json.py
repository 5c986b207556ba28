"""The JSON report: one object with ``findings`` and ``summary``.

Field names are a contract documented in the README: later versions add
fields, never rename them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from keyscan.findings import Finding, Summary


def render(
    findings: Sequence[Finding],
    summary: Summary,
    *,
    show_secrets: bool = False,
    **_: Any,
) -> str:
    """Return the JSON document; raw secrets appear only with ``show_secrets``."""
    items = []
    for finding in findings:
        item = finding.to_dict()
        if show_secrets:
            item["secret"] = finding.secret
        items.append(item)
    document = {"findings": items, "summary": summary.to_dict()}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
