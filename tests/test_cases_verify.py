"""The liveness cases built by the case scripts beside this repository.

One case serves canned non-auth responses (a WAF page, 429, a 200 error
body, 502) and two controls; the other makes the endpoint unreachable. The
finding must always be reported, and only documented responses may count as
live or dead. Skipped where the case scripts are absent.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.tokenapi_server import Fault, SilentListener, TokenApiServer

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"
CONFIG = """\
[verify]
timeout_s = 1.0
backoff_s = 0.01
retry_after_max_s = 0.5
"""


def _build(case: str, tmp_path: Path) -> Path:
    script = CASES / f"{case}.sh"
    if not script.is_file():
        pytest.skip(f"case script not found: {script}")
    subprocess.run(["bash", str(script), str(tmp_path / "case")], check=True)
    (tmp_path / "keyscan.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path / "case"


def _scan(run_keyscan: Any, case_dir: Path, tmp_path: Path) -> Any:
    config = str(tmp_path / "keyscan.toml")
    args = ["scan", "--verify", "--format", "json", "--config", config, "."]
    return run_keyscan(args, case_dir / "repo")


def _scenarios(case_dir: Path) -> list[dict[str, Any]]:
    text = (case_dir / "stub" / "scenarios.json").read_text(encoding="utf-8")
    scenarios: list[dict[str, Any]] = json.loads(text)
    return scenarios


EXPECTED_C22 = {
    "waf-block-403": {"unknown"},
    "rate-limited-429": {"unknown"},
    "http-200-error-body": {"dead", "unknown"},
    "bad-gateway-502": {"unknown"},
    "control-live": {"live"},
    "control-dead": {"dead"},
}


def test_case_non_auth_liveness_responses(
    tmp_path: Path,
    run_keyscan: Any,
    fake_gateway: TokenApiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_dir = _build("C22", tmp_path)
    monkeypatch.setenv("MODELSTREAM_BASE_URL", fake_gateway.base_url)
    seen = {}
    for scenario in _scenarios(case_dir):
        body = scenario["body"].encode()
        fault = Fault("status", scenario["status"], scenario["headers"], body)
        fake_gateway.state.faults.clear()
        fake_gateway.state.inject("models", fault)
        result = _scan(run_keyscan, case_dir, tmp_path)
        [finding] = result.json()["findings"]
        assert (finding["path"], finding["line"]) == (".env", 2)
        assert result.code == 1, result
        seen[scenario["name"]] = finding["verification"]["status"]
    assert set(seen) == set(EXPECTED_C22)
    for name, status in seen.items():
        assert status in EXPECTED_C22[name], name


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def _unreachable_scan(
    run_keyscan: Any, case_dir: Path, tmp_path: Path, monkeypatch: Any, url: str
) -> list[dict[str, Any]]:
    monkeypatch.setenv("MODELSTREAM_BASE_URL", url)
    monkeypatch.setenv("KEYSCAN_VERIFY_ANTHROPIC_BASE_URL", url)
    result = _scan(run_keyscan, case_dir, tmp_path)
    assert result.code == 1, result
    findings: list[dict[str, Any]] = result.json()["findings"]
    return findings


@pytest.mark.parametrize("mode", ["dns", "refused", "timeout", "reset"])
def test_case_unreachable_liveness_endpoint(
    tmp_path: Path, run_keyscan: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    case_dir = _build("C23", tmp_path)
    listener = SilentListener("close" if mode == "reset" else "hang")
    try:
        url = listener.url
        if mode == "refused":
            url = f"http://127.0.0.1:{_closed_port()}"
        if mode == "dns":
            url = "https://verify.keyscan-case.invalid"

            def fail(*args: Any, **kwargs: Any) -> Any:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

            monkeypatch.setattr(socket, "getaddrinfo", fail)
        findings = _unreachable_scan(run_keyscan, case_dir, tmp_path, monkeypatch, url)
    finally:
        listener.close()
    assert [(f["path"], f["line"]) for f in findings] == [
        ("app/secrets.py", 1),
        ("app/secrets.py", 2),
    ]
    for finding in findings:
        assert finding["verification"]["status"] == "unknown"
        assert finding["verification"]["reason"].startswith(mode)
