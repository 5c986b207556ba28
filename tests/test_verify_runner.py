"""The verification runner: one check per distinct key, bounded concurrency."""

from __future__ import annotations

import random
import time

import pytest

from keyscan.findings import Verification
from keyscan.verify.cache import VerificationCache
from keyscan.verify.runner import verify_findings
from keyscan.verify.settings import Gateway
from tests.tokenapi_server import DISABLED, Fault, ServerState, TokenApiServer, make_key
from tests.verify_support import finding_for, settings_for


def test_runner_checks_each_key_once(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user) for _ in range(3)]
    findings = [finding_for(k, line=n) for n, k in enumerate(keys * 4, start=1)]
    cache = VerificationCache()
    results = verify_findings(findings, settings_for(fake_gateway), cache=cache)
    assert [r.line for r in results] == list(range(1, 13))
    assert all(r.verification and r.verification.status == "live" for r in results)
    assert cache.checks == 3
    assert sorted(state.per_credential("models").values()) == [1, 1, 1]


def test_runner_suffix_variants_share_one_check(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    findings = [finding_for(key), finding_for(key + "-2"), finding_for(key + "-9")]
    results = verify_findings(findings, settings_for(fake_gateway))
    assert {r.verification.status for r in results if r.verification} == {"live"}
    assert len(state.calls("models")) == 1


def test_runner_keeps_unverifiable_findings(fake_gateway: TokenApiServer) -> None:
    aws = finding_for("AKIA" + "Q" * 16, rule_id="aws-access-key")
    no_secret = finding_for("sk-" + "a" * 48)._replace(secret="")
    results = verify_findings([aws, no_secret], settings_for(fake_gateway))
    assert results == [aws, no_secret]
    assert fake_gateway.state.requests == []


def test_runner_unknown_rule_verifier_is_unknown(fake_gateway: TokenApiServer) -> None:
    finding = finding_for("tok_" + "x" * 30, rule_id="custom-token")
    [result] = verify_findings(
        [finding],
        settings_for(fake_gateway),
        rule_verifiers={"custom-token": "nowhere"},
    )
    assert result.verification is not None
    assert result.verification.status == "unknown"
    assert "nowhere" in result.verification.reason


def test_runner_rule_verifier_names_gateway(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    finding = finding_for(key, rule_id="modelstream-key")
    [result] = verify_findings(
        [finding],
        settings_for(fake_gateway),
        rule_verifiers={"modelstream-key": "modelstream"},
    )
    assert result.verification is not None
    assert result.verification.verifier == "gateway:modelstream"


def test_runner_exception_becomes_unknown(
    fake_gateway: TokenApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())

    def broken(self: object, secret: str) -> Verification:
        raise RuntimeError(f"boom while checking {secret}")

    monkeypatch.setattr("keyscan.verify.newapi.NewApiVerifier.check", broken)
    [result] = verify_findings([finding_for(key)], settings_for(fake_gateway))
    assert result.verification is not None
    assert result.verification.status == "unknown"
    assert "RuntimeError" in result.verification.reason
    assert key not in result.verification.reason


def test_runner_second_gateway_finds_live_key(fake_gateway: TokenApiServer) -> None:
    other = TokenApiServer(ServerState()).start()
    try:
        key = other.state.add_token(other.state.add_user())
        gateways = (
            Gateway("modelstream", fake_gateway.base_url),
            Gateway("corp", other.base_url, "oneapi"),
        )
        [result] = verify_findings(
            [finding_for(key)], settings_for(fake_gateway, gateways=gateways)
        )
    finally:
        other.stop()
    assert result.verification is not None
    assert result.verification.status == "live"
    assert result.verification.verifier == "gateway:corp"


def test_runner_dead_only_when_all_gateways_dead(fake_gateway: TokenApiServer) -> None:
    other = TokenApiServer(ServerState()).start()
    other.state.inject("models", Fault("status", 502, times=None))
    try:
        key = make_key(random.Random(3))
        gateways = (
            Gateway("modelstream", fake_gateway.base_url),
            Gateway("corp", other.base_url),
        )
        [result] = verify_findings(
            [finding_for(key)], settings_for(fake_gateway, gateways=gateways)
        )
    finally:
        other.stop()
    assert result.verification is not None
    assert result.verification.status == "unknown"
    assert "HTTP 401" in result.verification.reason
    assert "HTTP 502" in result.verification.reason


def test_runner_log_lines_never_hold_key(
    fake_gateway: TokenApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user), state.add_token(user, status=DISABLED)]
    caplog.set_level("INFO", logger="keyscan")
    verify_findings([finding_for(k) for k in keys], settings_for(fake_gateway))
    calls = [r for r in caplog.records if "/v1/models" in r.getMessage()]
    assert len(calls) == 2
    for record in caplog.records:
        for key in keys:
            assert key[3:] not in record.getMessage()


def test_runner_load_many_findings(fake_gateway: TokenApiServer) -> None:
    """About 3000 findings with 1500 distinct keys, some rejected with 429 first."""
    state = fake_gateway.state
    state.latency = 0.003  # long enough for concurrent requests to overlap
    user = state.add_user()
    keys = [state.add_token(user) for _ in range(1500)]
    state.inject(
        "models", Fault("status", 429, {"Retry-After": "0"}, times=100, every=15)
    )
    rng = random.Random(11)
    order = keys * 2
    rng.shuffle(order)
    findings = [finding_for(k, line=n) for n, k in enumerate(order, start=1)]
    cache = VerificationCache()
    settings = settings_for(fake_gateway, concurrency=4, usage_budget=15)
    started = time.monotonic()
    results = verify_findings(findings, settings, cache=cache)
    elapsed = time.monotonic() - started
    assert [r.line for r in results] == list(range(1, 3001))
    statuses = {r.verification for r in results if r.verification}
    assert {v.status for v in statuses} == {"live"}, statuses
    assert cache.checks == 1500
    per_key = state.per_credential("models")
    assert len(per_key) == 1500
    assert sum(per_key.values()) == 1500 + 100
    assert state.max_in_flight == 4
    assert len(state.calls("usage")) == 15
    assert state.calls("billable") == []
    print(f"load: {len(findings)} findings, {elapsed:.2f} s, max {state.max_in_flight}")


def test_runner_ignores_hosts_in_scanned_content(
    fake_gateway: TokenApiServer, network_guard: list[str]
) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    finding = finding_for(key)._replace(context_hosts=("gateway.attacker.example",))
    [result] = verify_findings([finding], settings_for(fake_gateway))
    assert result.verification is not None
    assert result.verification.checked_url == fake_gateway.base_url + "/v1/models"
    assert network_guard == []
