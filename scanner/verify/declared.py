"""Declared verifiers: HTTP checks for other issuers, described as data.

Each check is a table in ``rules/verifiers.toml``: where to send the key,
in which header, and which responses mean live, restricted or dead. Adding an
issuer means adding a table, not a class.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.resources
import sys
from collections.abc import Mapping
from typing import Any

from keyscan.errors import RuleError
from keyscan.findings import Verification
from keyscan.verify.base import (
    DEAD,
    LIVE,
    RESTRICTED,
    UNKNOWN,
    clean_message,
    error_message,
    unknown_from_error,
    unknown_reason,
)
from keyscan.verify.settings import check_base_url
from keyscan.verify.transport import HttpClient, HttpResponse, TransportError

_TYPES: dict[str, type | tuple[type, ...]] = {
    "array": list,
    "object": dict,
    "string": str,
    "number": (int, float),
}


@dataclasses.dataclass(frozen=True)
class Condition:
    """One test on a JSON body: the value at ``path`` equals or has a type."""

    path: str
    equals: Any = None
    type: str | None = None

    def holds(self, body: Any) -> bool:
        """Return True when ``body`` meets this condition."""
        found, value = json_path(body, self.path)
        if not found:
            return False
        if self.type is not None:
            return isinstance(value, _TYPES[self.type]) and not isinstance(value, bool)
        return bool(value == self.equals)


@dataclasses.dataclass(frozen=True)
class DeclaredSpec:
    """One declared check, as read from ``verifiers.toml``."""

    family: str
    description: str
    base_url: str
    path: str
    headers: Mapping[str, str]
    success_status: tuple[int, ...] = (200,)
    success_json: tuple[Condition, ...] = ()
    dead_status: tuple[int, ...] = (401,)
    restricted_status: tuple[int, ...] = ()
    restricted_json: tuple[Condition, ...] = ()
    quota_remaining: str | None = None
    unlimited_if_null: str | None = None
    expires_at: str | None = None
    variant_of: str | None = None
    secret_prefix: str | None = None

    def replaces(self, family: str, secret: str) -> bool:
        """Return True when this check takes over ``family`` for ``secret``."""
        prefix = self.secret_prefix
        if not prefix or self.variant_of != family:
            return False
        return secret.startswith(prefix)


def json_path(body: Any, path: str) -> tuple[bool, Any]:
    """Return (found, value) for a dotted path such as ``error.code``."""
    value = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def load_declared(text: str | None = None) -> dict[str, DeclaredSpec]:
    """Parse the declared verifiers (the packaged ``verifiers.toml`` by default)."""
    if text is None:
        resource = importlib.resources.files("keyscan.rules").joinpath("verifiers.toml")
        text = resource.read_text(encoding="utf-8")
    data = _parse_toml(text).get("verifiers", {})
    return {family: _spec(family, table) for family, table in data.items()}


def _parse_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleError(f"invalid verifiers.toml: {error}") from error


def _spec(family: str, table: Mapping[str, Any]) -> DeclaredSpec:
    try:
        return DeclaredSpec(
            family=family,
            description=str(table["description"]),
            base_url=check_base_url(str(table["base_url"]), f"verifier {family}"),
            path=str(table["path"]),
            headers={str(k): str(v) for k, v in table["headers"].items()},
            success_status=tuple(table.get("success_status", (200,))),
            success_json=_conditions(table.get("success_json", ())),
            dead_status=tuple(table.get("dead_status", (401,))),
            restricted_status=tuple(table.get("restricted_status", ())),
            restricted_json=_conditions(table.get("restricted_json", ())),
            quota_remaining=table.get("quota_remaining"),
            unlimited_if_null=table.get("unlimited_if_null"),
            expires_at=table.get("expires_at"),
            variant_of=table.get("variant_of"),
            secret_prefix=table.get("secret_prefix"),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise RuleError(f"invalid declared verifier {family!r}: {error!r}") from error


def _conditions(items: Any) -> tuple[Condition, ...]:
    conditions = tuple(Condition(**item) for item in items)
    for condition in conditions:
        if condition.type is not None and condition.type not in _TYPES:
            raise TypeError(f"unknown JSON type {condition.type!r}")
    return conditions


class DeclaredVerifier:
    """Run one declared check; ``base_url`` overrides the declared host."""

    def __init__(
        self, spec: DeclaredSpec, client: HttpClient, base_url: str | None = None
    ) -> None:
        self.spec = spec
        self.name = spec.family
        self.url = (base_url or spec.base_url) + spec.path
        self._client = client

    def check(self, secret: str) -> Verification:
        """Return the status of ``secret`` according to the declared responses."""
        headers = {
            k: v.replace("{secret}", secret) for k, v in self.spec.headers.items()
        }
        headers.setdefault("Accept", "application/json")
        try:
            response = self._client.request("GET", self.url, headers=headers)
        except TransportError as error:
            return unknown_from_error(error, self.name, self.url)
        return self.classify(response, secret)

    def classify(self, response: HttpResponse, secret: str) -> Verification:
        """Return the status that ``response`` means for this issuer."""
        spec, body, status = self.spec, response.json(), response.status
        message = clean_message(error_message(body) or "", secret)
        if status in spec.success_status and _all_hold(spec.success_json, body):
            details = self._details(body)
            return Verification(
                LIVE, f"HTTP {status}", self.name, checked_url=self.url, **details
            )
        if status in spec.dead_status and isinstance(body, dict):
            return self._result(DEAD, f"HTTP {status}: {message}")
        restricted = status in spec.restricted_status
        if restricted and _all_hold(spec.restricted_json, body):
            return self._result(RESTRICTED, f"HTTP {status}: {message}")
        return self._result(UNKNOWN, unknown_reason(response, body, message))

    def _result(self, status: str, reason: str) -> Verification:
        return Verification(status, reason, self.name, checked_url=self.url)

    def _details(self, body: Any) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.spec.quota_remaining:
            found, value = json_path(body, self.spec.quota_remaining)
            if (
                found
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                details["quota_remaining"] = float(value)
        if self.spec.unlimited_if_null:
            found, value = json_path(body, self.spec.unlimited_if_null)
            details["unlimited_quota"] = found and value is None
        if self.spec.expires_at:
            details["expires_at"] = _timestamp(json_path(body, self.spec.expires_at)[1])
        return details


def _all_hold(conditions: tuple[Condition, ...], body: Any) -> bool:
    return isinstance(body, dict) and all(c.holds(body) for c in conditions)


def _timestamp(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return int(parsed.timestamp())
    return None
