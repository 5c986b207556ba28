"""``keyscan ci``: the commit range read from CI variables, shallow clones."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from keyscan.ci_range import RangeChoice, is_null_sha, resolve_range
from keyscan.cli.ci import fetch_refspec
from tests.conftest import GIT_ENV, Repo
from tests.keygen import KeyGen

NULL_SHA = "0" * 40


class History(NamedTuple):
    """A remote with main (one commit) and feature (two more commits)."""

    remote: Path
    base: str
    middle: str
    head: str
    base_key: str
    head_key: str


@pytest.fixture(autouse=True)
def no_ci_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Remove the variables of the CI that runs these tests."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB_", "CI_")) or name == "CI":
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def history(tmp_path: Path, keys: KeyGen) -> History:
    """Return a bare remote: main has a key, feature adds another key."""
    origin = Repo(tmp_path / "origin")
    base_key, head_key = keys.gateway(), keys.gateway()
    origin.write("old.py", f'KEY = "{base_key}"\n')
    origin.add()
    base = origin.commit("Add old settings")
    origin.git("checkout", "-q", "-b", "feature")
    origin.write("notes.md", "notes\n")
    origin.add()
    middle = origin.commit("Add notes")
    origin.write("new.py", f'KEY = "{head_key}"\n')
    origin.add()
    head = origin.commit("Add new settings")
    remote = tmp_path / "remote.git"
    _git(tmp_path, "clone", "-q", "--bare", str(origin.path), str(remote))
    return History(remote, base, middle, head, base_key, head_key)


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def _clone(history: History, target: Path, *options: str) -> Path:
    url = history.remote.resolve().as_uri()
    _git(target.parent, "clone", "-q", *options, url, str(target))
    return target


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Record the ranges keyscan ci passes to the history scan."""
    ranges: list[str | None] = []

    def record(repo: str, rev_range: str | None, options: object) -> int:
        ranges.append(rev_range)
        return 0

    monkeypatch.setattr("keyscan.cli.ci.scan_range", record)
    return ranges


def _github_event(tmp_path: Path, event: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    return str(path)


def _pull_request_env(tmp_path: Path, base: str, head: str) -> dict[str, str]:
    event = {
        "number": 7,
        "pull_request": {"number": 7, "base": {"sha": base}, "head": {"sha": head}},
    }
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": _github_event(tmp_path, event),
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "feature",
    }


def _push_env(tmp_path: Path, before: str, after: str) -> dict[str, str]:
    event = {
        "ref": "refs/heads/feature",
        "before": before,
        "after": after,
        "repository": {"default_branch": "main"},
    }
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": _github_event(tmp_path, event),
    }


def _merge_request_env(base: str, head: str) -> dict[str, str]:
    return {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "3",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_COMMIT_SHA": head,
        "CI_COMMIT_BEFORE_SHA": NULL_SHA,
        "CI_DEFAULT_BRANCH": "main",
    }


def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


# resolve_range: the environment alone


def test_resolve_range_no_ci_is_full() -> None:
    choice = resolve_range({})
    assert choice.rev_range is None
    assert choice.reason == "no CI environment detected"


def test_resolve_range_github_pull_request(tmp_path: Path) -> None:
    choice = resolve_range(_pull_request_env(tmp_path, "a" * 40, "b" * 40))
    assert choice.rev_range == f"{'a' * 40}..{'b' * 40}"
    assert "pull request #7" in choice.reason


def test_resolve_range_pull_request_without_event(tmp_path: Path) -> None:
    env = _pull_request_env(tmp_path, "a", "b")
    env["GITHUB_EVENT_PATH"] = str(tmp_path / "missing.json")
    choice = resolve_range(env)
    assert choice == RangeChoice("origin/main", None, choice.reason)
    assert "target branch main" in choice.reason


def test_resolve_range_github_push(tmp_path: Path) -> None:
    choice = resolve_range(_push_env(tmp_path, "a" * 40, "b" * 40))
    assert choice.rev_range == f"{'a' * 40}..{'b' * 40}"


def test_resolve_range_github_new_branch(tmp_path: Path) -> None:
    choice = resolve_range(_push_env(tmp_path, NULL_SHA, "b" * 40))
    assert choice.rev_range == f"origin/main..{'b' * 40}"
    assert "new branch" in choice.reason


def test_resolve_range_push_to_default_branch(tmp_path: Path) -> None:
    env = _push_env(tmp_path, NULL_SHA, "b" * 40)
    event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
    event["ref"] = "refs/heads/main"
    env["GITHUB_EVENT_PATH"] = _github_event(tmp_path, event)
    assert resolve_range(env).rev_range is None


