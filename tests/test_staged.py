"""keyscan staged: the index, not the working tree, and every kind of path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GIT_ENV, Repo
from tests.keygen import KeyGen


def _paths(result: Any) -> list[tuple[str, int]]:
    return [(f["path"], f["line"]) for f in result.json()["findings"]]


def test_staged_reads_index_not_worktree(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("readme.md", "hello\n")
    repo.write("app.py", 'import os\n\n\ndef main():\n    print("hi")\n')
    repo.add()
    repo.commit("Initial commit")
    key_id, secret = keys.aws_key_id(), keys.aws_secret()
    repo.write(
        "readme.md",
        f"hello\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n",
    )
    repo.add("readme.md")
    repo.write("readme.md", "hello\n")
    repo.write(
        "app.py", '"""Entry point."""\nimport os\n\n\ndef main():\n    print("hi")\n'
    )
    repo.add("app.py")
    repo.write(
        "app.py",
        f'"""Entry point."""\nimport os\n\nKEY = "{keys.gateway()}"\n\n\ndef main():\n',
    )
    result = run_keyscan(["staged", "--format", "json"], repo.path)
    assert result.code == 1
    assert _paths(result) == [("readme.md", 2), ("readme.md", 3)]


def test_staged_clean_change_exits_zero(repo: Repo, run_keyscan: Any) -> None:
    repo.write("a.py", "x = 1\n")
    repo.add()
    result = run_keyscan(["staged"], repo.path)
    assert result.code == 0
    assert result.stdout == ""
    assert "scanned 1 file " in result.stderr


def test_staged_before_first_commit(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    repo.write("cfg/.env", f"GATEWAY_KEY={keys.gateway()}\n")
    repo.add()
    result = run_keyscan(["staged", "--format", "json"], repo.path)
    assert result.code == 1
    assert _paths(result) == [("cfg/.env", 1)]


def test_staged_odd_paths(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    repo.write("README.md", "# app\n")
    repo.add()
    repo.commit("Initial commit")
    repo.write(
        "config files/prod settings.py", f'# prod\nAPI_KEY = "{keys.gateway()}"\n'
    )
    repo.write("café/.env", f"GATEWAY_KEY={keys.gateway()}\n")
    repo.write("-dash.env", f"KEY={keys.gateway()}\n")
    repo.write("配置/密钥.txt", f"DEEPSEEK_API_KEY={keys.gateway_legacy()}\n")
    repo.add()
    expected = [
        ("-dash.env", 1),
        ("café/.env", 1),
        ("config files/prod settings.py", 2),
        ("配置/密钥.txt", 1),
    ]
    result = run_keyscan(["staged", "--format", "json"], repo.path)
    assert sorted(_paths(result)) == expected
    names = [p for p, _ in expected]
    result = run_keyscan(["staged", "--format", "json", *names], repo.path)
    assert sorted(_paths(result)) == expected


def test_staged_paths_from_subfolder(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("sub/dir/a.env", f"KEY={keys.gateway()}\n")
    repo.add()
    result = run_keyscan(["staged", "--format", "json", "dir/a.env"], repo.path / "sub")
    assert _paths(result) == [("sub/dir/a.env", 1)]


def test_staged_deleted_and_renamed(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    key = keys.gateway()
    repo.write("old.env", f"KEY={key}\n")
    repo.write("gone.env", f"KEY={keys.gateway()}\n")
    repo.add()
    repo.commit("Add files")
    repo.git("mv", "old.env", "new.env")
    repo.git("rm", "-q", "gone.env")
    result = run_keyscan(["staged", "--format", "json"], repo.path)
    assert _paths(result) == [("new.env", 1)]
    result = run_keyscan(["staged", "--format", "json", "gone.env"], repo.path)
    assert result.code == 0
    assert result.json()["summary"]["skipped"][0]["path"] == "gone.env"


def test_staged_honours_git_index_file(
    repo: Repo, keys: KeyGen, run_keyscan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("a.env", "A=1\n")
    repo.add()
    repo.commit("Add a")
    other = repo.path / ".git" / "other-index"
    shutil.copy(repo.path / ".git" / "index", other)
    repo.write("a.env", f"A={keys.gateway()}\n")
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(other)}
    subprocess.run(["git", "add", "a.env"], cwd=repo.path, env=env, check=True)
    assert run_keyscan(["staged"], repo.path).code == 0
    monkeypatch.setenv("GIT_INDEX_FILE", str(other))
    assert run_keyscan(["staged"], repo.path).code == 1


def test_staged_during_merge_conflict(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("config.env", "LEVEL=info\n")
    repo.add()
    repo.commit("Initial")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("config.env", "LEVEL=debug\n")
    repo.add()
    repo.commit("Debug")
    repo.git("checkout", "-q", "main")
    repo.write("config.env", "LEVEL=warn\n")
    repo.add()
    repo.commit("Warn")
    subprocess.run(
        ["git", "merge", "-q", "feature"],
        cwd=repo.path,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        check=False,
    )
    repo.write("config.env", f"LEVEL=debug\nKEY={keys.gateway()}\n")
    repo.add()
    result = run_keyscan(["staged", "--format", "json"], repo.path)
    assert _paths(result) == [("config.env", 2)]


def test_staged_outside_repository_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    result = run_keyscan(["staged"], tmp_path)
    assert result.code == 2
    assert "not a git repository" in result.stderr


def test_staged_unknown_dash_argument_exits_two(repo: Repo, run_keyscan: Any) -> None:
    result = run_keyscan(["staged", "--no-such-option"], repo.path)
    assert result.code == 2
    assert "--no-such-option" in result.stderr


def _install_hook(repo: Repo) -> dict[str, str]:
    """Install keyscan as the repository's pre-commit hook, through pre-commit."""
    config = (
        "repos:\n- repo: local\n  hooks:\n  - id: keyscan\n    name: keyscan\n"
        f"    entry: {sys.executable} -m keyscan staged\n    language: system\n"
        "    require_serial: true\n"
    )
    repo.write(".pre-commit-config.yaml", config)
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(repo.path.parent / "pc")}
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo.path,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def test_hook_blocks_commit_with_key(repo: Repo, keys: KeyGen) -> None:
    env = _install_hook(repo)
    repo.write("config files/prod settings.py", f'API_KEY = "{keys.gateway()}"\n')
    repo.git("add", "-A")
    done = subprocess.run(
        ["git", "commit", "-m", "Add settings"],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "config files/prod settings.py:1:12" in output
    assert "1 secret found" in output
    assert repo.git("rev-list", "--all") == ""


def test_hook_all_files_scans_everything(repo: Repo, keys: KeyGen) -> None:
    env = _install_hook(repo)
    repo.write("old.env", f"KEY={keys.gateway()}\n")
    repo.write("clean.py", "x = 1\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "Add files")
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "old.env:1:5" in done.stdout
    assert "scanned 3 files" in done.stdout


def test_staged_honours_config_exclude(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write(".keyscan.toml", 'exclude = ["fixtures/"]\n')
    repo.write("fixtures/sample.env", f"KEY={keys.gateway()}\n")
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    repo.add()
    result = run_keyscan(["staged", "--format", "json"], repo.path)
    assert _paths(result) == [("app.env", 1)]
