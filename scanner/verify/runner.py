"""Verify a batch of findings: pick a verifier, check each key once, in parallel.

The result has exactly one finding per input finding, in the same order,
with ``verification`` filled wherever a verifier applies. A failure inside
a check becomes an ``unknown`` verification with the reason; no finding is
ever dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from keyscan.findings import Finding, Verification, redact
from keyscan.verify.base import DEAD, LIVE, RESTRICTED, UNKNOWN, Verifier
from keyscan.verify.cache import VerificationCache, cache_key
from keyscan.verify.declared import DeclaredSpec, DeclaredVerifier, load_declared
from keyscan.verify.newapi import NewApiVerifier, gateway_key
from keyscan.verify.settings import ConfigLike, VerifySettings, load_settings
from keyscan.verify.transport import HttpClient, RetryPolicy

logger = logging.getLogger(__name__)

GATEWAY = "gateway"
# Rule `verifier` values that mean "any configured new-api/one-api gateway".
GATEWAY_ALIASES = frozenset({GATEWAY, "newapi", "oneapi"})

_SHAPES = (
    ("anthropic", re.compile(r"sk-ant-(?:api|admin)\d\d-[\w-]{20,}")),
    ("openrouter", re.compile(r"sk-or-v1-[0-9a-f]{64}")),
    ("openai", re.compile(r"sk-(?:proj|svcacct|admin|None)-[\w-]{20,}")),
    ("openai", re.compile(r"sk-\w*T3BlbkFJ\w*")),
    (GATEWAY, re.compile(r"sk-[0-9A-Za-z]{48}(?:-\d+)?")),
    (GATEWAY, re.compile(r"ms-[0-9A-Za-z]{32,64}")),
    ("deepseek", re.compile(r"sk-[0-9a-f]{32}")),
)


def classify_secret(secret: str) -> str | None:
    """Return the verifier family that a key's shape points to, if any.

    Legacy OpenAI keys share the gateway shape but carry ``T3BlbkFJ``, so
    the OpenAI patterns are tried first.
    """
    value = secret.strip()
    for family, pattern in _SHAPES:
        if pattern.fullmatch(value):
            return family
    return None


def _rank(verification: Verification) -> int:
    return (LIVE, RESTRICTED, UNKNOWN, DEAD).index(verification.status)


class GatewaySetVerifier:
    """Check a key against several gateways; the most alive result wins.

    The gateways are asked in order until one reports live or restricted.
    A key is dead only when every gateway reports dead, because a 401 from one
    gateway proves nothing about another.
    """

    def __init__(self, verifiers: Sequence[NewApiVerifier]) -> None:
        self.verifiers = tuple(verifiers)
        self.name = GATEWAY

    def check(self, secret: str) -> Verification:
        """Return the best result of the configured gateways."""
        results: list[Verification] = []
        for verifier in self.verifiers:
            results.append(verifier.check(secret))
            if results[-1].status in (LIVE, RESTRICTED):
                break
        best = min(results, key=_rank)
        if best.status == UNKNOWN and len(results) > 1:
            reasons = "; ".join(f"{r.verifier}: {r.reason}" for r in results)
            return Verification(UNKNOWN, reasons[:400], best.verifier, checked_url=None)
        return best


class VerifierRegistry:
    """Build, once per run, the verifier for each family a rule can name."""

    def __init__(
        self,
        settings: VerifySettings,
        client: HttpClient,
        declared: Mapping[str, DeclaredSpec] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.declared = load_declared() if declared is None else dict(declared)
        self._gateways = {
            g.name: NewApiVerifier(g, client, usage_budget=settings.usage_budget)
            for g in settings.gateways
        }
        self._built: dict[str, Verifier | None] = {}

    def family_for(self, family: str, secret: str) -> str:
        """Return the declared variant of ``family`` that handles ``secret``, if any."""
        for name, spec in self.declared.items():
            if spec.replaces(family, secret):
                return name
        return family

    def get(self, family: str) -> Verifier | None:
        """Return the verifier for ``family``, or None when nothing checks it."""
        if family not in self._built:
            self._built[family] = self._build(family)
        return self._built[family]

    def _build(self, family: str) -> Verifier | None:
        if family in GATEWAY_ALIASES:
            return GatewaySetVerifier(list(self._gateways.values()))
        if family in self._gateways:
            return self._gateways[family]
        spec = self.declared.get(family)
        if spec is None:
            return None
        urls = self.settings.base_urls
        override = urls.get(family) or urls.get(spec.variant_of or "")
        return DeclaredVerifier(spec, self.client, override)


def make_client(settings: VerifySettings) -> HttpClient:
    """Return the HTTP client that the settings describe."""
    retry = RetryPolicy(
        settings.max_retries, settings.backoff_s, settings.retry_after_max_s
    )
    return HttpClient(timeout_s=settings.timeout_s, retry=retry)


def verify_findings(
    findings: Sequence[Finding],
    config: ConfigLike | VerifySettings | None = None,
    *,
    rule_verifiers: Mapping[str, str | None] | None = None,
    client: HttpClient | None = None,
    cache: VerificationCache | None = None,
    declared: Mapping[str, DeclaredSpec] | None = None,
) -> list[Finding]:
    """Return ``findings`` with ``verification`` filled where a verifier applies.

    ``rule_verifiers`` maps a rule id to the rule's ``verifier`` field; a
    finding whose rule names none is matched by the key's shape. Findings
    without a raw secret or without any verifier keep ``verification``
    unset. Each distinct key is checked once, by at most
    ``settings.concurrency`` threads at a time.
    """
    settings = config if isinstance(config, VerifySettings) else load_settings(config)
    http = client or make_client(settings)
    registry = VerifierRegistry(settings, http, declared)
    results = cache if cache is not None else VerificationCache()
    assigned, jobs = _plan(findings, rule_verifiers or {}, registry)
    logger.info("verifying %d distinct keys of %d findings", len(jobs), len(findings))
    with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
        list(pool.map(lambda item: _run(results, *item), jobs.items()))
    return [_fill(f, a, results) for f, a in zip(findings, assigned, strict=True)]


Job = tuple[Verifier, str]
# Per finding: the family and the cache key, or None when nothing applies.
Assignment = tuple[str, str] | None


def _plan(
    findings: Sequence[Finding],
    rule_verifiers: Mapping[str, str | None],
    registry: VerifierRegistry,
) -> tuple[list[Assignment], dict[str, Job]]:
    assigned: list[Assignment] = []
    jobs: dict[str, Job] = {}
    for finding in findings:
        family = rule_verifiers.get(finding.rule_id) or classify_secret(finding.secret)
        if family is None or not finding.secret:
            assigned.append(None)
            continue
        family = registry.family_for(family, finding.secret.strip())
        verifier = registry.get(family)
        secret = _normalised(verifier, finding.secret)
        key = cache_key(family, secret)
        assigned.append((family, key))
        if verifier is not None:
            jobs[key] = (verifier, secret)
    return assigned, jobs


def _normalised(verifier: Verifier | None, secret: str) -> str:
    if isinstance(verifier, (GatewaySetVerifier, NewApiVerifier)):
        return gateway_key(secret)
    return secret.strip()


def _run(cache: VerificationCache, key: str, job: Job) -> Verification:
    verifier, secret = job
    return cache.get_or_check(key, lambda: safe_check(verifier, secret))


def safe_check(verifier: Verifier, secret: str) -> Verification:
    """Run ``verifier.check``; turn any exception into an unknown result."""
    try:
        return verifier.check(secret)
    except Exception as error:
        text = str(error).replace(secret, redact(secret))
        name = type(error).__name__
        logger.warning("check by %s failed: %s: %s", verifier.name, name, text)
        reason = f"internal error: {name}: {text}"[:200]
        return Verification(UNKNOWN, reason, verifier.name)


def _fill(
    finding: Finding, assignment: Assignment, cache: VerificationCache
) -> Finding:
    if assignment is None:
        return finding
    family, key = assignment
    result = cache.get(key)
    if result is None:
        reason = f"no verifier named {family!r} is configured"
        result = Verification(UNKNOWN, reason, family)
    return finding.replace(verification=result)