def test_resolve_range_github_merge_queue(tmp_path: Path) -> None:
    event = {"merge_group": {"base_sha": "a" * 40, "head_sha": "b" * 40}}
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "merge_group",
        "GITHUB_EVENT_PATH": _github_event(tmp_path, event),
    }
    choice = resolve_range(env)
    assert choice.rev_range == f"{'a' * 40}..{'b' * 40}"
    assert "merge queue" in choice.reason


def test_resolve_range_github_schedule_is_full() -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "schedule"}
    choice = resolve_range(env)
    assert choice.rev_range is None
    assert "schedule" in choice.reason


def test_resolve_range_gitlab_merge_request() -> None:
    choice = resolve_range(_merge_request_env("a" * 40, "b" * 40))
    assert choice.rev_range == f"{'a' * 40}..{'b' * 40}"
    assert "merge request !3" in choice.reason


def test_resolve_range_merged_results_prefers_source_sha() -> None:
    env = _merge_request_env("a" * 40, "m" * 40)
    env["CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"] = "b" * 40
    assert resolve_range(env).head == "b" * 40


def test_resolve_range_merge_request_without_base() -> None:
    env = _merge_request_env("", "b" * 40)
    assert resolve_range(env).rev_range == f"origin/main..{'b' * 40}"


def test_resolve_range_gitlab_push() -> None:
    env = {
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "push",
        "CI_COMMIT_BEFORE_SHA": "a" * 40,
        "CI_COMMIT_SHA": "b" * 40,
        "CI_COMMIT_BRANCH": "feature",
    }
    assert resolve_range(env).rev_range == f"{'a' * 40}..{'b' * 40}"
    env["CI_COMMIT_BEFORE_SHA"] = NULL_SHA
    env["CI_DEFAULT_BRANCH"] = "main"
    assert resolve_range(env).rev_range == f"origin/main..{'b' * 40}"
    env["CI_COMMIT_BRANCH"] = "main"
    assert resolve_range(env).rev_range is None


@pytest.mark.parametrize(
    ("rev", "expected"),
    [
        ("main..feature", "main..feature"),
        ("v1.0", "v1.0..HEAD"),
        ("main...feature", "main..feature"),
        ("..feature", None),
    ],
)
def test_resolve_range_explicit_rev(rev: str, expected: str | None) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push"}
    assert resolve_range(env, rev).rev_range == expected


def test_is_null_sha() -> None:
    assert is_null_sha(NULL_SHA)
    assert is_null_sha("")
    assert is_null_sha(None)
    assert not is_null_sha("a" * 40)


# keyscan ci in real clones


