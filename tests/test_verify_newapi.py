"""The new-api/one-api verifier against the fake gateway over real HTTP."""

from __future__ import annotations

import time

import pytest

from keyscan.verify.newapi import NewApiVerifier, bare_key, gateway_key
from keyscan.verify.settings import Gateway
from keyscan.verify.transport import HttpClient, RetryPolicy
from tests.tokenapi_server import (
    DISABLED,
    EXHAUSTED,
    EXPIRED,
    ONEAPI,
    Fault,
    TokenApiServer,
    key_digest,
)


def _verifier(
    server: TokenApiServer, family: str = "newapi", budget: int = 15
) -> NewApiVerifier:
    client = HttpClient(timeout_s=2.0, retry=RetryPolicy(2, 0.01, 0.2))
    gateway = Gateway("modelstream", server.base_url, family)
    return NewApiVerifier(gateway, client, usage_budget=budget)


def test_bare_key_strips_prefix_and_channel() -> None:
    body = "a1B2" * 12
    assert bare_key("sk-" + body) == body
    assert bare_key("sk-" + body + "-17") == body
    assert bare_key(body) == body


def test_gateway_key_keeps_other_prefix() -> None:
    body = "Zx9" * 16
    assert gateway_key(body + "-3") == "sk-" + body
    assert gateway_key(" sk-" + body + "\n") == "sk-" + body
    assert gateway_key("ms-" + body + "-12") == "ms-" + body
    assert gateway_key("ms-" + body) == "ms-" + body


def test_newapi_live_key_with_usage_details(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user(), remain_quota=1234)
    result = _verifier(fake_gateway).check(key)
    assert result.status == "live"
    assert result.quota_remaining == 1234.0
    assert result.unlimited_quota is False
    assert result.expires_at is None
    assert result.checked_url == fake_gateway.base_url + "/v1/models"
    assert result.verifier == "gateway:modelstream"


def test_newapi_suffix_is_stripped_before_check(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    result = _verifier(fake_gateway).check(key + "-5")
    assert result.status == "live"
    credentials = {r.credential for r in state.requests}
    assert credentials == {key_digest(key)}


def test_newapi_unknown_key_is_dead(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.tokens.clear()
    result = _verifier(fake_gateway).check(key)
    assert result.status == "dead"
    assert "Invalid token" in result.reason


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"status": DISABLED}, "status is unavailable", id="disabled"),
        pytest.param({"expired_time": 1_000_000}, "expired at", id="expired-time"),
        pytest.param(
            {"status": EXPIRED, "expired_time": 5}, "expired at", id="expired"
        ),
        pytest.param(
            {"status": EXHAUSTED, "remain_quota": 0}, "exhausted", id="exhausted"
        ),
        pytest.param({"remain_quota": 0}, "exhausted", id="quota-zero"),
    ],
)
def test_newapi_dead_states_with_reason(
    fake_gateway: TokenApiServer, language: str, fields: dict[str, int], expected: str
) -> None:
    state = fake_gateway.state
    state.language = language
    key = state.add_token(state.add_user(), **fields)
    result = _verifier(fake_gateway).check(key)
    assert result.status == "dead"
    assert expected in result.reason


def test_newapi_usage_expired_overrides_live(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    past = int(time.time()) - 3600
    body = (
        b'{"code":true,"message":"ok","data":{"object":"token_usage",'
        b'"total_available":10,"unlimited_quota":false,"expires_at":'
        + str(past).encode()
        + b"}}"
    )
    state.inject("usage", Fault("status", 200, body=body, times=1))
    result = _verifier(fake_gateway).check(key)
    assert result.status == "dead"
    assert result.expires_at == past


@pytest.mark.parametrize("language", ["en", "zh"])
def test_newapi_banned_owner_is_restricted(
    fake_gateway: TokenApiServer, language: str
) -> None:
    state = fake_gateway.state
    state.language = language
    key = state.add_token(state.add_user(status=DISABLED))
    result = _verifier(fake_gateway).check(key)
    assert result.status == "restricted"
    assert "owner-banned" in result.reason


@pytest.mark.parametrize("flavor", ["newapi", ONEAPI])
def test_gateway_ip_allow_list_is_restricted(
    fake_gateway: TokenApiServer, flavor: str
) -> None:
    state = fake_gateway.state
    state.flavor = flavor
    key = state.add_token(state.add_user(), allow_ips="203.0.113.7")
    result = _verifier(fake_gateway, flavor).check(key)
    assert result.status == "restricted"
    assert "ip-allow-list" in result.reason


def test_newapi_blocked_group_is_restricted(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    state.blocked_groups.add("vip")
    key = state.add_token(state.add_user(), group="vip")
    result = _verifier(fake_gateway).check(key)
    assert result.status == "restricted"
    assert "group" in result.reason


def test_oneapi_live_key_skips_usage_route(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    state.flavor = ONEAPI
    key = state.add_token(state.add_user())
    result = _verifier(fake_gateway, "oneapi").check(key)
    assert result.status == "live"
    assert result.quota_remaining is None
    assert state.calls("usage") == []


def test_newapi_absent_usage_route_is_asked_once(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    state.usage_route = False
    user = state.add_user()
    verifier = _verifier(fake_gateway)
    results = [verifier.check(state.add_token(user)) for _ in range(4)]
    assert [r.status for r in results] == ["live"] * 4
    assert len(state.calls("usage")) == 1


def test_newapi_usage_budget_is_never_exceeded(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    user = state.add_user()
    verifier = _verifier(fake_gateway, budget=3)
    for _ in range(8):
        assert verifier.check(state.add_token(user)).status == "live"
    assert len(state.calls("usage")) == 3
    assert len(state.calls("models")) == 8


def test_newapi_usage_rate_limit_stops_usage(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    state.usage_limit = 2
    user = state.add_user()
    verifier = _verifier(fake_gateway)
    results = [verifier.check(state.add_token(user)) for _ in range(6)]
    assert all(r.status == "live" for r in results)
    assert len(state.calls("usage")) == 3
    assert results[0].quota_remaining is not None
    assert results[5].quota_remaining is None


def test_newapi_check_calls_no_billable_route(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    user = state.add_user()
    verifier = _verifier(fake_gateway)
    for fields in ({}, {"status": DISABLED}, {"allow_ips": "192.0.2.1"}):
        verifier.check(state.add_token(user, **fields))
    routes = {r.route for r in state.requests}
    assert routes <= {"models", "usage"}
    assert all(r.method == "GET" for r in state.requests)
