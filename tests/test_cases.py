"""Inputs on which other scanners failed, built by the case scripts in
``../shared/cases`` beside this repository, with the right behaviour for each.

The scripts are read from outside the repository, so these tests are skipped
where that folder is absent. Self-contained tests in test_engine.py and
test_staged.py also cover the same behaviours.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"


def _build(case: str, tmp_path: Path) -> Path:
    script = CASES / f"{case}.sh"
    if not script.is_file():
        pytest.skip(f"case script not found: {script}")
    subprocess.run(["bash", str(script), str(tmp_path)], check=True)
    return tmp_path / "repo"


def _locations(result: Any) -> list[tuple[str, int]]:
    return sorted((f["path"], f["line"]) for f in result.json()["findings"])


def test_case_notebook_keys(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C01", tmp_path)
    result = run_keyscan(["scan", "--format", "json"], repo)
    assert _locations(result) == [
        ("usage_report.ipynb", 20),
        ("usage_report.ipynb", 31),
    ]
    for finding in result.json()["findings"]:
        assert not finding["secret_redacted"].endswith("\\")


def test_case_line_endings_and_bom(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C02", tmp_path)
    result = run_keyscan(["scan", "--format", "json"], repo)
    assert _locations(result) == [
        ("ci-output.log", 2),
        ("deploy.ps1", 3),
        ("legacy.cfg", 2),
        ("settings.ini", 3),
    ]
    assert result.json()["summary"]["skipped"] == []
    assert "binary_files" not in result.json()["summary"]


def test_case_openrouter_reported_once(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C04", tmp_path)
    result = run_keyscan(["scan", "--format", "json"], repo)
    assert _locations(result) == [(".env", 2), ("llm_client.py", 4)]
    assert all("openrouter" in f["rule_id"] for f in result.json()["findings"])


def test_case_lockfile_digests(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C06", tmp_path)
    result = run_keyscan(["scan", "--format", "json"], repo)
    assert _locations(result) == [(".npmrc", 2), ("package-lock.json", 28)]


def test_case_binary_files(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C09", tmp_path)
    result = run_keyscan(["scan", "--format", "json"], repo)
    assert result.code == 1
    locations = _locations(result)
    # The line in a binary file counts the 0x0A bytes of its random noise.
    assert [path for path, _ in locations] == ["app/settings.py", "build/agent.bin"]
    assert locations[0] == ("app/settings.py", 2)
    assert result.json()["summary"]["binary_files"] == 3


def test_case_minified_bundle(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C11", tmp_path)
    result = run_keyscan(["scan", "--format", "json"], repo)
    findings = result.json()["findings"]
    assert [(f["path"], f["line"], f["column"]) for f in findings] == [
        ("static/vendor.min.js", 1, 826473)
    ]
    assert len(result.stdout) < 4000


def test_case_partial_staging(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C17", tmp_path)
    result = run_keyscan(["staged", "--format", "json"], repo)
    assert _locations(result) == [("readme.md", 2), ("readme.md", 3)]


def test_case_odd_staged_paths(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C19", tmp_path)
    result = run_keyscan(["staged", "--format", "json"], repo)
    assert _locations(result) == [
        ("-dash.env", 1),
        ("café/.env", 1),
        ("config files/prod settings.py", 2),
        ("配置/密钥.txt", 1),
    ]


def test_case_allow_comments(tmp_path: Path, run_keyscan: Any) -> None:
    repo = _build("C20", tmp_path)
    result = run_keyscan(["scan", "--format", "json"], repo)
    assert _locations(result) == [(".env.example", 3), ("app.py", 2), ("dev.yaml", 6)]
