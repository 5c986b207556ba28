"""The human-readable report: where each secret is and what to do next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keyscan.display import count_noun, escape_unprintable
from keyscan.findings import Finding, Summary

_BOLD = "\033[1m"
_RED = "\033[31m"
_YELLOW = "\033[33m"
_RESET = "\033[0m"

_ADVICE = {
    "staged": (
        "Remove each secret from the staged file, stage the change again (git add),",
        "then commit. Rotate any key that was ever pushed.",
    ),
    "history": (
        "Each key stays usable while it is in the history: revoke or rotate it at its",
        "issuer first; rewriting history alone does not make a leaked key safe.",
    ),
}
_DEFAULT_ADVICE = (
    "Revoke or rotate each key at its issuer, then load it from the environment or",
    "a secret store instead of the file.",
)
_ALLOW_HINT = (
    "A false alarm? Put 'keyscan:allow' in a comment on that line, or add the",
    "fingerprint to allow_fingerprints in {config}.",
)
# keyscan verify reads keys from stdin, where no line can carry a comment.
_VERIFY_ALLOW_HINT = (
    "A key that must stay? Add its fingerprint to allow_fingerprints in {config}.",
)


def render(
    findings: Sequence[Finding],
    summary: Summary,
    *,
    show_secrets: bool = False,
    color: bool = False,
    command: str = "scan",
    config_path: str | None = None,
    **_: Any,
) -> str:
    """Return the findings as text, one block per finding, then the advice.

    ``config_path`` is the config file in use, which the advice names.
    """
    if not findings:
        return ""
    paint = _painter(color)
    blocks = [_block(f, paint, show_secrets) for f in findings]
    advice = _ADVICE.get(command, _DEFAULT_ADVICE)
    footer = [paint(_BOLD, "What to do:"), *("  " + line for line in advice)]
    hint = _VERIFY_ALLOW_HINT if command == "verify" else _ALLOW_HINT
    config = config_path or ".keyscan.toml"
    footer += ["  " + line.format(config=config) for line in hint]
    return "\n".join(blocks) + "\n" + "\n".join(footer) + "\n"


def _painter(color: bool) -> Any:
    def paint(style: str, value: str) -> str:
        return f"{style}{value}{_RESET}" if color else value

    return paint


def _block(finding: Finding, paint: Any, show_secrets: bool) -> str:
    where = _location(finding)
    head = (
        f"{paint(_RED, where)}  {paint(_BOLD, finding.rule_id)}  {finding.description}"
    )
    lines = [head]
    if finding.snippet:
        lines.append(f"    {finding.snippet}")
    secret = finding.secret if show_secrets else finding.secret_redacted
    details = [f"secret {secret}"]
    if finding.issuer:
        source = (
            f" ({finding.issuer_source})" if finding.issuer_source == "default" else ""
        )
        details.append(f"issuer {finding.issuer}{source}")
    details.append(f"fingerprint {finding.fingerprint}")
    lines.append("    " + " | ".join(details))
    if finding.commit:
        lines.append("    " + _provenance(finding))
    if finding.verification is not None:
        status = finding.verification.status
        style = _RED if status in ("live", "restricted") else _YELLOW
        lines.append(
            f"    key is {paint(style, status)}: {finding.verification.reason}"
        )
    return "\n".join(lines) + "\n"


def _location(finding: Finding) -> str:
    # A file name can hold control characters, such as a newline followed by
    # a GitHub workflow command, so it is escaped like a snippet.
    if finding.path is not None and not finding.path.isprintable():
        escaped = escape_unprintable(finding.path)
        return f"{escaped}:{finding.line}:{finding.column}"
    if finding.path is None:
        target = finding.ref or (finding.commit or "")[:12]
        if not target:
            # A key given on stdin (keyscan verify): line is the input line.
            return f"<stdin>:{finding.line}"
        return f"message of {target}:{finding.line}:{finding.column}"
    return f"{finding.path}:{finding.line}:{finding.column}"


def _provenance(finding: Finding) -> str:
    text = f"introduced in {(finding.commit or '')[:12]}"
    if finding.author_name or finding.author_email:
        text += f" by {finding.author_name} <{finding.author_email}>"
    if finding.date:
        text += f" on {finding.date}"
    if finding.occurrences and finding.occurrences > 1:
        text += f"; present in {finding.occurrences} commit/path pairs"
    if finding.present_at_head is not None:
        text += "; still in HEAD" if finding.present_at_head else "; not in HEAD"
    return text


def summary_line(summary: Summary, *, color: bool = False) -> str:
    """Return the one-line summary printed on stderr after every scan."""
    text = (
        f"keyscan: scanned {scanned_units(summary, size=True)} "
        f"in {summary.duration_s:.2f} s: "
    )
    if summary.findings:
        found = f"{count_noun(summary.findings, 'secret')} found"
        text += f"{_RED}{found}{_RESET}" if color else found
    else:
        text += "no secrets found"
    reasons = summary.skipped_by_reason()
    if reasons:
        parts = ", ".join(
            f"{count} {reason}" for reason, count in sorted(reasons.items())
        )
        text += f"; skipped {len(summary.skipped)}: {parts}"
    if summary.nothing_scanned:
        text += " (nothing was scanned)"
    lines = [text]
    lines.extend(f"keyscan: note: {note}" for note in summary.notes)
    return "\n".join(lines)


def scanned_units(summary: Summary, *, size: bool = False) -> str:
    """Return what a run scanned: ``6 files``, or ``0 files and 1 commit message``.

    Messages appear only when a history scan read some. ``size`` adds the
    bytes of the files read, such as ``6 files (1.2 KiB)``.
    """
    files = count_noun(summary.files_scanned, "file")
    if size:
        files += f" ({_human_bytes(summary.bytes_scanned)})"
    parts = [files]
    commit_messages = summary.messages_scanned - summary.tags_scanned
    if commit_messages:
        parts.append(count_noun(commit_messages, "commit message"))
    if summary.tags_scanned:
        parts.append(count_noun(summary.tags_scanned, "tag message"))
    if len(parts) == 1:
        return files
    return ", ".join(parts[:-1]) + f" and {parts[-1]}"


def _human_bytes(count: int) -> str:
    if count < 1024:
        return count_noun(count, "byte")
    value = count / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
