"""Helpers shared by the verification and revocation tests."""

from __future__ import annotations

from typing import Any

from keyscan.findings import Finding, fingerprint, redact
from keyscan.verify.settings import Gateway, VerifySettings
from tests.tokenapi_server import TokenApiServer


def settings_for(server: TokenApiServer, **changes: Any) -> VerifySettings:
    """Return settings that point the ModelStream gateway at ``server``.

    Timeouts and waits are small so failure tests finish quickly.
    """
    values: dict[str, Any] = {
        "gateways": (Gateway("modelstream", server.base_url, "newapi"),),
        "timeout_s": 2.0,
        "max_retries": 2,
        "backoff_s": 0.01,
        "retry_after_max_s": 0.2,
    }
    values.update(changes)
    return VerifySettings(**values)


def finding_for(
    secret: str, rule_id: str = "gateway-api-key", line: int = 1
) -> Finding:
    """Return a finding that carries ``secret``, as the scanner would build it."""
    return Finding(
        rule_id=rule_id,
        description="Gateway API key",
        path="app/settings.py",
        line=line,
        column=1,
        secret_redacted=redact(secret),
        fingerprint=fingerprint(rule_id, secret),
        secret=secret,
    )