def test_ci_github_pull_request_range(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--branch", "feature")
    _set_env(monkeypatch, _pull_request_env(tmp_path, history.base, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [f"{history.base}..{history.head}"]
    assert f"scanning {history.base}..{history.head} (2 commits)" in result.stderr
    assert "GitHub pull request #7" in result.stderr


def test_ci_github_push_range(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--branch", "feature")
    _set_env(monkeypatch, _push_env(tmp_path, history.middle, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [f"{history.middle}..{history.head}"]
    assert "(1 commit): GitHub push" in result.stderr


def test_ci_github_new_branch_push(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--branch", "feature")
    _set_env(monkeypatch, _push_env(tmp_path, NULL_SHA, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [f"origin/main..{history.head}"]
    assert "(2 commits)" in result.stderr


def test_ci_gitlab_merge_request_range(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--branch", "feature")
    _set_env(monkeypatch, _merge_request_env(history.base, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [f"{history.base}..{history.head}"]
    assert "GitLab merge request !3" in result.stderr


def test_ci_explicit_rev(
    tmp_path: Path, history: History, scanned: list[str | None], run_keyscan: Any
) -> None:
    work = _clone(history, tmp_path / "work", "--branch", "feature")
    result = run_keyscan(["ci", "--rev", "origin/main"], work)
    assert result.code == 0, result
    assert scanned == ["origin/main..HEAD"]
    assert "--rev origin/main" in result.stderr


def test_ci_explicit_rev_missing_commit(
    tmp_path: Path, history: History, scanned: list[str | None], run_keyscan: Any
) -> None:
    work = _clone(history, tmp_path / "work", "--branch", "feature")
    result = run_keyscan(["ci", "--rev", "no-such-branch..HEAD"], work)
    assert result.code == 2, result
    assert "not in this clone: no-such-branch" in result.stderr
    assert scanned == []


def test_ci_without_ci_scans_everything(
    tmp_path: Path, history: History, scanned: list[str | None], run_keyscan: Any
) -> None:
    work = _clone(history, tmp_path / "work", "--branch", "feature")
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [None]
    assert "scanning the whole history: no CI environment detected" in result.stderr


def test_ci_outside_repository_exits_2(tmp_path: Path, run_keyscan: Any) -> None:
    result = run_keyscan(["ci"], tmp_path)
    assert result.code == 2, result
    assert "not a git repository" in result.stderr


def test_ci_explicit_rev_deepens_shallow_clone(
    tmp_path: Path, history: History, scanned: list[str | None], run_keyscan: Any
) -> None:
    work = _clone(history, tmp_path / "work", "--depth", "1", "--branch", "feature")
    result = run_keyscan(["ci", "--rev", f"{history.base}..{history.head}"], work)
    assert result.code == 0, result
    assert scanned == [f"{history.base}..{history.head}"]
    assert "(2 commits)" in result.stderr


def test_ci_shallow_relative_rev_no_fetch_error(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = _clone(history, tmp_path / "work", "--depth", "1", "--branch", "feature")
    result = run_keyscan(["ci", "--rev", "HEAD~1..HEAD"], work)
    assert result.code == 0, result
    assert scanned == ["HEAD~1..HEAD"]
    assert "git fetch origin HEAD~1" not in result.stderr
    assert "failed" not in result.stderr
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == []
    assert "running git fetch --unshallow origin" in result.stderr
    assert "(1 commit)" in result.stderr


@pytest.mark.parametrize(
    ("rev", "refspec"),
    [
        ("a" * 40, "a" * 40),
        ("b" * 64, "b" * 64),
        ("origin/main", "+refs/heads/main:refs/remotes/origin/main"),
        ("refs/tags/v1.0", "+refs/tags/v1.0:refs/tags/v1.0"),
        ("HEAD~1", None),
        ("HEAD", None),
        ("main", None),
        ("abc1234", None),
        ("origin/main~2", None),
        ("origin/main^", None),
        ("refs/tags/v1^{}", None),
        ("origin/x..y", None),
        ("origin/.hidden", None),
        ("origin/x.lock", None),
    ],
)
def test_fetch_refspec_only_fetchable_names(rev: str, refspec: str | None) -> None:
    assert fetch_refspec(rev, "origin") == refspec


def test_ci_shallow_clone_deepens(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--depth", "1", "--branch", "feature")
    assert _git(work, "rev-list", "--count", "HEAD") == "1"
    _set_env(monkeypatch, _pull_request_env(tmp_path, history.base, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [f"{history.base}..{history.head}"]
    assert "git fetch" in result.stderr
    assert "(2 commits)" in result.stderr


def test_ci_shallow_gitlab_deepens_to_merge_base(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--depth", "1", "--branch", "feature")
    _set_env(monkeypatch, _merge_request_env(history.base, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [f"{history.base}..{history.head}"]
    assert _git(work, "rev-list", "--count", f"{history.base}..{history.head}") == "2"


def test_ci_shallow_no_deepen_explains(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--depth", "1", "--branch", "feature")
    _set_env(monkeypatch, _pull_request_env(tmp_path, history.base, history.head))
    result = run_keyscan(["ci", "--no-deepen"], work)
    assert result.code == 0, result
    assert scanned == [None]
    assert f"commit {history.base} is not in this clone" in result.stderr
    assert "fetch-depth: 0" in result.stderr
    assert "GIT_DEPTH: 0" in result.stderr
    assert "shallow clone (1 commit)" in result.stderr


def test_ci_unreachable_base_falls_back(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--depth", "1", "--branch", "feature")
    unknown = "1234567" * 5 + "12345"
    _set_env(monkeypatch, _pull_request_env(tmp_path, unknown, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [None]
    assert f"commit {unknown} is not in this clone" in result.stderr
    assert "scanning the whole history instead" in result.stderr


def test_ci_shallow_new_branch_fetches_default(
    tmp_path: Path,
    history: History,
    scanned: list[str | None],
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _clone(history, tmp_path / "work", "--depth", "1", "--branch", "feature")
    _set_env(monkeypatch, _push_env(tmp_path, NULL_SHA, history.head))
    result = run_keyscan(["ci"], work)
    assert result.code == 0, result
    assert scanned == [f"origin/main..{history.head}"]
    assert "+refs/heads/main:refs/remotes/origin/main" in result.stderr
    assert "(2 commits)" in result.stderr


def test_ci_shares_scan_options(run_keyscan: Any, tmp_path: Path) -> None:
    result = run_keyscan(["ci", "--help"], tmp_path)
    assert result.code == 0, result
    for option in ("--fail-on", "--baseline", "--format", "--output", "--sarif"):
        assert option in result.stdout


def test_ci_warns_when_change_edits_config(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.py", "x = 1\n")
    repo.add()
    base = repo.commit("Initial")
    repo.write(".keyscan.toml", 'exclude = ["**"]\n')
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    repo.add()
    repo.commit("Hide a key")
    result = run_keyscan(["ci", "--rev", f"{base}..HEAD"], repo.path)
    assert "this change edits .keyscan.toml" in result.stderr
