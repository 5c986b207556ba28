"""Exit codes and the exception tree of keyscan.

KeyscanError                 an expected failure, printed as one line plus a hint
├── UsageError               a bad option, argument or path          (exit 2)
├── ConfigError              an invalid .keyscan.toml or [tool.keyscan] (exit 2)
├── RuleError                an invalid rule file or rule            (exit 2)
├── GitError                 a git command failed, or not a repository (exit 2)
├── BaselineError            a missing or malformed baseline file    (exit 2)
└── TokenApiError            a token API call failed in a way that stops the command
    └── CredentialsError     management credentials are missing      (exit 2)

Anything else that escapes is a bug: the CLI prints one line and exits with
``ExitCode.INTERNAL``.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes; the README documents the same table."""

    CLEAN = 0
    FINDINGS = 1
    ERROR = 2
    INTERNAL = 3


class KeyscanError(Exception):
    """An expected failure: the message names the value, the hint the fix."""

    exit_code = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(KeyscanError):
    """A bad option, argument or path on the command line."""


class ConfigError(KeyscanError):
    """An invalid configuration file or value."""


class RuleError(KeyscanError):
    """An invalid rule file or rule."""


class GitError(KeyscanError):
    """A git command failed, or the path is not a git repository."""


class BaselineError(KeyscanError):
    """A baseline file is missing or malformed."""


class TokenApiError(KeyscanError):
    """A token API call failed in a way that stops the command."""


class CredentialsError(TokenApiError):
    """Management credentials for revocation are missing or invalid."""
