"""The on-disk cache of parsed files: damaged entries are misses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from keyscan import tomlcache

VALUE = {"rules": [("id", "regex", 1)], "count": 3}


@pytest.fixture(autouse=True)
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give each test its own cache folder."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("KEYSCAN_CACHE_DIR", str(folder))
    return folder


def entry_file(cache_folder: Path) -> Path:
    tomlcache.write_cached("key", VALUE)
    (entry,) = cache_folder.glob("*.marshal")
    return entry


def test_written_value_reads_back(cache_folder: Path) -> None:
    entry_file(cache_folder)
    assert tomlcache.read_cached("key") == VALUE


def test_other_key_misses(cache_folder: Path) -> None:
    entry_file(cache_folder)
    assert tomlcache.read_cached("other") is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: raw + b"x", id="extra byte"),
        pytest.param(lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), id="bit flip"),
        pytest.param(lambda raw: b"(\xff\xff\xff\x7f", id="huge tuple header"),
        pytest.param(lambda raw: b"[\xff\xff\xff\x7f", id="huge list header"),
        pytest.param(lambda raw: bytes(range(256)) * 20, id="garbage"),
    ],
)
def test_damaged_entry_is_a_quick_miss(cache_folder: Path, damage: object) -> None:
    entry = entry_file(cache_folder)
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    started = time.monotonic()
    assert tomlcache.read_cached("key") is None
    assert time.monotonic() - started < 1.0


def _restore_times(path: Path, before: os.stat_result) -> None:
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_swapped_file_same_size_and_mtime(tmp_path: Path) -> None:
    config = tmp_path / ".keyscan.toml"
    config.write_text('exclude = ["a"]\n')
    before = config.stat()
    assert tomlcache.load_toml(str(config)) == {"exclude": ["a"]}

    # Swap in another file of the same size, as cp -p or rsync would.
    replacement = tmp_path / "replacement.toml"
    replacement.write_text('exclude = ["b"]\n')
    _restore_times(replacement, before)
    os.replace(replacement, config)
    after = config.stat()
    assert after.st_size == before.st_size
    assert after.st_mtime_ns == before.st_mtime_ns

    assert tomlcache.load_toml(str(config)) == {"exclude": ["b"]}


def test_rewritten_file_same_size_and_mtime(tmp_path: Path) -> None:
    config = tmp_path / ".keyscan.toml"
    config.write_text('exclude = ["a"]\n')
    before = config.stat()
    assert tomlcache.load_toml(str(config)) == {"exclude": ["a"]}

    # Rewrite the same inode after the timestamp clock has ticked, then set
    # the modification time back, as touch -d would.
    time.sleep(0.05)
    config.write_text('exclude = ["b"]\n')
    _restore_times(config, before)
    after = config.stat()
    assert after.st_ino == before.st_ino
    assert after.st_mtime_ns == before.st_mtime_ns

    assert tomlcache.load_toml(str(config)) == {"exclude": ["b"]}


def test_unchanged_file_read_from_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / ".keyscan.toml"
    config.write_text('exclude = ["a"]\n')
    assert tomlcache.load_toml(str(config)) == {"exclude": ["a"]}

    def fail_parse(text: str) -> dict[str, object]:
        raise AssertionError("an unchanged file was parsed again")

    monkeypatch.setattr(tomlcache, "parse_toml", fail_parse)
    assert tomlcache.load_toml(str(config)) == {"exclude": ["a"]}
