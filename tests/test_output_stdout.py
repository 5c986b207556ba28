"""``-`` as an output file name means stdout, and only one output may use it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from keyscan.errors import ExitCode
from tests.conftest import Repo
from tests.keygen import KeyGen


@pytest.fixture(autouse=True)
def no_ci_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a CI job's variables from choosing the range of ``keyscan ci``."""
    import os

    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB_", "CI_")) or name == "CI":
            monkeypatch.delenv(name)


def _repo_with_key(repo: Repo, keys: KeyGen) -> str:
    repo.write("app.py", "x = 1\n")
    repo.add()
    base = repo.commit("Initial")
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    repo.add()
    repo.commit("Add a key")
    return base


@pytest.mark.parametrize("command", ["scan", "staged", "history"])
@pytest.mark.parametrize("option", ["-o", "--output"])
def test_output_dash_is_stdout(
    command: str, option: str, repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    repo.add()
    if command == "history":
        repo.commit("Add a key")
    result = run_keyscan([command, "--format", "json", option, "-"], repo.path)

    assert result.code == ExitCode.FINDINGS, result
    assert not (repo.path / "-").exists()
    assert json.loads(result.stdout)["findings"][0]["path"] == "app.env"
    # The report is on stdout already, so stderr does not repeat the findings.
    assert "app.env:1:5" not in result.stderr
    assert "1 secret found" in result.stderr


def test_output_dash_text_report(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    result = run_keyscan(["scan", "-o", "-", "app.env"], repo.path)

    assert result.code == ExitCode.FINDINGS, result
    assert not (repo.path / "-").exists()
    assert result.stdout.startswith("app.env:1:5")


def test_ci_sarif_dash_is_stdout(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    base = _repo_with_key(repo, keys)
    args = ["ci", "--rev", f"{base}..HEAD", "-o", "report.txt", "--sarif", "-"]
    result = run_keyscan(args, repo.path)

    assert result.code == ExitCode.FINDINGS, result
    assert not (repo.path / "-").exists()
    assert json.loads(result.stdout)["version"] == "2.1.0"
    assert "app.env" in (repo.path / "report.txt").read_text()


def test_ci_gitlab_dash_is_stdout(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    base = _repo_with_key(repo, keys)
    args = ["ci", "--rev", f"{base}..HEAD", "-o", "r.json", "--gitlab", "-"]
    result = run_keyscan(args, repo.path)

    assert result.code == ExitCode.FINDINGS, result
    assert not (repo.path / "-").exists()
    assert json.loads(result.stdout)["vulnerabilities"][0]["location"]["file"] == (
        "app.env"
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--sarif", "-"], "the text report (no --output) and --sarif -"),
        (["-o", "-", "--gitlab", "-"], "--output - and --gitlab -"),
        (
            ["--format", "json", "--sarif", "-", "--gitlab", "-"],
            "the json report (no --output), --sarif - and --gitlab -",
        ),
    ],
)
def test_ci_two_outputs_on_stdout_rejected(
    args: list[str], named: str, repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    base = _repo_with_key(repo, keys)
    result = run_keyscan(["ci", "--rev", f"{base}..HEAD", *args], repo.path)

    assert result.code == ExitCode.ERROR, result
    assert f"more than one output would go to stdout: {named}" in result.stderr
    assert result.stdout == ""
    assert not (repo.path / "-").exists()


def test_scan_audit_log_dash_needs_output_file(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    result = run_keyscan(["scan", "--revoke", "--audit-log", "-", "."], repo.path)

    assert result.code == ExitCode.ERROR, result
    assert "the text report (no --output) and --audit-log -" in result.stderr
    assert not (repo.path / "-").exists()


def test_revoke_audit_log_dash_rejected(
    tmp_path: Path, run_keyscan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    result = run_keyscan(["revoke", "--audit-log", "-"], tmp_path)

    assert result.code == ExitCode.ERROR, result
    assert "the text results and --audit-log -" in result.stderr
    assert "pass a file to --audit-log" in result.stderr
    assert not (tmp_path / "-").exists()


def test_audit_log_dash_writes_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyscan.revoke import AuditLog

    monkeypatch.chdir(tmp_path)
    log = AuditLog("-")
    log.open_check()
    log._write('{"outcome": "planned"}\n')

    assert capsys.readouterr().out == '{"outcome": "planned"}\n'
    assert not (tmp_path / "-").exists()


def test_verify_output_dash_is_stdout(
    tmp_path: Path, run_keyscan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    result = run_keyscan(["verify", "--format", "json", "-o", "-"], tmp_path)

    assert result.code == ExitCode.CLEAN, result
    assert json.loads(result.stdout)["findings"] == []
    assert not (tmp_path / "-").exists()


def test_baseline_create_output_dash_is_stdout(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    result = run_keyscan(["baseline", "create", "-o", "-"], repo.path)

    assert result.code == ExitCode.CLEAN, result
    assert len(json.loads(result.stdout)["fingerprints"]) == 1
    assert "to stdout" in result.stderr
    assert not (repo.path / "-").exists()
    assert not (repo.path / ".keyscan-baseline.json").exists()
