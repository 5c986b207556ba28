"""Declared verifiers for other issuers, run against the loopback fake."""

from __future__ import annotations

import json

import pytest

from keyscan.errors import RuleError
from keyscan.findings import Verification
from keyscan.verify.declared import load_declared
from keyscan.verify.runner import classify_secret, verify_findings
from keyscan.verify.settings import load_settings
from tests.tokenapi_server import Fault, TokenApiServer
from tests.verify_support import finding_for, settings_for

OPENAI_KEY = "sk-proj-" + "Ab3" * 10 + "T3BlbkFJ" + "xY9" * 10
ANTHROPIC_KEY = "sk-ant-api03-" + "Qw7-" * 23 + "AA"
OPENROUTER_KEY = "sk-or-v1-" + "0a9f" * 16
DEEPSEEK_KEY = "sk-" + "9c1e" * 8
GATEWAY_BODY = "Zq4R" * 12


def test_packaged_verifiers_cover_issuers() -> None:
    declared = load_declared()
    assert set(declared) >= {"openai", "anthropic", "openrouter", "deepseek"}
    for spec in declared.values():
        assert spec.base_url.startswith("https://")
    assert declared["anthropic"].headers["anthropic-version"] == "2023-06-01"
    assert declared["openrouter"].path == "/api/v1/key"


def test_declared_invalid_table_raises_rule_error() -> None:
    with pytest.raises(RuleError, match="broken"):
        load_declared("[verifiers.broken]\npath = '/x'\n")


def test_declared_plain_http_host_rejected() -> None:
    text = (
        "[verifiers.x]\ndescription = 'x'\nbase_url = 'http://api.example'\n"
        "path = '/m'\nheaders = { Authorization = 'Bearer {secret}' }\n"
    )
    with pytest.raises(Exception, match="HTTPS"):
        load_declared(text)


@pytest.mark.parametrize(
    ("secret", "family"),
    [
        (OPENAI_KEY, "openai"),
        ("sk-" + "a" * 20 + "T3BlbkFJ" + "b" * 20, "openai"),
        (ANTHROPIC_KEY, "anthropic"),
        (OPENROUTER_KEY, "openrouter"),
        (DEEPSEEK_KEY, "deepseek"),
        ("sk-" + GATEWAY_BODY, "gateway"),
        ("sk-" + GATEWAY_BODY + "-3", "gateway"),
        ("AKIA" + "Z" * 16, None),
    ],
)
def test_classify_secret_by_shape(secret: str, family: str | None) -> None:
    assert classify_secret(secret) == family


def _check(server: TokenApiServer, family: str, secret: str) -> Verification:
    settings = settings_for(server, base_urls={family: server.base_url})
    [result] = verify_findings([finding_for(secret, rule_id=f"{family}-key")], settings)
    assert result.verification is not None
    return result.verification


def test_declared_openai_live_and_headers(fake_gateway: TokenApiServer) -> None:
    body = json.dumps({"object": "list", "data": [{"id": "gpt-4o"}]}).encode()
    fake_gateway.state.inject("models", Fault("status", 200, body=body))
    result = _check(fake_gateway, "openai", OPENAI_KEY)
    assert result.status == "live"
    assert result.verifier == "openai"


def test_declared_openai_dead_on_json_401(fake_gateway: TokenApiServer) -> None:
    body = (
        b'{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}'
    )
    fake_gateway.state.inject("models", Fault("status", 401, body=body))
    assert _check(fake_gateway, "openai", OPENAI_KEY).status == "dead"


def test_declared_anthropic_restricted_permission(fake_gateway: TokenApiServer) -> None:
    body = b'{"type":"error","error":{"type":"permission_error","message":"no"}}'
    fake_gateway.state.inject("models", Fault("status", 403, body=body))
    assert _check(fake_gateway, "anthropic", ANTHROPIC_KEY).status == "restricted"


def test_declared_anthropic_waf_page_unknown(fake_gateway: TokenApiServer) -> None:
    page = b"<html><body>blocked</body></html>"
    fault = Fault("status", 403, {"Content-Type": "text/html"}, page)
    fake_gateway.state.inject("models", fault)
    assert _check(fake_gateway, "anthropic", ANTHROPIC_KEY).status == "unknown"


def test_declared_openrouter_details(fake_gateway: TokenApiServer) -> None:
    data = {"label": "x", "limit": None, "limit_remaining": 4.5, "expires_at": None}
    fake_gateway.state.inject(
        "other", Fault("status", 200, body=json.dumps({"data": data}).encode())
    )
    result = _check(fake_gateway, "openrouter", OPENROUTER_KEY)
    assert result.status == "live"
    assert result.quota_remaining == 4.5
    assert result.unlimited_quota is True
    [request] = fake_gateway.state.requests
    assert request.path == "/api/v1/key"


def test_declared_deepseek_dead(fake_gateway: TokenApiServer) -> None:
    body = b'{"error":{"message":"Authentication Fails","type":"authentication_error"}}'
    fake_gateway.state.inject("other", Fault("status", 401, body=body))
    result = _check(fake_gateway, "deepseek", DEEPSEEK_KEY)
    assert result.status == "dead"
    [request] = fake_gateway.state.requests
    assert request.path == "/models"


def test_declared_header_carries_key(fake_gateway: TokenApiServer) -> None:
    body = b'{"data":[]}'
    fake_gateway.state.inject("models", Fault("status", 200, body=body))
    assert _check(fake_gateway, "anthropic", ANTHROPIC_KEY).status == "live"
    [request] = fake_gateway.state.requests
    # x-api-key, not Authorization, carries an Anthropic key.
    assert request.credential is None


@pytest.mark.parametrize(
    ("family", "secret", "path"),
    [
        ("anthropic", "sk-ant-admin01-" + "Qw7-" * 23 + "AA", "/v1/organizations/me"),
        ("openai", "sk-admin-" + "Ab3" * 10 + "T3BlbkFJ" + "xY9" * 10, None),
    ],
)
def test_declared_admin_keys_use_admin_route(
    fake_gateway: TokenApiServer, family: str, secret: str, path: str | None
) -> None:
    body = b'{"type":"organization","id":"o","name":"n","data":[]}'
    fake_gateway.state.inject("other", Fault("status", 200, body=body))
    result = _check(fake_gateway, family, secret)
    assert result.status == "live"
    assert result.verifier == f"{family}-admin"
    [request] = fake_gateway.state.requests
    assert request.path == (path or "/v1/organization/admin_api_keys")
    assert request.route != "models"


def test_settings_env_family_with_dash() -> None:
    env = {"KEYSCAN_VERIFY_ANTHROPIC_ADMIN_BASE_URL": "http://127.0.0.1:9"}
    assert load_settings(None, env=env).base_urls == {
        "anthropic-admin": "http://127.0.0.1:9"
    }
