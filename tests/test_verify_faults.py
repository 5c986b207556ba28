"""Responses that are not a documented success or auth failure, and no response.

Each case must come back as ``unknown`` (or, for a 200 error body, at least
not ``live``) with a reason, and the finding must never be dropped.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from keyscan.verify.runner import verify_findings
from keyscan.verify.settings import Gateway
from keyscan.verify.transport import HttpClient, RetryPolicy, retry_after_seconds
from tests.tokenapi_server import Fault, SilentListener, TokenApiServer
from tests.verify_support import finding_for, settings_for

WAF_PAGE = (
    b"<!DOCTYPE html><html><head><title>Access denied</title></head>"
    b"<body><h1>Request blocked</h1></body></html>"
)
RATE_BODY = b'{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}'
SCENARIOS = [
    pytest.param(
        Fault("status", 403, {"Content-Type": "text/html"}, WAF_PAGE),
        "unknown",
        "HTML page",
        id="waf-block-403",
    ),
    pytest.param(
        Fault("status", 429, {"Retry-After": "0"}, RATE_BODY),
        "unknown",
        "429",
        id="rate-limited-429",
    ),
    pytest.param(
        Fault(
            "status",
            200,
            {},
            b'{"success":false,"message":"invalid token","data":null}',
        ),
        "unknown",
        "without a success body",
        id="http-200-error-body",
    ),
    pytest.param(
        Fault(
            "status",
            502,
            {"Content-Type": "text/html"},
            b"<html>502 Bad Gateway</html>",
        ),
        "unknown",
        "502",
        id="bad-gateway-502",
    ),
    pytest.param(
        Fault("status", 200, {}, b'{"object":"list","data":[{"id":"m"'),
        "unknown",
        "not valid JSON",
        id="malformed-json",
    ),
    pytest.param(
        Fault("status", 401, {"Content-Type": "text/html"}, b"<html>login</html>"),
        "unknown",
        "HTML page",
        id="html-401",
    ),
    pytest.param(
        Fault("status", 403, {}, b'{"error":{"message":"forbidden by policy"}}'),
        "unknown",
        "not a documented response",
        id="json-403-undocumented",
    ),
    pytest.param(
        Fault("status", 200, {}, b'{"object":"list","data":[{"id":"gpt-4o-mini"}]}'),
        "live",
        "model list",
        id="control-live",
    ),
    pytest.param(
        Fault("status", 401, {}, b'{"error":{"message":"invalid token","type":"x"}}'),
        "dead",
        "invalid token",
        id="control-dead",
    ),
]


@pytest.mark.parametrize(("fault", "expected", "reason"), SCENARIOS)
def test_liveness_response_scenarios(
    fake_gateway: TokenApiServer, fault: Fault, expected: str, reason: str
) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.inject("models", fault)
    finding = finding_for(key)
    [result] = verify_findings([finding], settings_for(fake_gateway, usage_budget=0))
    assert result.fingerprint == finding.fingerprint
    assert result.verification is not None
    assert result.verification.status == expected
    assert reason in result.verification.reason


def test_rate_limit_retries_are_bounded(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.inject("models", Fault("status", 429, {"Retry-After": "0"}, RATE_BODY))
    settings = settings_for(fake_gateway, max_retries=3, usage_budget=0)
    [result] = verify_findings([finding_for(key)], settings)
    assert result.verification is not None
    assert "after 4 attempts" in result.verification.reason
    assert len(state.calls("models")) == 4


class FakeClock:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_retry_after_is_waited_before_retry(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.inject("models", Fault("status", 429, {"Retry-After": "7"}, b"", times=1))
    state.inject("models", Fault("status", 503, times=1))
    clock = FakeClock()
    settings = settings_for(fake_gateway, retry_after_max_s=10.0, usage_budget=0)
    retry = RetryPolicy(settings.max_retries, 0.25, settings.retry_after_max_s)
    client = HttpClient(timeout_s=2.0, retry=retry, sleep=clock.sleep, clock=clock)
    [result] = verify_findings([finding_for(key)], settings, client=client)
    assert result.verification is not None
    assert result.verification.status == "live"
    assert len(state.calls("models")) == 3
    # Retry-After first, then exponential back-off for the 503 without it.
    assert clock.waits == [7.0, 0.5]


def test_retry_after_http_date_is_read() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == 20.0
    assert retry_after_seconds("12", now=now) == 12.0
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None) is None


def test_retry_after_beyond_cap_ends_retries(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.inject("models", Fault("status", 429, {"Retry-After": "30"}, RATE_BODY))
    [result] = verify_findings([finding_for(key)], settings_for(fake_gateway))
    assert result.verification is not None
    assert result.verification.status == "unknown"
    assert len(state.calls("models")) == 1


def test_server_error_then_success_is_live(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.inject("models", Fault("status", 503, {}, b"", times=2))
    [result] = verify_findings([finding_for(key)], settings_for(fake_gateway))
    assert result.verification is not None
    assert result.verification.status == "live"
    assert len(state.calls("models")) == 3


def test_connection_reset_is_unknown(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.inject("models", Fault("reset"))
    [result] = verify_findings([finding_for(key)], settings_for(fake_gateway))
    assert result.verification is not None
    assert result.verification.status == "unknown"
    assert result.verification.reason.startswith("reset")
    assert len(state.calls("models")) == 3


def test_slow_answer_times_out_as_unknown(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    state.inject("models", Fault("sleep", delay=2.0))
    started = time.monotonic()
    [result] = verify_findings(
        [finding_for(key)], settings_for(fake_gateway, timeout_s=0.3)
    )
    assert result.verification is not None
    assert result.verification.status == "unknown"
    assert result.verification.reason.startswith("timeout")
    assert time.monotonic() - started < 1.5


# Unreachable endpoints: the gateway key and an Anthropic key are both checked.


def _anthropic_key() -> str:
    return "sk-ant-api03-" + "x7Q" * 31 + "AA"


def _findings_for_unreachable(fake_gateway: TokenApiServer) -> list[Any]:
    state = fake_gateway.state
    gateway_key = state.add_token(state.add_user())
    return [
        finding_for(gateway_key, line=1),
        finding_for(_anthropic_key(), rule_id="anthropic-api-key", line=2),
    ]


def _run_unreachable(
    fake_gateway: TokenApiServer, url: str, timeout_s: float
) -> list[Any]:
    settings = settings_for(
        fake_gateway,
        gateways=(Gateway("modelstream", url, "newapi"),),
        base_urls={"anthropic": url},
        timeout_s=timeout_s,
    )
    started = time.monotonic()
    results = verify_findings(_findings_for_unreachable(fake_gateway), settings)
    elapsed = time.monotonic() - started
    # One timeout per key (timeouts are not retried), two checks at a time,
    # with generous headroom for a slow machine.
    assert elapsed < timeout_s * 2 + 2.0
    return results


def _assert_unknown(results: list[Any], reason: str) -> None:
    assert [r.line for r in results] == [1, 2]
    for result in results:
        assert result.verification is not None
        assert result.verification.status == "unknown"
        assert result.verification.reason.startswith(reason)


def test_unreachable_dns_failure_is_unknown(
    fake_gateway: TokenApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    results = _run_unreachable(fake_gateway, "https://verify.keyscan-case.invalid", 1.0)
    _assert_unknown(results, "dns")


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def test_unreachable_refused_port_is_unknown(fake_gateway: TokenApiServer) -> None:
    results = _run_unreachable(fake_gateway, f"http://127.0.0.1:{_closed_port()}", 1.0)
    _assert_unknown(results, "refused")


@pytest.fixture
def listener() -> Iterator[SilentListener]:
    """Yield a silent listener in ``hang`` mode; tests may switch the mode."""
    server = SilentListener("hang")
    try:
        yield server
    finally:
        server.close()


def test_unreachable_no_answer_times_out(
    fake_gateway: TokenApiServer, listener: SilentListener
) -> None:
    results = _run_unreachable(fake_gateway, listener.url, 0.5)
    _assert_unknown(results, "timeout")


def test_unreachable_accept_and_close_is_reset(
    fake_gateway: TokenApiServer, listener: SilentListener
) -> None:
    listener.mode = "close"
    results = _run_unreachable(fake_gateway, listener.url, 1.0)
    _assert_unknown(results, "reset")


def test_retry_after_pauses_other_requests(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user) for _ in range(3)]
    state.inject("models", Fault("status", 429, {"Retry-After": "5"}, b"", times=1))
    clock = FakeClock()
    settings = settings_for(fake_gateway, retry_after_max_s=10.0, usage_budget=0)
    settings = dataclasses.replace(settings, concurrency=1)
    retry = RetryPolicy(settings.max_retries, 0.25, settings.retry_after_max_s)
    client = HttpClient(timeout_s=2.0, retry=retry, sleep=clock.sleep, clock=clock)
    findings = [finding_for(k) for k in keys]
    results = verify_findings(findings, settings, client=client)
    assert [r.verification.status for r in results if r.verification] == ["live"] * 3
    # Only the rate-limited request waited; the pause was over for the others.
    assert clock.waits == [5.0]


def test_host_given_up_after_repeated_429(fake_gateway: TokenApiServer) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user) for _ in range(30)]
    state.inject("models", Fault("status", 429, {"Retry-After": "0"}, b""))
    settings = settings_for(fake_gateway, usage_budget=0, concurrency=1)
    results = verify_findings([finding_for(k) for k in keys], settings)
    reasons = [r.verification.reason for r in results if r.verification]
    assert len(reasons) == 30
    assert all(reason.startswith("HTTP 429") for reason in reasons[:3])
    assert all(reason.startswith("rate-limited") for reason in reasons[3:])
    # Three keys with one try and two retries each, then no more requests.
    assert len(state.calls("models")) == 9
