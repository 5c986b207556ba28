"""Verification settings: gateways, base URL overrides, limits and timeouts.

A key is only ever sent to a configured gateway or to the fixed host of a
declared verifier, never to a host found in scanned content. Every base URL
must use HTTPS, except on loopback addresses, which tests use.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any, Protocol

from keyscan.errors import ConfigError

MODELSTREAM = "modelstream"
MODELSTREAM_BASE_URL = "https://api.modelstream.ai"
GATEWAY_FAMILIES = ("newapi", "oneapi", "openai")
_VERIFY_KEYS = frozenset(
    {
        "concurrency",
        "timeout_s",
        "max_retries",
        "backoff_s",
        "retry_after_max_s",
        "usage_budget",
        "base_urls",
    }
)
_GATEWAY_KEYS = frozenset({"base_url", "family", "management_url"})


class ConfigLike(Protocol):
    """The part of keyscan's Config that verification reads."""

    def section(self, name: str) -> Mapping[str, Any]:
        """Return one top-level section of the configuration, or {}."""
        ...


@dataclasses.dataclass(frozen=True)
class Gateway:
    """A new-api/one-api style gateway that may have issued ``sk-`` keys.

    ``family`` is ``newapi`` (has ``/api/usage/token/``), ``oneapi`` (does
    not) or ``openai`` (only ``/v1/models``). ``management_url`` is where the
    ``/api/token`` routes live when a deployment serves them on another host
    (a console host); by default it is ``base_url``.
    """

    name: str
    base_url: str
    family: str = "newapi"
    management_url: str | None = None

    @property
    def management_base(self) -> str:
        """Return the base URL of the management routes."""
        return self.management_url or self.base_url


@dataclasses.dataclass(frozen=True)
class VerifySettings:
    """Everything a verification run needs besides the findings."""

    gateways: tuple[Gateway, ...] = ()
    base_urls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    concurrency: int = 4
    timeout_s: float = 10.0
    max_retries: int = 2
    backoff_s: float = 0.5
    retry_after_max_s: float = 30.0
    usage_budget: int = 15

    def gateway(self, name: str) -> Gateway:
        """Return the gateway called ``name``; raise ConfigError if none is."""
        for gateway in self.gateways:
            if gateway.name == name:
                return gateway
        known = ", ".join(g.name for g in self.gateways) or "none"
        raise ConfigError(
            f"unknown gateway {name!r} (configured: {known})",
            "add it as [gateways.NAME] with base_url and family",
        )


def is_loopback_host(host: str) -> bool:
    """Return True for localhost and for 127.0.0.0/8 and ::1 addresses."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, where: str) -> str:
    """Return ``url`` normalised (no trailing ``/`` or ``/v1``) once it is safe.

    Raises ConfigError naming the URL when it is not ``https://``, unless it
    points at a loopback address, and when it carries credentials or a query.
    """
    parts = urllib.parse.urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"invalid base URL {url!r} in {where}", "use https://HOST")
    if parts.scheme != "https" and not is_loopback_host(host):
        raise ConfigError(
            f"base URL {url!r} in {where} does not use HTTPS",
            "keys are sent only over HTTPS (plain HTTP only to loopback addresses)",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"base URL {url!r} in {where} must be scheme, host and path")
    path = parts.path.rstrip("/").removesuffix("/v1")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def load_settings(
    config: ConfigLike | None = None, env: Mapping[str, str] | None = None
) -> VerifySettings:
    """Build the settings from the config file sections and the environment.

    Sections: ``[gateways.NAME]`` (base_url, family), ``[verify]`` (limits)
    and ``[verify.base_urls]`` (family = URL, overriding a declared verifier's
    host). ``MODELSTREAM_BASE_URL`` overrides the ModelStream gateway and
    ``KEYSCAN_VERIFY_<FAMILY>_BASE_URL`` a declared verifier's host, with
    the dashes of the family name written as underscores.
    """
    environ = os.environ if env is None else env
    gateways_section = config.section("gateways") if config else {}
    verify_section = config.section("verify") if config else {}
    _reject_unknown(verify_section, _VERIFY_KEYS, "[verify]")
    return VerifySettings(
        gateways=_gateways(gateways_section, environ),
        base_urls=_base_urls(verify_section.get("base_urls", {}), environ),
        concurrency=_number(verify_section, "concurrency", 4, int, 1, 64),
        timeout_s=_number(verify_section, "timeout_s", 10.0, float, 0.01, 300),
        max_retries=_number(verify_section, "max_retries", 2, int, 0, 10),
        backoff_s=_number(verify_section, "backoff_s", 0.5, float, 0, 60),
        retry_after_max_s=_number(
            verify_section, "retry_after_max_s", 30.0, float, 0, 600
        ),
        usage_budget=_number(verify_section, "usage_budget", 15, int, 0, 20),
    )


def _gateways(
    section: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[Gateway, ...]:
    entries: dict[str, Mapping[str, Any]] = {MODELSTREAM: {}}
    entries.update(section)
    gateways = []
    for name, entry in entries.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"[gateways.{name}] must be a table")
        gateways.append(_gateway(name, entry, env))
    return tuple(gateways)


def _reject_unknown(
    section: Mapping[str, Any], known: frozenset[str], where: str
) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {where}",
            f"use one of {', '.join(sorted(known))}",
        )


def _gateway(name: str, entry: Mapping[str, Any], env: Mapping[str, str]) -> Gateway:
    _reject_unknown(entry, _GATEWAY_KEYS, f"[gateways.{name}]")
    url = str(
        entry.get("base_url", MODELSTREAM_BASE_URL if name == MODELSTREAM else "")
    )
    where = f"[gateways.{name}]"
    if name == MODELSTREAM and env.get("MODELSTREAM_BASE_URL"):
        url, where = env["MODELSTREAM_BASE_URL"], "MODELSTREAM_BASE_URL"
    family = str(entry.get("family", "newapi"))
    if family not in GATEWAY_FAMILIES:
        choices = ", ".join(GATEWAY_FAMILIES)
        raise ConfigError(
            f"unknown family {family!r} in {where}", f"use one of {choices}"
        )
    management = entry.get("management_url")
    if name == MODELSTREAM and env.get("MODELSTREAM_MANAGEMENT_URL"):
        management = env["MODELSTREAM_MANAGEMENT_URL"]
    if management is not None:
        management = check_base_url(str(management), f"{where} management_url")
    return Gateway(name, check_base_url(url, where), family, management)


def _base_urls(section: Any, env: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(section, Mapping):
        raise ConfigError("[verify.base_urls] must be a table of family = URL")
    urls = {
        str(family): check_base_url(str(url), f"[verify.base_urls] {family}")
        for family, url in section.items()
    }
    for name, value in env.items():
        if name.startswith("KEYSCAN_VERIFY_") and name.endswith("_BASE_URL") and value:
            family = name[len("KEYSCAN_VERIFY_") : -len("_BASE_URL")].lower()
            family = family.replace("_", "-")
            urls[family] = check_base_url(value, name)
    return urls


def _number(
    section: Mapping[str, Any],
    key: str,
    default: float,
    kind: type[int] | type[float],
    low: float,
    high: float,
) -> Any:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"[verify] {key} must be a number, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"[verify] {key} = {value} is out of range [{low}, {high}]")
    return kind(value)
