"""Shared fixtures: git repositories in tmp_path, an in-process CLI runner,
the loopback token API server and the network guard."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from keyscan.cli.entry import main
from tests.keygen import KeyGen
from tests.tokenapi_server import ServerState, TokenApiServer

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_AUTHOR_DATE": "2024-03-01T10:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-03-01T10:00:00+0000",
}


class Repo:
    """A git repository in a temporary folder with a pinned identity."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")
        self.git("config", "core.autocrlf", "false")

    def git(self, *args: str, input: bytes | None = None) -> str:
        """Run git in the repository and return its output."""
        done = subprocess.run(
            ["git", "-c", "core.hooksPath=/dev/null", *args],
            cwd=self.path,
            env={**os.environ, **GIT_ENV},
            input=input,
            capture_output=True,
            check=True,
        )
        return done.stdout.decode("utf-8", "replace")

    def write(self, name: str, content: str | bytes) -> Path:
        """Write a file (creating folders) and return its path."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_bytes(content.encode("utf-8"))
        else:
            target.write_bytes(content)
        return target

    def add(self, *names: str) -> None:
        """Stage files (all changes when no names are given)."""
        self.git("add", "-A", "--", *names) if names else self.git("add", "-A")

    def commit(self, message: str = "Change files") -> str:
        """Commit everything staged and return the commit id."""
        self.git("commit", "-q", "--no-verify", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


class Result:
    """The outcome of one keyscan run."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    def json(self) -> Any:
        """Return stdout parsed as JSON."""
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return (
            f"Result(code={self.code}, stdout={self.stdout!r}, stderr={self.stderr!r})"
        )


@pytest.fixture
def keys() -> KeyGen:
    """Return a key generator with a fixed seed."""
    return KeyGen(1234)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """Return an empty git repository."""
    return Repo(tmp_path / "repo")


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep the user's git config and keyscan cache out of every test."""
    monkeypatch.setenv(
        "KEYSCAN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache")
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "GIT_INDEX_FILE",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "NO_COLOR",
        "FORCE_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def run_keyscan(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Return a function that runs keyscan in-process in a folder."""

    def run(args: Sequence[str], cwd: Path | str) -> Result:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(list(args))
        out, err = capsys.readouterr()
        code = done.value.code
        return Result(int(code) if code is not None else 0, out, err)

    return run


_ENV_PREFIXES = ("MODELSTREAM_", "KEYSCAN_VERIFY_")


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any test that resolves a name or connects beyond loopback.

    Name resolution of anything but loopback literals and ``localhost`` is
    refused before a query leaves the process.
    """
    violations: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        inet = self.family in (socket.AF_INET, socket.AF_INET6)
        if inet and not _is_loopback(str(address[0])):
            violations.append(f"connect to {address[0]}")
            raise AssertionError(f"test tried to connect to {address[0]}")
        real_connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if not _is_loopback(name):
            violations.append(f"resolve {name}")
            raise AssertionError(f"test tried to resolve {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield violations
    assert violations == [], f"network access beyond loopback: {violations}"


@pytest.fixture(autouse=True)
def clean_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove gateway URLs and credentials inherited from the environment."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def fake_gateway() -> Iterator[TokenApiServer]:
    """Run a fake new-api gateway (current era) on 127.0.0.1."""
    server = TokenApiServer(ServerState()).start()
    try:
        yield server
    finally:
        server.stop()
