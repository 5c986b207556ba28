"""keyscan scan: which files the paths on a command line select, counted once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from keyscan.errors import ExitCode
from tests.conftest import Repo
from tests.keygen import KeyGen


def _scan_json(run_keyscan: Any, cwd: Path, *paths: str) -> Any:
    return run_keyscan(["scan", "--format", "json", *paths], cwd)


def test_same_file_named_four_ways(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    repo.write("a.txt", f"KEY={keys.gateway()}\n")
    absolute = str(repo.path / "a.txt")

    result = _scan_json(run_keyscan, repo.path, ".", "a.txt", "./a.txt", absolute)
    assert result.code == ExitCode.FINDINGS, result
    document = result.json()
    assert [f["path"] for f in document["findings"]] == ["a.txt"]
    assert document["summary"]["files_scanned"] == 1
    assert document["summary"]["findings"] == 1


def test_file_named_before_its_folder(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("sub/b.env", f"KEY={keys.gateway()}\n")
    repo.write("sub/c.txt", "x = 1\n")

    result = _scan_json(run_keyscan, repo.path, "sub/b.env", "sub", "sub/", ".")
    assert result.code == ExitCode.FINDINGS, result
    document = result.json()
    assert [f["path"] for f in document["findings"]] == ["sub/b.env"]
    assert document["summary"]["files_scanned"] == 2


def test_folder_through_symlink_scanned_once(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("sub/b.env", f"KEY={keys.gateway()}\n")
    os.symlink("sub", repo.path / "link")

    # "link/" names the folder the link points to, which "sub" names too.
    result = _scan_json(run_keyscan, repo.path, "sub", "link/")
    assert result.code == ExitCode.FINDINGS, result
    document = result.json()
    assert [f["path"] for f in document["findings"]] == ["sub/b.env"]
    assert document["summary"]["files_scanned"] == 1


def test_oversized_file_named_twice_skipped_once(repo: Repo, run_keyscan: Any) -> None:
    repo.write("big.txt", "x" * 5000)
    args = ["scan", "--format", "json", "--max-file-size", "1KiB"]

    result = run_keyscan([*args, "big.txt", "./big.txt", "."], repo.path)
    assert result.code == ExitCode.CLEAN, result
    skipped = result.json()["summary"]["skipped"]
    assert [entry["path"] for entry in skipped] == ["big.txt"]


@pytest.mark.parametrize("first", [True, False])
def test_named_symlink_skipped_once(repo: Repo, run_keyscan: Any, first: bool) -> None:
    repo.write("a.txt", "x = 1\n")
    os.symlink("a.txt", repo.path / "link.txt")
    named = ["link.txt", "./link.txt"]
    paths = [*named, "."] if first else [".", *named]

    result = _scan_json(run_keyscan, repo.path, *paths)
    assert result.code == ExitCode.CLEAN, result
    document = result.json()
    assert document["summary"]["files_scanned"] == 1
    assert [entry["path"] for entry in document["summary"]["skipped"]] == ["link.txt"]


def _ignore_logs(repo: Repo) -> None:
    repo.write(".gitignore", "*.log\n")
    repo.write("app.py", "x = 1\n")
    repo.add()
    repo.commit()


def test_named_folder_of_ignored_files_scanned(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    _ignore_logs(repo)
    repo.write("logs/a.log", f"KEY={keys.gateway()}\n")
    repo.write("logs/deep/b.log", "x = 1\n")

    result = _scan_json(run_keyscan, repo.path, "logs")
    assert result.code == ExitCode.FINDINGS, result
    document = result.json()
    assert [f["path"] for f in document["findings"]] == ["logs/a.log"]
    assert document["summary"]["files_scanned"] == 2
    assert "gitignored" not in document["summary"]
    assert "ignored by .gitignore" not in result.stderr


def test_folder_of_ignored_files_counts_once(repo: Repo, run_keyscan: Any) -> None:
    _ignore_logs(repo)
    repo.write("logs/a.log", "x = 1\n")

    result = _scan_json(run_keyscan, repo.path, ".")
    assert result.code == ExitCode.CLEAN, result
    assert result.json()["summary"]["gitignored"] == {"files": 0, "folders": 1}
    note = (
        "note: 1 folder ignored by .gitignore was not scanned (name an ignored "
        "file or folder on the command line to scan it)"
    )
    assert note in result.stderr


def test_ignored_file_counted_once_across_folders(repo: Repo, run_keyscan: Any) -> None:
    _ignore_logs(repo)
    repo.write("src/main.py", "x = 1\n")
    repo.write("src/debug.log", "x = 1\n")

    result = _scan_json(run_keyscan, repo.path, ".", "src")
    assert result.code == ExitCode.CLEAN, result
    summary = result.json()["summary"]
    assert summary["gitignored"] == {"files": 1, "folders": 0}
    assert summary["files_scanned"] == 3
    assert "note: 1 file ignored by .gitignore was not scanned" in result.stderr


def test_named_ignored_file_not_counted(repo: Repo, run_keyscan: Any) -> None:
    _ignore_logs(repo)
    repo.write("src/main.py", "x = 1\n")
    repo.write("src/debug.log", "x = 1\n")

    result = _scan_json(run_keyscan, repo.path, ".", "src/debug.log")
    assert result.code == ExitCode.CLEAN, result
    summary = result.json()["summary"]
    assert summary["files_scanned"] == 4
    assert "gitignored" not in summary
