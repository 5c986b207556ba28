"""The new-api/one-api token client used for ModelStream-style gateways.

The check is ``GET {base}/v1/models``, which costs no quota. On new-api the
details (quota left, unlimited, expiry) come from ``GET /api/usage/token/``,
which has a small per-IP budget: 20 requests per 20 minutes in upstream
new-api, shared with login. So each run spends at most a configured number
of calls on it. No billable route is ever called.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from keyscan.findings import Verification
from keyscan.verify.base import (
    DEAD,
    UNKNOWN,
    classify_models_response,
    clean_message,
    error_message,
    unknown_from_error,
)
from keyscan.verify.settings import Gateway
from keyscan.verify.transport import HttpClient, HttpResponse, TransportError

MODELS_PATH = "/v1/models"
# The route is registered with a trailing slash; without it Gin redirects with 301.
USAGE_PATH = "/api/usage/token/"
# At least 16 characters before the suffix, so "ms-123" keeps its digits.
_SUFFIX = re.compile(r"(.{16,}?)-\d+")


def bare_key(secret: str) -> str:
    """Return the stored form of a gateway key: no ``sk-``, no ``-<channel>``.

    The auth middleware reads a ``-<digits>`` suffix as a channel id and
    rejects it with 403 for non-admin owners, so the suffix is removed
    before any check.
    """
    body = secret.strip().removeprefix("sk-")
    match = _SUFFIX.fullmatch(body)
    return match.group(1) if match else body


def gateway_key(secret: str) -> str:
    """Return the key as it is sent: ``sk-`` kept or added, suffix removed.

    Keys with another prefix (ModelStream's ``ms-`` form) are sent with
    that prefix, since only ``sk-`` is known to be optional.
    """
    value = secret.strip()
    other_prefix = bool(re.match(r"[a-z]{2,4}-", value)) and not value.startswith("sk-")
    return bare_key(value) if other_prefix else "sk-" + bare_key(value)


class UsageBudget:
    """A thread-safe count of the usage-endpoint calls left in this run."""

    def __init__(self, limit: int) -> None:
        self._left = limit
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Use one call; return False when none is left."""
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def exhaust(self) -> None:
        """Stop all further calls, after a 429 or a missing route."""
        with self._lock:
            self._left = 0


class NewApiVerifier:
    """Check keys against one new-api or one-api gateway."""

    def __init__(
        self,
        gateway: Gateway,
        client: HttpClient,
        *,
        usage_budget: int = 15,
        now: Any = time.time,
    ) -> None:
        self.gateway = gateway
        self.name = f"gateway:{gateway.name}"
        self._client = client
        self._budget = UsageBudget(usage_budget if gateway.family == "newapi" else 0)
        self._now = now

    def check(self, secret: str) -> Verification:
        """Return the status of ``secret`` on this gateway, with usage details."""
        key = gateway_key(secret)
        verification = self.check_models(key)
        if verification.status == UNKNOWN or not self._budget.take():
            return verification
        return self._with_usage(verification, key)

    def check_models(self, secret: str) -> Verification:
        """Return the status from ``GET /v1/models`` alone."""
        key = gateway_key(secret)
        url = self.gateway.base_url + MODELS_PATH
        try:
            response = self._client.request("GET", url, headers=_bearer(key))
        except TransportError as error:
            return unknown_from_error(error, self.name, url)
        return classify_models_response(response, key, self.name, url)

    def _with_usage(self, verification: Verification, key: str) -> Verification:
        url = self.gateway.base_url + USAGE_PATH
        try:
            response = self._client.request(
                "GET", url, headers=_bearer(key), retry=False
            )
        except TransportError:
            return verification
        if response.status in (404, 429):
            # 404 "Invalid URL": the route does not exist on this version.
            # 429: the shared critical budget is spent; stop using it.
            self._budget.exhaust()
            return verification
        return merge_usage(verification, response, key, self._now())


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": "application/json"}


def merge_usage(
    verification: Verification, response: HttpResponse, key: str, now: float
) -> Verification:
    """Return ``verification`` completed with a ``/api/usage/token/`` response.

    The endpoint returns 200 even for expired and exhausted keys, so such a
    key is dead whatever ``/v1/models`` returned. A 401 only refines the reason
    of a key that is already dead.
    """
    body = response.json()
    if response.status == 401 and verification.status == DEAD:
        message = clean_message(error_message(body) or "", key)
        return verification._replace(reason=f"{verification.reason}; {message}")
    data = (
        body.get("data")
        if isinstance(body, dict) and body.get("code") is True
        else None
    )
    if response.status != 200 or not isinstance(data, dict):
        return verification
    details = _usage_details(data)
    merged = verification._replace(**details)
    dead_reason = _usage_dead_reason(data, details, now)
    if dead_reason is not None:
        return merged._replace(status=DEAD, reason=dead_reason)
    return merged


def _usage_details(data: dict[str, Any]) -> dict[str, Any]:
    available = _number(data.get("total_available"))
    expires = _number(data.get("expires_at"))
    return {
        "quota_remaining": available,
        "unlimited_quota": bool(data.get("unlimited_quota", False)),
        "expires_at": int(expires) if expires is not None and expires > 0 else None,
    }


def _usage_dead_reason(
    data: dict[str, Any], details: dict[str, Any], now: float
) -> str | None:
    expires = details["expires_at"]
    if expires is not None and expires < now:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        return f"expired at {stamp} (usage endpoint)"
    remaining = details["quota_remaining"]
    if not details["unlimited_quota"] and remaining is not None and remaining <= 0:
        return "quota exhausted (usage endpoint)"
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
