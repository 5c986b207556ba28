"""Revocation against the fake gateway in each management-auth era."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from keyscan.errors import CredentialsError, UsageError
from keyscan.revoke import default_audit_log, load_credentials, revoke_keys
from keyscan.verify.settings import Gateway
from tests.tokenapi_server import (
    DISABLED,
    ERA_NEWAPI_BEARER,
    ERA_NEWAPI_USER_HEADER,
    ERA_ONEAPI,
    NEWAPI,
    ONEAPI,
    Fault,
    TokenApiServer,
    User,
)
from tests.verify_support import settings_for


def _env(user: User, with_id: bool = True) -> dict[str, str]:
    env = {"MODELSTREAM_ACCESS_TOKEN": user.access_token}
    if with_id:
        env["MODELSTREAM_USER_ID"] = str(user.id)
    return env


def _revoke(
    server: TokenApiServer,
    keys: list[str],
    env: dict[str, str],
    tmp_path: Path,
    *,
    yes: bool = False,
    delete: bool = False,
) -> list[dict[str, object]]:
    results = revoke_keys(
        keys,
        settings_for(server),
        audit_log=str(tmp_path / "audit.jsonl"),
        env=env,
        yes=yes,
        delete=delete,
    )
    return [r.to_dict() for r in results]


def _audit(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _changes(server: TokenApiServer) -> list[str]:
    return [r.route for r in server.state.requests if r.method in ("PUT", "DELETE")]


def test_revoke_missing_credentials_attempts_nothing(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    with pytest.raises(CredentialsError, match="MODELSTREAM_ACCESS_TOKEN"):
        _revoke(fake_gateway, ["sk-" + "a" * 48], {}, tmp_path)
    assert fake_gateway.state.requests == []
    assert not (tmp_path / "audit.jsonl").exists()


def test_load_credentials_rejects_bad_user_id() -> None:
    env = {"MODELSTREAM_ACCESS_TOKEN": "pat", "MODELSTREAM_USER_ID": "me"}
    with pytest.raises(CredentialsError, match="MODELSTREAM_USER_ID"):
        load_credentials(env)


def test_revoke_dry_run_changes_nothing(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    [result] = _revoke(fake_gateway, [key], _env(user), tmp_path)
    assert result["action"] == "dry-run"
    assert result["outcome"] == "planned"
    assert result["token_id"] == 1
    assert state.tokens[1].status == 1
    assert _changes(fake_gateway) == []


def test_revoke_yes_disables_and_rechecks(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    [result] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    assert result["action"] == "disable"
    assert result["outcome"] == "disabled"
    assert state.tokens[1].status == DISABLED
    assert not state.tokens[1].deleted
    assert _changes(fake_gateway) == ["token_put"]
    assert len(state.calls("models")) == 2


def test_revoke_delete_after_disable(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    [result] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True, delete=True)
    assert result["outcome"] == "deleted"
    assert state.tokens[1].deleted
    assert _changes(fake_gateway) == ["token_put", "token_delete"]


def test_revoke_rerun_is_idempotent(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    [again] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    assert again["outcome"] == "already-dead"
    assert _changes(fake_gateway) == ["token_put"]


def test_revoke_already_dead_makes_no_change(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user, status=DISABLED)
    [result] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    assert result["outcome"] == "already-dead"
    assert [r.route for r in state.requests] == ["models"]


def test_revoke_key_of_other_account_not_owned(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    owner, caller = state.add_user(), state.add_user()
    key = state.add_token(owner)
    state.add_token(caller)
    [result] = _revoke(fake_gateway, [key], _env(caller), tmp_path, yes=True)
    assert result["outcome"] == "not-owned"
    assert result["token_id"] is None
    assert state.tokens[1].status == 1
    assert _changes(fake_gateway) == []


ERAS = [
    pytest.param(NEWAPI, ERA_NEWAPI_BEARER, True, True, False, id="newapi-2026"),
    pytest.param(NEWAPI, ERA_NEWAPI_USER_HEADER, True, True, True, id="newapi-2024"),
    pytest.param(NEWAPI, ERA_NEWAPI_USER_HEADER, False, False, True, id="newapi-2025"),
    pytest.param(ONEAPI, ERA_ONEAPI, False, False, False, id="oneapi"),
]


@pytest.mark.parametrize(("flavor", "era", "paged", "masked", "with_id"), ERAS)
def test_revoke_each_auth_era(
    fake_gateway: TokenApiServer,
    tmp_path: Path,
    flavor: str,
    era: str,
    paged: bool,
    masked: bool,
    with_id: bool,
) -> None:
    state = fake_gateway.state
    state.flavor, state.era = flavor, era
    state.paged_lists, state.masked_keys = paged, masked
    user = state.add_user()
    keys = [state.add_token(user) for _ in range(25)]
    [result] = _revoke(fake_gateway, [keys[0]], _env(user, with_id), tmp_path, yes=True)
    assert result["outcome"] == "disabled"
    assert result["token_id"] == 1
    assert state.tokens[1].status == DISABLED
    assert [t.status for t in state.tokens.values()].count(DISABLED) == 1


def test_revoke_user_header_era_needs_user_id(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    state.era = ERA_NEWAPI_USER_HEADER
    user = state.add_user()
    key = state.add_token(user)
    with pytest.raises(CredentialsError) as raised:
        _revoke(fake_gateway, [key], _env(user, with_id=False), tmp_path, yes=True)
    assert "MODELSTREAM_USER_ID" in (raised.value.hint or "")
    assert _changes(fake_gateway) == []
    [line] = _audit(tmp_path)
    assert line["outcome"] == "failed"


@pytest.mark.parametrize("era", [ERA_ONEAPI, ERA_NEWAPI_USER_HEADER, ERA_NEWAPI_BEARER])
def test_revoke_bad_access_token_rejected(
    fake_gateway: TokenApiServer, tmp_path: Path, era: str
) -> None:
    state = fake_gateway.state
    state.era = era
    user = state.add_user()
    key = state.add_token(user)
    env = {"MODELSTREAM_ACCESS_TOKEN": "wrong", "MODELSTREAM_USER_ID": str(user.id)}
    with pytest.raises(CredentialsError, match="credentials rejected"):
        _revoke(fake_gateway, [key], env, tmp_path, yes=True)
    assert _changes(fake_gateway) == []


def test_revoke_cached_key_still_answering(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    state.flavor, state.era, state.sticky_cache = ONEAPI, ERA_ONEAPI, True
    state.paged_lists = state.masked_keys = False
    user = state.add_user()
    key = state.add_token(user)
    [first] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    [second] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    assert first["outcome"] == "still-answering"
    assert "cache" in str(first["detail"])
    assert second["outcome"] == "still-answering"
    assert _changes(fake_gateway) == ["token_put"]


def test_revoke_server_error_reports_failed(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    state.inject("token_put", Fault("status", 500, body=b"oops"))
    [result] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    assert result["outcome"] == "failed"
    assert "HTTP 500" in str(result["detail"])
    assert state.tokens[1].status == 1


def test_revoke_audit_log_lines_hold_no_key(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user), state.add_token(state.add_user())]
    _revoke(fake_gateway, keys, _env(user), tmp_path)
    _revoke(fake_gateway, keys[:1], _env(user), tmp_path, yes=True, delete=True)
    lines = _audit(tmp_path)
    assert [line["outcome"] for line in lines] == ["planned", "not-owned", "deleted"]
    assert [line["action"] for line in lines] == ["dry-run", "dry-run", "delete"]
    for line in lines:
        assert set(line) >= {"time", "fingerprint", "key", "gateway", "base_url"}
        assert set(line) >= {"key_sha256_prefix", "token_id", "action", "detail"}
        assert str(line["time"]).endswith("+00:00")
        assert line["base_url"] == fake_gateway.base_url
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    for key in keys:
        assert key[3:] not in text
        assert key[3:20] not in text
    assert os.stat(tmp_path / "audit.jsonl").st_mode & 0o077 == 0


def test_default_audit_log_follows_xdg_state_home(tmp_path: Path) -> None:
    path = default_audit_log({"XDG_STATE_HOME": str(tmp_path)})
    assert path == str(tmp_path / "keyscan" / "revocations.jsonl")
    home = default_audit_log({})
    assert home.endswith(
        os.path.join(".local", "state", "keyscan", "revocations.jsonl")
    )


def test_revoke_calls_no_billable_route(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    keys = [state.add_token(user) for _ in range(3)]
    _revoke(fake_gateway, keys, _env(user), tmp_path, yes=True, delete=True)
    assert state.calls("billable") == []
    assert {r.route for r in state.requests} <= {
        "models",
        "token_search",
        "token_list",
        "token_put",
        "token_delete",
    }


PAGINATION = [
    pytest.param(NEWAPI, True, True, 3, id="paged-object"),
    pytest.param(NEWAPI, False, False, 3, id="array-size"),
    pytest.param(ONEAPI, False, False, 26, id="oneapi-array-10"),
]


@pytest.mark.parametrize(("flavor", "paged", "masked", "list_calls"), PAGINATION)
def test_revoke_lists_every_page_without_search(
    fake_gateway: TokenApiServer,
    tmp_path: Path,
    flavor: str,
    paged: bool,
    masked: bool,
    list_calls: int,
) -> None:
    state = fake_gateway.state
    state.flavor, state.paged_lists, state.masked_keys = flavor, paged, masked
    state.era = ERA_ONEAPI if flavor == ONEAPI else ERA_NEWAPI_BEARER
    missing = b'{"error":{"message":"Invalid URL","type":"invalid_request_error"}}'
    state.inject("token_search", Fault("status", 404, body=missing))
    user = state.add_user()
    keys = [state.add_token(user) for _ in range(250)]
    [result] = _revoke(fake_gateway, [keys[0]], _env(user), tmp_path, yes=True)
    assert result["outcome"] == "disabled"
    assert result["token_id"] == 1
    assert len(state.calls("token_list")) == list_calls


def test_revoke_log_lines_hold_no_key(
    fake_gateway: TokenApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    caplog.set_level("DEBUG", logger="keyscan")
    _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True)
    messages = [record.getMessage() for record in caplog.records]
    assert any("/api/token/search" in message for message in messages)
    for message in messages:
        assert key[3:] not in message
        assert user.access_token not in message


def test_revoke_uses_separate_management_host(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    console = TokenApiServer(fake_gateway.state).start()
    try:
        state = fake_gateway.state
        user = state.add_user()
        key = state.add_token(user)
        gateway = Gateway(
            "modelstream", fake_gateway.base_url, "newapi", console.base_url
        )
        settings = settings_for(fake_gateway, gateways=(gateway,))
        [result] = revoke_keys(
            [key],
            settings,
            yes=True,
            audit_log=str(tmp_path / "audit.jsonl"),
            env=_env(user),
        )
        console_port = int(console.base_url.rsplit(":", 1)[1])
    finally:
        console.stop()
    assert result.outcome == "disabled"
    assert state.tokens[1].status == DISABLED
    for record in state.requests:
        on_console = record.route.startswith("token_")
        assert (record.port == console_port) is on_console, record


def test_revoke_unwritable_audit_log_changes_nothing(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(UsageError, match="audit log"):
        revoke_keys(
            [key],
            settings_for(fake_gateway),
            yes=True,
            audit_log=str(blocker / "audit.jsonl"),
            env=_env(user),
        )
    assert state.requests == []


def test_revoke_delete_retried_after_success(
    fake_gateway: TokenApiServer, tmp_path: Path
) -> None:
    state = fake_gateway.state
    user = state.add_user()
    key = state.add_token(user)
    # The first DELETE deletes the token but its response is lost to a 502,
    # so the retry finds no record.
    state.inject("token_delete", Fault("lost", 502, times=1))
    [result] = _revoke(fake_gateway, [key], _env(user), tmp_path, yes=True, delete=True)
    assert result["outcome"] == "deleted"
