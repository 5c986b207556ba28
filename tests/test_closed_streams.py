"""keyscan with stdout or stderr closed (``>&-``, ``2>&-``) or on a full disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.keygen import KeyGen


def _run_closed(
    args: list[str], cwd: Path, closed: int
) -> subprocess.CompletedProcess[bytes]:
    """Run keyscan in a new process with descriptor ``closed`` shut at start."""
    return subprocess.run(
        [sys.executable, "-m", "keyscan", *args],
        cwd=cwd,
        capture_output=True,
        preexec_fn=lambda: os.close(closed),
        check=False,
    )


def test_closed_stdout_is_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x = 1\n")
    done = _run_closed(["scan", "a.txt"], tmp_path, closed=1)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "cannot write to stdout: stdout is closed" in stderr
    assert "internal error" not in stderr
    assert "--output FILE" in stderr


def test_closed_stdout_with_output_file(tmp_path: Path, keys: KeyGen) -> None:
    (tmp_path / "a.txt").write_text(f"KEY={keys.gateway()}\n")
    args = ["scan", "--format", "json", "-o", "report.json", "a.txt"]
    done = _run_closed(args, tmp_path, closed=1)
    assert done.returncode == 1, done.stderr.decode()
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["findings"]) == 1


def test_closed_stderr_scan_still_works(tmp_path: Path, keys: KeyGen) -> None:
    (tmp_path / "a.txt").write_text(f"KEY={keys.gateway()}\n")
    done = _run_closed(["scan", "--format", "json", "a.txt"], tmp_path, closed=2)
    assert done.returncode == 1
    # The summary line that stderr would get must not land on stdout.
    report = json.loads(done.stdout)
    assert len(report["findings"]) == 1


def test_closed_stderr_clean_scan(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x = 1\n")
    done = _run_closed(["scan", "a.txt"], tmp_path, closed=2)
    assert done.returncode == 0
    assert done.stdout == b""


def test_closed_stderr_error_exit_code(tmp_path: Path) -> None:
    done = _run_closed(["scan", "missing.txt"], tmp_path, closed=2)
    assert done.returncode == 2
    assert done.stdout == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_stdout_names_stdout(tmp_path: Path, keys: KeyGen) -> None:
    (tmp_path / "a.txt").write_text(f"KEY={keys.gateway()}\n")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "keyscan", "scan", "--format", "json", "a.txt"],
            cwd=tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            check=False,
        )
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    expected = "error: cannot write the report to stdout: No space left on device"
    assert expected in stderr
    assert "--output FILE" in stderr
