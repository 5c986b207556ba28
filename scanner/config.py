"""The user's configuration: ``.keyscan.toml`` or ``[tool.keyscan]`` in
``pyproject.toml``, validated into a frozen Config.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from keyscan.errors import ConfigError

DEFAULT_MAX_FILE_SIZE = 25 * 1024 * 1024
# Files are read whole into memory, so a larger limit could never be used.
# The limit plus one must also fit in the C ssize_t that read() takes, which
# caps it at 2 GiB on 32-bit builds.
MAX_FILE_SIZE_LIMIT = min(1024 * 2**30, sys.maxsize - 1)
MAX_FILE_SIZE_TEXT = (
    f"{MAX_FILE_SIZE_LIMIT // 2**30}GiB"
    if MAX_FILE_SIZE_LIMIT % 2**30 == 0
    else f"{MAX_FILE_SIZE_LIMIT} bytes"
)
# The accepted forms of a size, for help texts and error hints.
SIZE_FORMAT = (
    "a number of bytes, or a number with one of the units B, KB, MB, GB "
    "(powers of 1000) or KiB, MiB, GiB (powers of 1024), in any case, such as "
    "25MiB, 1.5 GB or 500kb"
)
_SIZE = r"\s*(\d+(?:\.\d+)?)\s*(|b|kb|kib|mb|mib|gb|gib)\s*"
_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20}
_UNITS.update({"gb": 10**9, "gib": 2**30})
# Sections owned by the verification, revocation and CI features; they are
# validated where they are used.
_SECTIONS = ("gateways", "verify", "revoke", "ci")
_KEYS = (
    "exclude",
    "disable_rules",
    "rule_files",
    "rules",
    "allow_secrets",
    "allow_fingerprints",
    "max_file_size",
    *_SECTIONS,
)


class Config(NamedTuple):
    """Validated settings; paths in ``rule_files`` are absolute."""

    source: str | None = None
    exclude: tuple[str, ...] = ()
    disable_rules: tuple[str, ...] = ()
    rule_files: tuple[str, ...] = ()
    rules: tuple[Mapping[str, Any], ...] = ()
    allow_secrets: tuple[str, ...] = ()
    allow_fingerprints: frozenset[str] = frozenset()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    sections: Mapping[str, Mapping[str, Any]] = {}

    def section(self, name: str) -> Mapping[str, Any]:
        """Return a feature's own section (``gateways``, ``verify``, ...) or {}."""
        return self.sections.get(name, {})


def find_config(start: str) -> str | None:
    """Return the config file that applies in folder ``start``, if any.

    The search goes up from ``start`` and stops at the top of the git work
    tree (the folder holding ``.git``), so a scan from a subfolder uses the
    repository's config. ``.keyscan.toml`` wins over ``pyproject.toml``.
    """
    folder = os.path.abspath(start)
    while True:
        dedicated = os.path.join(folder, ".keyscan.toml")
        if os.path.isfile(dedicated):
            return dedicated
        pyproject = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(pyproject) and _has_keyscan_table(pyproject):
            return pyproject
        parent = os.path.dirname(folder)
        if os.path.exists(os.path.join(folder, ".git")) or parent == folder:
            return None
        folder = parent


def _has_keyscan_table(pyproject: str) -> bool:
    try:
        with open(pyproject, "rb") as handle:
            return b"[tool.keyscan" in handle.read()
    except OSError:
        return False


def load_config(root: str, explicit: str | None = None) -> Config:
    """Load the config named by ``explicit``, or the one found in ``root``.

    Raises ConfigError naming the file and key when the content is invalid.
    """
    path = explicit or find_config(root)
    if path is None:
        return Config()
    data = _read(path, explicit is not None)
    if os.path.basename(path) == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("keyscan", {}) if isinstance(tool, dict) else {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path}: [tool.keyscan] must be a table",
                "write the settings under a [tool.keyscan] header",
            )
    return parse_config(data, path)


