"""File names that are not valid UTF-8, in every report format and command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from keyscan.display import display_name
from keyscan.report import FORMATS
from tests.conftest import Repo
from tests.keygen import KeyGen

# Latin-1 names: the byte 0xE9 (é) or 0xDF (ß) alone is not valid UTF-8.
KEY_FILE = b"caf\xe9.txt"
BIG_FILE = b"gro\xdf.bin"
KEY_SHOWN = "caf\\xe9.txt"
BIG_SHOWN = "gro\\xdf.bin"


def _write_files(folder: Path, key: str) -> None:
    base = os.fsencode(folder)
    with open(os.path.join(base, KEY_FILE), "wb") as handle:
        handle.write(f"KEY={key}\n".encode())
    with open(os.path.join(base, BIG_FILE), "wb") as handle:
        handle.write(b"x" * 200)


def _shown_paths(format: str, stdout: str) -> tuple[set[str], set[str]]:
    """Return the finding paths and skipped paths that a report shows."""
    if format == "text":
        return {
            line.split(":")[0] for line in stdout.splitlines() if ":1:" in line
        }, set()
    if format == "github":
        files = {
            line.split("file=")[1].split(",")[0]
            for line in stdout.splitlines()
            if line.startswith("::error ")
        }
        return files, set()
    document = json.loads(stdout)
    if format == "json":
        findings = {f["path"] for f in document["findings"]}
        return findings, {s["path"] for s in document["summary"]["skipped"]}
    if format == "sarif":
        run = document["runs"][0]
        findings = {
            unquote(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
            for r in run["results"]
        }
        notes = run["invocations"][0]["toolExecutionNotifications"]
        skipped = {n["message"]["text"].split(": ")[0] for n in notes}
        return findings, skipped
    assert format == "gitlab"
    findings = {v["location"]["file"] for v in document["vulnerabilities"]}
    messages = document["scan"]["messages"]
    skipped = {m["value"].split(": ")[1] for m in messages if m["level"] == "warn"}
    return findings, skipped


def _without_io_encoding(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k != "PYTHONIOENCODING"}


@pytest.mark.parametrize("command", ["scan", "staged"])
@pytest.mark.parametrize("format", sorted(FORMATS))
def test_non_utf8_name_in_every_format(
    command: str,
    format: str,
    repo: Repo,
    keys: KeyGen,
    run_keyscan: Any,
) -> None:
    _write_files(repo.path, keys.gateway())
    if command == "staged":
        repo.add()
    args = [command, "--format", format, "--max-file-size", "100"]
    result = run_keyscan(args + (["."] if command == "scan" else []), repo.path)

    assert result.code == 1, result
    assert "internal error" not in result.stderr
    result.stdout.encode("utf-8")  # raises on a lone surrogate
    result.stderr.encode("utf-8")
    findings, skipped = _shown_paths(format, result.stdout)
    assert findings == {KEY_SHOWN}
    if format in ("json", "sarif", "gitlab"):
        assert skipped == {BIG_SHOWN}


@pytest.mark.parametrize("command", ["scan", "staged"])
def test_non_utf8_name_with_output_file(
    command: str, repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    _write_files(repo.path, keys.gateway())
    repo.add()
    args = [command, "--format", "json", "-o", "report.json"]
    result = run_keyscan(args, repo.path)

    assert result.code == 1, result
    assert f"{KEY_SHOWN}:1:5" in result.stderr
    document = json.loads((repo.path / "report.json").read_bytes().decode("utf-8"))
    assert document["findings"][0]["path"] == KEY_SHOWN


def test_non_utf8_name_json_bytes_subprocess(
    repo: Repo, keys: KeyGen, tmp_path: Path
) -> None:
    # A real process: Python writes a lone surrogate on stdout as the raw
    # byte under some locales, which the in-process capture cannot show.
    _write_files(repo.path, keys.gateway())
    done = subprocess.run(
        [sys.executable, "-m", "keyscan", "scan", "--format", "json", "."],
        cwd=repo.path,
        capture_output=True,
        env={**_without_io_encoding(os.environ), "LC_ALL": "C"},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    text = done.stdout.decode("utf-8")
    assert json.loads(text)["findings"][0]["path"] == KEY_SHOWN


def test_non_utf8_name_same_in_history(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    _write_files(repo.path, keys.gateway())
    repo.add()
    repo.commit("Add files")
    scan = run_keyscan(["scan", "--format", "json", "."], repo.path)
    history = run_keyscan(["history", "--format", "json"], repo.path)

    assert {f["path"] for f in scan.json()["findings"]} == {KEY_SHOWN}
    assert {f["path"] for f in history.json()["findings"]} == {KEY_SHOWN}


def test_display_name_forms() -> None:
    assert display_name(b"caf\xe9.txt") == KEY_SHOWN
    assert display_name(os.fsdecode(b"caf\xe9.txt")) == KEY_SHOWN
    assert display_name("café.txt") == "café.txt"
    assert display_name("a\\b.txt") == "a\\b.txt"
    # A surrogate that no undecodable byte produced: its UTF-8 bytes, escaped.
    assert display_name("a\ud800.txt") == "a\\xed\\xa0\\x80.txt"
