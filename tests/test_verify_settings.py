"""Gateway configuration: defaults, overrides and the HTTPS requirement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from keyscan.errors import ConfigError
from keyscan.verify.settings import (
    MODELSTREAM_BASE_URL,
    check_base_url,
    load_settings,
)


class FakeConfig:
    """A stand-in for keyscan's Config with only the sections."""

    def __init__(self, **sections: Mapping[str, Any]) -> None:
        self.sections = sections

    def section(self, name: str) -> Mapping[str, Any]:
        return self.sections.get(name, {})


def test_settings_default_modelstream_gateway() -> None:
    settings = load_settings(None, env={})
    [gateway] = settings.gateways
    assert gateway.name == "modelstream"
    assert gateway.base_url == MODELSTREAM_BASE_URL
    assert gateway.family == "newapi"
    assert settings.concurrency == 4
    assert settings.timeout_s == 10.0


def test_settings_env_overrides_modelstream() -> None:
    env = {"MODELSTREAM_BASE_URL": "http://127.0.0.1:8080/v1/"}
    [gateway] = load_settings(None, env=env).gateways
    assert gateway.base_url == "http://127.0.0.1:8080"


def test_settings_config_gateways_and_limits() -> None:
    config = FakeConfig(
        gateways={
            "corp": {"base_url": "https://llm.corp.example/v1", "family": "oneapi"}
        },
        verify={"concurrency": 8, "timeout_s": 3, "retry_after_max_s": 5},
    )
    settings = load_settings(config, env={})
    assert [g.name for g in settings.gateways] == ["modelstream", "corp"]
    assert settings.gateway("corp").base_url == "https://llm.corp.example"
    assert settings.gateway("corp").family == "oneapi"
    assert settings.concurrency == 8
    assert settings.timeout_s == 3.0
    assert settings.retry_after_max_s == 5.0


def test_settings_declared_base_url_from_env() -> None:
    env = {"KEYSCAN_VERIFY_OPENAI_BASE_URL": "http://[::1]:9000"}
    settings = load_settings(None, env=env)
    assert settings.base_urls == {"openai": "http://[::1]:9000"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1234",
        "http://127.8.9.10",
        "http://localhost:80/v1",
        "http://[::1]:443",
        "https://api.modelstream.ai",
    ],
)
def test_base_url_allowed(url: str) -> None:
    assert check_base_url(url, "test").startswith(("http://", "https://"))


@pytest.mark.parametrize(
    "url",
    [
        "http://api.modelstream.ai",
        "http://10.0.0.5:3000",
        "http://128.0.0.1",
        "ftp://127.0.0.1",
        "https://user:pass@gw.example",
        "https://gw.example/?key=1",
        "not a url",
    ],
)
def test_base_url_rejected_with_url_named(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_base_url(url, "[gateways.x]")
    assert url in raised.value.message


def test_settings_plain_http_gateway_rejected() -> None:
    config = FakeConfig(gateways={"corp": {"base_url": "http://gw.corp.example"}})
    with pytest.raises(ConfigError, match="does not use HTTPS"):
        load_settings(config, env={})


def test_settings_unknown_family_rejected() -> None:
    config = FakeConfig(
        gateways={"corp": {"base_url": "https://gw.example", "family": "x"}}
    )
    with pytest.raises(ConfigError, match="unknown family"):
        load_settings(config, env={})


def test_settings_unknown_gateway_name() -> None:
    with pytest.raises(ConfigError, match="unknown gateway"):
        load_settings(None, env={}).gateway("nope")


@pytest.mark.parametrize("value", [0, -1, "4", True, 1000])
def test_settings_bad_concurrency_rejected(value: object) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        load_settings(FakeConfig(verify={"concurrency": value}), env={})


@pytest.mark.parametrize(
    ("sections", "where"),
    [
        ({"verify": {"timeout": 3}}, "[verify]"),
        (
            {"gateways": {"corp": {"base_url": "https://gw.example", "url": "x"}}},
            "corp",
        ),
    ],
)
def test_settings_unknown_setting_rejected(
    sections: dict[str, Mapping[str, Any]], where: str
) -> None:
    with pytest.raises(ConfigError, match="unknown setting") as raised:
        load_settings(FakeConfig(**sections), env={})
    assert where in raised.value.message
