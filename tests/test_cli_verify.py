"""The verify and revoke commands and the scan options that use them."""

from __future__ import annotations

import hashlib
import io
import json
import random
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Repo
from tests.tokenapi_server import DISABLED, TokenApiServer, make_key


@pytest.fixture
def gateway_env(fake_gateway: TokenApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the ModelStream gateway at the fake server."""
    monkeypatch.setenv("MODELSTREAM_BASE_URL", fake_gateway.base_url)


def _stdin(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))


@pytest.mark.usefixtures("gateway_env")
def test_cli_verify_json_from_stdin(
    fake_gateway: TokenApiServer, run_keyscan: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    live, dead = state.add_token(user), state.add_token(user, status=DISABLED)
    _stdin(monkeypatch, [live, "", "# a comment", dead, "AKIA" + "QX" * 8])
    result = run_keyscan(["verify", "--format", "json"], tmp_path)
    assert result.code == 1, result
    findings = result.json()["findings"]
    assert [f["path"] for f in findings] == [None, None, None]
    assert [f["verification"] and f["verification"]["status"] for f in findings] == [
        "live",
        "dead",
        None,
    ]
    counts = result.json()["summary"]["verification"]
    assert counts == {
        "live": 1,
        "restricted": 0,
        "dead": 1,
        "unknown": 0,
        "unchecked": 1,
    }
    assert live[3:] not in result.stdout
    assert live[3:] not in result.stderr


@pytest.mark.usefixtures("gateway_env")
def test_cli_verify_only_dead_keys_exit_clean(
    fake_gateway: TokenApiServer, run_keyscan: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    state = fake_gateway.state
    dead = state.add_token(state.add_user(), status=DISABLED)
    _stdin(monkeypatch, [dead])
    result = run_keyscan(["verify"], tmp_path)
    assert result.code == 0, result
    assert "<stdin>:1" in result.stdout
    assert "key is dead" in result.stdout
    assert "checked 1 key: 1 dead" in result.stderr


@pytest.mark.usefixtures("gateway_env")
def test_cli_scan_verify_fills_report(
    fake_gateway: TokenApiServer, run_keyscan: Any, repo: Repo
) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user())
    repo.write("app/settings.py", f'GATEWAY_KEY = "{key}"\n')
    result = run_keyscan(["scan", "--verify", "--format", "json", "."], repo.path)
    assert result.code == 1, result
    [finding] = result.json()["findings"]
    assert finding["path"] == "app/settings.py"
    assert finding["verification"]["status"] == "live"
    assert finding["verification"]["verifier"] == "gateway:modelstream"


@pytest.mark.usefixtures("gateway_env")
@pytest.mark.parametrize(("status", "code"), [(1, 1), (DISABLED, 0)])
def test_cli_scan_fail_on_live(
    fake_gateway: TokenApiServer, run_keyscan: Any, repo: Repo, status: int, code: int
) -> None:
    state = fake_gateway.state
    key = state.add_token(state.add_user(), status=status)
    repo.write(".env", f"NEWAPI_KEY={key}\n")
    result = run_keyscan(["scan", "--fail-on", "live", "."], repo.path)
    assert result.code == code, result
    assert len(state.calls("models")) == 1


@pytest.mark.usefixtures("gateway_env")
def test_cli_scan_revoke_yes_disables_live_key(
    fake_gateway: TokenApiServer,
    run_keyscan: Any,
    repo: Repo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", user.access_token)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    repo.write(".env", f"NEWAPI_KEY={key}\n")
    result = run_keyscan(
        ["scan", "--revoke", "--yes", "--format", "json", "."], repo.path
    )
    assert result.code == 1, result
    [revocation] = result.json()["summary"]["revocations"]
    assert revocation["outcome"] == "disabled"
    assert state.tokens[1].status == DISABLED
    assert (tmp_path / "state" / "keyscan" / "revocations.jsonl").is_file()


@pytest.mark.usefixtures("gateway_env")
def test_cli_scan_revoke_delete_audit_log(
    fake_gateway: TokenApiServer,
    run_keyscan: Any,
    repo: Repo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", user.access_token)
    log = tmp_path / "audit.jsonl"
    repo.write(".env", f"NEWAPI_KEY={key}\n")
    args = ["scan", "--revoke", "--audit-log", str(log), "."]
    dry = run_keyscan(args, repo.path)
    assert "dry run" in dry.stderr
    assert state.tokens[1].status != DISABLED
    run_keyscan([*args[:-1], "--yes", "--delete", "."], repo.path)
    assert state.tokens[1].deleted
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["action"] == "dry-run"
    assert lines[-1]["outcome"] == "deleted"
    assert key not in log.read_text()


@pytest.mark.usefixtures("gateway_env")
def test_cli_audit_log_fingerprint_matches_scan(
    fake_gateway: TokenApiServer,
    run_keyscan: Any,
    repo: Repo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", user.access_token)
    repo.write(".env", f"NEWAPI_KEY={key}\n")
    [finding] = run_keyscan(["scan", "--format", "json", "."], repo.path).json()[
        "findings"
    ]
    log = tmp_path / "audit.jsonl"
    run_keyscan(["scan", "--revoke", "--audit-log", str(log), "."], repo.path)
    _stdin(monkeypatch, [key])
    run_keyscan(["revoke", "--audit-log", str(log)], tmp_path)
    from_scan, from_stdin = [json.loads(line) for line in log.read_text().splitlines()]
    assert from_scan["fingerprint"] == finding["fingerprint"]
    assert from_stdin["fingerprint"] == finding["fingerprint"]
    key_hash = hashlib.sha256(key.encode()).hexdigest()[:32]
    assert from_scan["key_sha256_prefix"] == key_hash
    assert from_stdin["key_sha256_prefix"] == key_hash


@pytest.mark.usefixtures("gateway_env")
def test_cli_revoke_dry_run_then_yes(
    fake_gateway: TokenApiServer,
    run_keyscan: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", user.access_token)
    monkeypatch.setenv("MODELSTREAM_USER_ID", str(user.id))
    audit = tmp_path / "audit.jsonl"
    _stdin(monkeypatch, [key])
    plan = run_keyscan(["revoke", "--audit-log", str(audit)], tmp_path)
    assert plan.code == 1, plan
    assert "planned" in plan.stdout
    assert "dry run" in plan.stderr
    assert state.tokens[1].status == 1
    _stdin(monkeypatch, [key])
    done = run_keyscan(
        ["revoke", "--yes", "--delete", "--format", "json", "--audit-log", str(audit)],
        tmp_path,
    )
    assert done.code == 0, done
    [result] = done.json()["revocations"]
    assert result["outcome"] == "deleted"
    assert state.tokens[1].deleted
    lines = audit.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["dry-run", "delete"]
    assert key[3:] not in audit.read_text(encoding="utf-8")


@pytest.mark.usefixtures("gateway_env")
def test_cli_revoke_dry_run_live_keys_exit_1(
    fake_gateway: TokenApiServer, run_keyscan: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user), state.add_token(user)]
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", user.access_token)
    _stdin(monkeypatch, keys)
    result = run_keyscan(
        ["revoke", "--format", "json", "--audit-log", str(tmp_path / "a.jsonl")],
        tmp_path,
    )
    assert result.code == 1, result
    outcomes = [r["outcome"] for r in result.json()["revocations"]]
    assert outcomes == ["planned", "planned"]
    assert [token.status for token in state.tokens.values()] == [1, 1]


@pytest.mark.usefixtures("gateway_env")
def test_cli_revoke_dry_run_dead_keys_exit_0(
    fake_gateway: TokenApiServer, run_keyscan: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user, status=DISABLED) for _ in range(2)]
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", user.access_token)
    _stdin(monkeypatch, keys)
    result = run_keyscan(
        ["revoke", "--format", "json", "--audit-log", str(tmp_path / "a.jsonl")],
        tmp_path,
    )
    assert result.code == 0, result
    outcomes = [r["outcome"] for r in result.json()["revocations"]]
    assert outcomes == ["already-dead", "already-dead"]


@pytest.mark.usefixtures("gateway_env")
def test_cli_revoke_missing_credentials_exit_2(
    fake_gateway: TokenApiServer, run_keyscan: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    state = fake_gateway.state
    _stdin(monkeypatch, [state.add_token(state.add_user())])
    result = run_keyscan(["revoke", "--yes"], tmp_path)
    assert result.code == 2, result
    assert "MODELSTREAM_ACCESS_TOKEN" in result.stderr
    assert state.requests == []


@pytest.mark.usefixtures("gateway_env")
def test_cli_revoke_not_owned_exit_1(
    fake_gateway: TokenApiServer, run_keyscan: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    state = fake_gateway.state
    owner, caller = state.add_user(), state.add_user()
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", caller.access_token)
    _stdin(monkeypatch, [state.add_token(owner)])
    result = run_keyscan(
        ["revoke", "--yes", "--audit-log", str(tmp_path / "a.jsonl")], tmp_path
    )
    assert result.code == 1, result
    assert "not-owned" in result.stdout


def test_cli_verify_rejects_plain_http_gateway(
    run_keyscan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSTREAM_BASE_URL", "http://gateway.example")
    _stdin(monkeypatch, ["sk-" + "Ab1" * 16])
    result = run_keyscan(["verify"], tmp_path)
    assert result.code == 2, result
    assert "http://gateway.example" in result.stderr


@pytest.mark.parametrize(("fail_on", "code"), [("any", 1), ("live", 0)])
def test_cli_scan_unreachable_gateway_keeps_finding(
    run_keyscan: Any,
    repo: Repo,
    monkeypatch: pytest.MonkeyPatch,
    fail_on: str,
    code: int,
) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    monkeypatch.setenv("MODELSTREAM_BASE_URL", f"http://127.0.0.1:{port}")
    key = make_key(random.Random(5))
    repo.write(".env", f"NEWAPI_KEY={key}\n")
    args = ["scan", "--verify", "--fail-on", fail_on, "--format", "json", "."]
    result = run_keyscan(args, repo.path)
    assert result.code == code, result
    [finding] = result.json()["findings"]
    assert finding["verification"]["status"] == "unknown"
    assert finding["verification"]["reason"].startswith("refused")


def test_cli_scan_revoke_without_credentials_fails_first(
    run_keyscan: Any, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write(".env", "NEWAPI_KEY=" + make_key(random.Random(8)) + "\n")
    result = run_keyscan(["scan", "--revoke", "."], repo.path)
    assert result.code == 2, result
    assert "MODELSTREAM_ACCESS_TOKEN" in result.stderr


def test_cli_verify_fingerprint_matches_scan(
    run_keyscan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key(random.Random(11))
    (tmp_path / ".env").write_text(f"KEY={key}\n")
    monkeypatch.setenv("MODELSTREAM_BASE_URL", "http://127.0.0.1:1")
    scanned = run_keyscan(["scan", "--format", "json", "."], tmp_path).json()
    _stdin(monkeypatch, [key])
    verified = run_keyscan(["verify", "--format", "json"], tmp_path).json()
    assert verified["findings"][0]["rule_id"] == scanned["findings"][0]["rule_id"]
    assert (
        verified["findings"][0]["fingerprint"] == scanned["findings"][0]["fingerprint"]
    )


def test_cli_revoke_skips_lines_that_are_not_keys(
    fake_gateway: TokenApiServer,
    run_keyscan: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = fake_gateway.state.add_user()
    monkeypatch.setenv("MODELSTREAM_BASE_URL", fake_gateway.base_url)
    monkeypatch.setenv("MODELSTREAM_ACCESS_TOKEN", user.access_token)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    _stdin(monkeypatch, ["garbage"])
    result = run_keyscan(["revoke", "--yes"], tmp_path)
    assert "line 1 is not a gateway key" in result.stderr
    assert fake_gateway.state.requests == []


def test_cli_fail_on_live_warns_about_unknown(
    run_keyscan: Any, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSTREAM_BASE_URL", "http://127.0.0.1:1")
    repo.write(".env", f"KEY={make_key(random.Random(12))}\n")
    result = run_keyscan(["scan", "--fail-on", "live", "."], repo.path)
    assert result.code == 0
    assert "1 key could not be checked" in result.stderr
