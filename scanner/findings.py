"""Findings: the frozen values that flow from the engine to the reporters.

A finding never carries its raw secret into a report. The raw value stays in
``Finding.secret`` (excluded from ``repr`` and from ``to_dict``) only so that a
verifier or revoker in the same process can use it.

The value types here and in the engine are NamedTuples rather than frozen
dataclasses, because the pre-commit hook creates every class on each run. A
frozen dataclass costs about 1.6 ms to create and a NamedTuple 0.25 ms
(measured with Python 3.11 on the 2-core benchmark machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from keyscan.display import display_name

# Known prefixes stay visible in a redacted secret, because they tell the
# reader which kind of key leaked without revealing any of its random part.
_VISIBLE_PREFIXES = (
    "sk-ant-admin01-",
    "sk-ant-api03-",
    "sk-svcacct-",
    "sk-or-v1-",
    "sk-admin-",
    "sk-proj-",
    "sk-None-",
    "sk_live_",
    "rk_live_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "npm_",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "hf_",
    "sk-",
)


def redact(secret: str) -> str:
    """Return ``secret`` with all but a few characters at each end hidden.

    Secrets shorter than 12 characters show nothing but their length class,
    because a few characters of a short password are a large share of it.
    """
    if secret.startswith("-----BEGIN"):
        # A PEM block: its header names the key type and reveals nothing. The
        # block may be on one line, with "\\n" escapes or spaces for breaks.
        end = secret.find("-----", len("-----BEGIN"))
        header = secret[: end + 5] if end > 0 else "-----BEGIN"
        body = secret[len(header) :].split("-----END")[0]
        body = "".join(body.replace("\\n", "").replace("\\r", "").split())
        return f"{header} ...{body[-4:]} ({len(secret)} characters)"
    prefix = next((p for p in _VISIBLE_PREFIXES if secret.startswith(p)), "")
    body = secret[len(prefix) :]
    if len(body) < 12:
        return prefix + "*" * min(len(body), 8)
    shown = 4 if len(body) >= 24 else 2
    return f"{prefix}{body[:shown]}...{body[-shown:]}"


def fingerprint(rule_id: str, secret: str) -> str:
    """Return the content fingerprint of a secret found by a rule.

    It depends only on the rule id and the secret, never on the location, so
    moved lines, renames and rebases keep it.
    """
    import hashlib

    digest = hashlib.sha256(f"{rule_id}\0{secret}".encode()).hexdigest()
    return digest[:32]


def secret_hash(secret: str) -> str:
    """Return a stable hash of a secret alone, used as the verification cache key."""
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()


class Verification(NamedTuple):
    """The result of checking one key with a token API."""

    status: str  # live, restricted, dead or unknown
    reason: str
    verifier: str | None = None
    quota_remaining: float | None = None
    unlimited_quota: bool | None = None
    expires_at: int | None = None
    checked_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used in reports."""
        return self._asdict()


class Finding(NamedTuple):
    """One secret at one place.

    ``line`` and ``column`` are 1-based and count characters of the decoded
    text. ``path`` is None for commit and tag messages. The history fields
    (``commit``, ``author_name``, ``author_email``, ``date``) are None outside
    history scans. ``occurrences`` counts the places that contain the
    same secret, and ``present_at_head`` is True when the file at ``path``
    in HEAD still contains it (history scans only).
    """

    rule_id: str
    description: str
    path: str | None
    line: int
    column: int
    secret_redacted: str
    fingerprint: str
    issuer: str | None = None
    issuer_source: str | None = None
    snippet: str = ""
    commit: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    date: str | None = None
    ref: str | None = None
    occurrences: int | None = None
    present_at_head: bool | None = None
    context_hosts: tuple[str, ...] = ()
    verification: Verification | None = None
    secret: str = ""

    def __repr__(self) -> str:
        # The default repr would show the raw secret in tracebacks and logs.
        return (
            f"Finding(rule_id={self.rule_id!r}, path={self.path!r}, line={self.line}, "
            f"secret_redacted={self.secret_redacted!r})"
        )

    def replace(self, **changes: Any) -> Finding:
        """Return a copy with ``changes`` applied."""
        return self._replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form; the raw secret is never part of it."""
        data = self._asdict()
        del data["secret"]
        data["context_hosts"] = list(self.context_hosts)
        if self.verification is not None:
            data["verification"] = self.verification.to_dict()
        return data


class Skipped(NamedTuple):
    """A unit that was not scanned, or not scanned completely, and why."""

    path: str
    reason: str


class Summary:
    """Counters of one run, reported on stderr and in JSON."""

    def __init__(self) -> None:
        self.files_scanned = 0
        self.bytes_scanned = 0
        # Commit and tag messages, counted by history scans only. Tag messages
        # are part of messages_scanned and also counted in tags_scanned.
        self.messages_scanned = 0
        self.tags_scanned = 0
        self.skipped: list[Skipped] = []
        self.findings = 0
        self.duration_s = 0.0
        self.notes: list[str] = []
        self.extra: dict[str, Any] = {}

    def skip(self, path: str, reason: str) -> None:
        """Record that ``path`` was not scanned completely, and why.

        ``path`` may come from the command line or the file system, so bytes
        that are not UTF-8 are stored as escapes (see ``display_name``).
        """
        self.skipped.append(Skipped(display_name(path), reason))

    @property
    def nothing_scanned(self) -> bool:
        """Whether the run read no file and no commit or tag message."""
        return self.files_scanned == 0 and self.messages_scanned == 0

    def skipped_by_reason(self) -> Mapping[str, int]:
        """Return how many units were skipped for each kind of reason.

        Details in brackets, such as a file's size, do not split a kind.
        """
        counts: dict[str, int] = {}
        for item in self.skipped:
            kind = item.reason.split(" (")[0]
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the summary."""
        data: dict[str, Any] = {
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "messages_scanned": self.messages_scanned,
            "tags_scanned": self.tags_scanned,
            "skipped": [item._asdict() for item in self.skipped],
            "findings": self.findings,
            "duration_s": round(self.duration_s, 3),
        }
        if self.notes:
            data["notes"] = list(self.notes)
        data.update(self.extra)
        return data
