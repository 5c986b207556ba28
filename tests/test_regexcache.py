"""The on-disk cache of compiled regexes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import regex

from keyscan import regexcache, tomlcache

SLOW = r"slow(a|aa)*b"
WORD = r"(?i)\bpass(?:word)?\s*=\s*(\w{8,})"


@pytest.fixture(autouse=True)
def fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each test its own cache folder and an empty in-process store."""
    monkeypatch.setenv("KEYSCAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(regexcache, "_store", None)


def new_process_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the in-process patterns, as a new keyscan process would."""
    monkeypatch.setattr(regexcache, "_store", None)


def forbid_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(text: str, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"regex.compile was called for {text!r}")

    monkeypatch.setattr(regex, "compile", fail)


def test_saved_pattern_rebuilds_without_compiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    regexcache.compile_pattern(WORD)
    regexcache.save_compiled()
    new_process_view(monkeypatch)
    forbid_compile(monkeypatch)
    pattern = regexcache.compile_pattern(WORD)
    found = pattern.search("PassWord = hunter2hunter2")
    assert found is not None
    assert found.group(1) == "hunter2hunter2"


def test_rebuilt_pattern_keeps_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    regexcache.compile_pattern(SLOW)
    regexcache.save_compiled()
    new_process_view(monkeypatch)
    pattern = regexcache.compile_pattern(SLOW)
    assert SLOW in regexcache._get_store().entries()
    assert SLOW not in regexcache._get_store().added  # rebuilt, not compiled
    with pytest.raises(TimeoutError):
        pattern.search("slow" + "a" * 40 + "c", timeout=0.1)


def test_damaged_entry_is_compiled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    store = regexcache._get_store()
    assert store.key is not None
    tomlcache.write_cached(store.key, {WORD: ("not", "opcodes"), SLOW: (1, 2, 3)})
    new_process_view(monkeypatch)
    pattern = regexcache.compile_pattern(WORD)
    assert pattern.pattern == WORD
    assert pattern.search("password = abcdefgh12") is not None
    assert WORD in regexcache._get_store().added


def test_entry_of_another_text_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    store = regexcache._get_store()
    other = regexcache.compile_pattern(r"other\d+")
    data = regexcache._reduce(store, other)
    assert store.key is not None
    tomlcache.write_cached(store.key, {WORD: data})
    new_process_view(monkeypatch)
    pattern = regexcache.compile_pattern(WORD)
    assert pattern.pattern == WORD


def test_other_regex_build_shares_no_entries(tmp_path: Path) -> None:
    regexcache.compile_pattern(WORD)
    regexcache.save_compiled()
    other_build = tmp_path / "_regex.so"
    other_build.write_bytes(b"another build")
    engine = ModuleType("regex._regex")
    engine.__file__ = str(other_build)
    store = regexcache._Store(engine)
    assert store.key != regexcache._get_store().key
    assert store.entries() == {}


def test_invalid_pattern_raises_regex_error() -> None:
    with pytest.raises(regex.error):
        regexcache.compile_pattern("(unclosed")


def test_unwritable_cache_folder_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("KEYSCAN_CACHE_DIR", str(blocker / "cache"))
    regexcache.compile_pattern(WORD)
    regexcache.save_compiled()  # the folder cannot be made under a file


def test_entry_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regexcache, "_MAX_ENTRIES", 5)
    for index in range(8):
        regexcache.compile_pattern(f"word{index}")
    regexcache.save_compiled()
    new_process_view(monkeypatch)
    newest = list(regexcache._get_store().entries())
    assert newest == [f"word{index}" for index in range(3, 8)]


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    """Return the environment of a child process with its own cache folder."""
    env = dict(os.environ)
    env["KEYSCAN_CACHE_DIR"] = str(tmp_path / "child-cache")
    return env


def run_python(code: str, env: dict[str, str]) -> str:
    """Run ``code`` in a new Python process and return its stripped stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_scan_reuses_cache_of_earlier_scan(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    target = tmp_path / "settings.py"
    target.write_text("password = 'Zq8vLm2nPx4tRw'\n")
    command = [sys.executable, "-m", "keyscan", "scan", str(target), "-q"]
    first = subprocess.run(command, env=child_env, capture_output=True)
    assert first.returncode == 1, first.stderr
    count = (
        "from keyscan import regexcache; print(len(regexcache._get_store().entries()))"
    )
    assert int(run_python(count, child_env)) > 0
    second = subprocess.run(command, env=child_env, capture_output=True)
    assert second.returncode == 1
    assert second.stdout == first.stdout


def test_warm_scan_skips_python_half_of_regex(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    target = tmp_path / "settings.py"
    target.write_text("password = 'Zq8vLm2nPx4tRw'\n")
    probe = f"""
import sys
from keyscan.cli.run import build_engine
from keyscan.config import load_config
from keyscan import regexcache
engine = build_engine(load_config({str(tmp_path)!r}, None))
data = open({str(target)!r}, "rb").read()
secrets = [m.secret for m in engine.scan(data, "settings.py").matches]
regexcache.save_compiled()
print(secrets, "regex._regex_core" in sys.modules)
"""
    # The first run compiles the rules; later runs rebuild them.
    assert run_python(probe, child_env) == "['Zq8vLm2nPx4tRw'] True"
    assert run_python(probe, child_env) == "['Zq8vLm2nPx4tRw'] False"


def test_timeout_works_without_python_half(child_env: dict[str, str]) -> None:
    fill = f"""
from keyscan import regexcache
regexcache.compile_pattern({SLOW!r})
regexcache.save_compiled()
"""
    check = f"""
import sys
from keyscan import regexcache
pattern = regexcache.compile_pattern({SLOW!r})
assert "regex._regex_core" not in sys.modules
try:
    pattern.search("slow" + "a" * 40 + "c", timeout=0.1)
except TimeoutError:
    print("timed out")
"""
    run_python(fill, child_env)
    assert run_python(check, child_env) == "timed out"