def _read(path: str, explicit: bool) -> dict[str, Any]:
    from keyscan.tomlcache import load_toml, toml_decode_error

    try:
        return load_toml(path)
    except FileNotFoundError as error:
        raise ConfigError(
            f"config file not found: {path}", "check the path given to --config"
        ) from error
    except OSError as error:
        raise ConfigError(
            f"cannot read config file {path}: {error.strerror}",
            "check the file's permissions, or pass another file with --config",
        ) from error
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file {path} is not valid UTF-8 (byte {error.start})",
            "TOML files must be UTF-8; save the file as UTF-8",
        ) from error
    except toml_decode_error() as error:
        raise ConfigError(
            f"invalid TOML in config file {path}: {error}",
            "fix the syntax; the file must be valid TOML",
        ) from error


def parse_config(data: Mapping[str, Any], path: str) -> Config:
    """Validate the keyscan table ``data`` read from ``path``."""
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown keyscan setting {unknown[0]!r}",
            f"valid settings are: {', '.join(_KEYS)}",
        )
    folder = os.path.dirname(os.path.abspath(path))
    rules = data.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError(
            f"{path}: 'rules' must be an array of tables ([[rules]])",
            "write inline rules as [[rules]] tables; to load rule files, "
            'use rule_files = ["my-rules.toml"]',
        )
    sections = {}
    for name in _SECTIONS:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(
                f"{path}: '{name}' must be a table, not {value!r}",
                f"write it as a [{name}] table",
            )
        sections[name] = value
    return Config(
        source=path,
        exclude=_strings(data, "exclude", path),
        disable_rules=_strings(data, "disable_rules", path),
        rule_files=tuple(
            os.path.join(folder, f) for f in _strings(data, "rule_files", path)
        ),
        rules=tuple(rules),
        allow_secrets=_regexes(data, path),
        allow_fingerprints=frozenset(_strings(data, "allow_fingerprints", path)),
        max_file_size=parse_size(
            data.get("max_file_size", DEFAULT_MAX_FILE_SIZE), path
        ),
        sections=sections,
    )


def _strings(data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{path}: '{key}' must be a list of strings, not {value!r}",
            f'write it as {key} = ["..."]',
        )
    return tuple(value)


def _regexes(data: Mapping[str, Any], path: str) -> tuple[str, ...]:
    patterns = _strings(data, "allow_secrets", path)
    if not patterns:
        return patterns
    # The engine matches these with the regex module, so they are checked with
    # it. The compiled patterns are kept, and a warm cache makes this cheap.
    from keyscan.regexcache import compile_pattern

    for pattern in patterns:
        try:
            compile_pattern(pattern)
        except Exception as error:
            # Only a pattern missing from the cache is compiled, and compiling
            # imports regex, so importing it here costs nothing more.
            import regex

            if not isinstance(error, regex.error):
                raise
            raise ConfigError(
                f"{path}: invalid regex in allow_secrets {pattern!r}: {error}",
                "fix the pattern at the position shown and write it in single "
                "quotes, so TOML keeps backslashes; test it with: python3 -c "
                "\"import regex; regex.compile(r'PATTERN')\"",
            ) from error
    return patterns


def parse_size(value: object, path: str = "--max-file-size") -> int:
    """Return a size such as ``25MiB``, ``500 kB`` or ``1048576`` in bytes.

    Raises ConfigError naming ``path`` and the value when the size is not
    valid or is outside 1 byte to MAX_FILE_SIZE_LIMIT.
    """
    size = 0
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        found = re.fullmatch(_SIZE, value, re.IGNORECASE)
        if found:
            # Fraction, not float, because float() turns a long number into
            # inf. It is imported here because the hook rarely needs it.
            from fractions import Fraction

            number = Fraction(found.group(1)) * _UNITS[found.group(2).lower()]
            size = int(number)
    largest = MAX_FILE_SIZE_TEXT
    if size > MAX_FILE_SIZE_LIMIT:
        raise ConfigError(
            f"{path}: size {value!r} is too large (the maximum is {largest})",
            f"give a size from 1 byte to {largest}: {SIZE_FORMAT}",
        )
    if size <= 0:
        # A size of 0 would skip every file and report a clean scan.
        raise ConfigError(
            f"{path}: invalid size {value!r}",
            f"give a size from 1 byte to {largest}: {SIZE_FORMAT}",
        )
    return size
