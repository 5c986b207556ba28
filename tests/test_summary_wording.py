"""Summary lines and count messages: what they count, in the right number."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from keyscan.display import count_noun
from keyscan.findings import Summary
from keyscan.report import render
from keyscan.report.text import scanned_units, summary_line
from tests.keygen import KeyGen


def test_count_noun_singular_and_plural() -> None:
    assert count_noun(0, "file") == "0 files"
    assert count_noun(1, "file") == "1 file"
    assert count_noun(2, "file") == "2 files"
    assert count_noun(1, "stale entry", "stale entries") == "1 stale entry"
    assert count_noun(3, "stale entry", "stale entries") == "3 stale entries"


def _summary(files: int, messages: int = 0, tags: int = 0) -> Summary:
    summary = Summary()
    summary.files_scanned = files
    summary.messages_scanned = messages
    summary.tags_scanned = tags
    return summary


@pytest.mark.parametrize(
    ("files", "messages", "tags", "expected"),
    [
        (1, 0, 0, "1 file"),
        (6, 0, 0, "6 files"),
        (0, 1, 0, "0 files and 1 commit message"),
        (2, 3, 0, "2 files and 3 commit messages"),
        (1, 3, 1, "1 file, 2 commit messages and 1 tag message"),
        (0, 2, 2, "0 files and 2 tag messages"),
    ],
)
def test_scanned_units_counts_messages(
    files: int, messages: int, tags: int, expected: str
) -> None:
    assert scanned_units(_summary(files, messages, tags)) == expected


def test_summary_line_message_only_run() -> None:
    summary = _summary(0, messages=1)
    summary.findings = 1
    line = summary_line(summary)

    assert line.startswith("keyscan: scanned 0 files (0 bytes) and 1 commit message ")
    assert line.endswith(": 1 secret found")
    assert "nothing was scanned" not in line


def test_summary_line_nothing_scanned() -> None:
    line = summary_line(_summary(0))

    assert "scanned 0 files (0 bytes) in" in line
    assert line.endswith("no secrets found (nothing was scanned)")


def test_github_notice_says_files_scanned() -> None:
    summary = _summary(6)
    summary.findings = 0
    clean = render("github", [], summary).splitlines()[-1]

    assert clean == "::notice title=keyscan::keyscan: no secrets found; scanned 6 files"


def test_github_notice_counts_secrets(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any
) -> None:
    (tmp_path / "a.env").write_text(f"KEY={keys.gateway()}\n")
    for name in ("b.txt", "c.txt"):
        (tmp_path / name).write_text("x = 1\n")
    result = run_keyscan(["scan", "--format", "github", "."], tmp_path)
    notice = result.stdout.splitlines()[-1]

    assert notice == "::notice title=keyscan::keyscan: 1 secret found; scanned 3 files"


def test_github_notice_nothing_scanned(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "big.js").write_text("x" * 200)
    args = ["scan", "--format", "github", "--max-file-size", "100", "."]
    result = run_keyscan(args, tmp_path)
    notice = result.stdout.splitlines()[-1]

    assert notice.endswith(
        "no secrets found; scanned 0 files; 1 not scanned completely "
        "(nothing was scanned)"
    )


def test_binary_note_singular(tmp_path: Path, keys: KeyGen, run_keyscan: Any) -> None:
    (tmp_path / "a.bin").write_bytes(b"\x00\x01" + keys.gateway().encode() + b"\x00")
    result = run_keyscan(["scan", "."], tmp_path)

    assert "note: scanned 1 binary file for exact key formats only" in result.stderr
    assert "1 binary files" not in result.stderr


def test_summary_line_one_file(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "a.txt").write_text("x = 1\n")
    result = run_keyscan(["scan", "."], tmp_path)

    assert re.search(r"scanned 1 file \(\d+ bytes\) in ", result.stderr), result


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1, "1 file (1 byte)"),
        (1023, "1 file (1023 bytes)"),
        (1024, "1 file (1.0 KiB)"),
        (3 * 1024 * 1024, "1 file (3.0 MiB)"),
        (5 * 1024**3, "1 file (5.0 GiB)"),
    ],
)
def test_scanned_units_size(size: int, shown: str) -> None:
    summary = _summary(1)
    summary.bytes_scanned = size

    assert scanned_units(summary, size=True) == shown


def test_scan_json_counts_no_messages(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "a.txt").write_text("x = 1\n")
    summary = run_keyscan(["scan", "--format", "json", "."], tmp_path).json()["summary"]

    assert summary["messages_scanned"] == 0
    assert summary["tags_scanned"] == 0
