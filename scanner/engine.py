"""The detection engine: keyword prefilter, rules on windows, entropy, allow checks.

The engine turns bytes into matches. It works on rules and text only: it never
prints, and never touches git, the terminal or the network.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from keyscan import text as textmod
from keyscan.findings import fingerprint, redact
from keyscan.ruleset import Rule, RuleSet, ascii_regex

# Characters of context searched around a keyword on long lines, before and
# after it. Every rule's match must fit in this window around its keyword.
_WINDOW_BEFORE = 400
_WINDOW_AFTER = 1200
# Multi-line rules (private keys) search this many characters after a keyword.
_MULTILINE_AFTER = 20000
# On binary data only precise rules run; generic assignment rules would turn
# random bytes into noise.
_BINARY_MIN_PRIORITY = 20
# Rules of at least this priority match exact key formats. They run on the
# text, and again on a copy in which escape sequences (\n, \u0022, %20, ANSI
# colour codes) are blanked. So a key written right after one, as in
# "key:\nsk-..." or "Bearer%20sk-...", still has a boundary before it.
# Blanking keeps every offset, so positions stay exact. Generic rules,
# multi-line rules and rules whose regex itself matches a backslash or a
# percent sign see the text as it is, because their matches may contain such
# sequences.
_EXACT_MIN_PRIORITY = 30
# Each pattern starts with one literal character, which lets the re module
# skip ahead to it: one pattern with three different first characters made
# the blanking 20 times slower.
_ESCAPES = (
    # backslash escapes, also doubly escaped (JSON inside JSON), and ANSI
    # colour codes escaped as in notebook outputs
    (
        "\\",
        r"\\\\*(?:(?:u001[bB]|x1[bB]|033|e)\[[0-9;]*[A-Za-z]|u[0-9A-Fa-f]{4}"
        r"|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|[0-7]{1,3}|.)",
    ),
    # URL encoding, also done twice (%2520)
    ("%", r"%(?:25)*[0-9A-Fa-f]{2}"),
    # raw ANSI colour codes in logs
    ("\x1b", r"\x1b\[[0-9;]*[A-Za-z]"),
)
_SNIPPET_CONTEXT = 40
# Snippets redact other key-like tokens of at least this many characters.
_MIN_MASKED = 12
_KEY_LIKE = r"[^\s\"'`,;:=()<>{}\[\]|\\]{12,}"
# A rule runs once over the whole text, instead of once per window, when its
# keywords occur more than this many times. It also does so when its windows
# cover more than half of the text, because one regex pass then costs less.
# On click's and flask's trees and histories, 64 was faster than 2000.
_MAX_WINDOWS = 64
# After a rule times out, each rule still to run gets this many seconds, so a
# slow generic rule cannot stop the exact key formats from running.
_GRACE_S = 1.0
# Path checks are cached per path; the cache is emptied at this size so a
# long history scan keeps its memory bounded.
_PATH_CACHE_SIZE = 20000

_ALLOW_INLINE = ("keyscan:allow", "gitleaks:allow", "pragma: allowlist secret")
_ALLOW_NEXT_LINE = ("keyscan:allow-next-line", "pragma: allowlist nextline secret")
# Values that are documentation, not secrets, whatever rule matched them.
_PLACEHOLDER_MARKERS = (
    "xxxx",
    "****",
    "....",
    "<",
    ">",
    "${",
    "{{",
    "}}",
    "$(",
    "%(",
    "your_",
    "your-",
    "yourkey",
    "changeme",
    "change_me",
    "placeholder",
    "example",
    "redacted",
    "replace_me",
    "insert_",
)
# Names of gateways that issue keys, searched in the whole text of a file.
_ISSUER_CONTEXT = (("modelstream", "ModelStream"),)


class AllowList(NamedTuple):
    """Secrets the user allowed in the config: regexes and fingerprints."""

    regexes: tuple[str, ...] = ()
    fingerprints: frozenset[str] = frozenset()


class Match(NamedTuple):
    """A secret found by a rule in one unit of text."""

    rule: Rule
    secret: str
    offset: int
    line: int
    column: int
    snippet: str
    issuer: str | None
    issuer_source: str | None
    context_hosts: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Match(rule={self.rule.id!r}, line={self.line}, column={self.column})"

    @property
    def fingerprint(self) -> str:
        """Return the content fingerprint of this match."""
        return fingerprint(self.rule.id, self.secret)


class ScanResult(NamedTuple):
    """The matches in one unit, and why it was not scanned completely, if so."""

    matches: list[Match]
    skipped_reason: str | None = None
    encoding: str = "utf-8"
    scanned: bool = True


class _Candidate(NamedTuple):
    rule: Rule
    start: int
    end: int
    secret: str


class _CompiledRule:
    """A rule with its regexes compiled, each the first time it is needed.

    The path patterns come first: a rule that does not apply to a path never
    needs its main regex there.
    """

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self._pattern: Any = None
        self._allow: list[Any] | None = None
        self.paths = _path_pattern(rule.paths_regex)
        self.exclude_paths = _path_pattern(rule.exclude_regex)
        self.path_key = (rule.paths_regex, rule.exclude_regex)
        self.unescaped = (
            rule.priority >= _EXACT_MIN_PRIORITY
            and not rule.multiline
            and "\\\\" not in rule.regex
            and "%" not in rule.regex
        )

    @property
    def pattern(self) -> Any:
        """Return the rule's regex, compiled on first use."""
        if self._pattern is None:
            self._pattern = compile_pattern(ascii_regex(self.rule.regex))
        return self._pattern

    @property
    def allow(self) -> list[Any]:
        """Return the allow regexes, compiled when a secret first needs them.

        Most runs of a rule find nothing, so most runs need none of them.
        """
        if self._allow is None:
            self._allow = [compile_pattern(p) for p in self.rule.allow_regexes]
        return self._allow


def _path_pattern(text: str | None) -> Any:
    return None if text is None else compile_pattern(text)


def compile_pattern(text: str) -> Any:
    """Compile ``text`` with the regex module, through keyscan's compiled cache."""
    # Imported here, so a run whose text contains no rule keyword never loads
    # the regex module.
    from keyscan.regexcache import compile_pattern as compile_cached

    return compile_cached(text)


class Engine:
    """Scan bytes with a rule set.

    Rules are compiled once per process, lazily: a rule's regex is compiled
    only when one of its keywords occurs in scanned text. Regex evaluation of
    one unit is bounded by ``unit_timeout_s``. A unit that exceeds it keeps
    the matches found so far, and is reported as skipped with the reason.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        allow: AllowList | None = None,
        *,
        unit_timeout_s: float = 10.0,
    ) -> None:
        self.ruleset = ruleset
        self._rules = ruleset.rules
        self._allow = allow or AllowList()
        self._allow_patterns: list[Any] | None = None
        self._unit_timeout_s = unit_timeout_s
        self._compiled: dict[int, _CompiledRule] = {}
        self._path_cache: dict[tuple[object, str], bool] = {}
        self._by_keyword: dict[str, list[int]] = {}
        for index, rule in enumerate(self._rules):
            for keyword in rule.keywords:
                self._by_keyword.setdefault(keyword, []).append(index)
        from keyscan.keywords import KeywordMatcher

        self._matcher = KeywordMatcher(list(self._by_keyword))

    def scan(self, data: bytes, path: str | None) -> ScanResult:
        """Return the matches of every rule in ``data``, read from ``path``."""
        sniffed = textmod.sniff(data)
        found: dict[str, list[int] | None] | None = None
        if sniffed.encoding is None:
            # ASCII-compatible bytes: the prefilter runs before any decoding,
            # and most files end here.
            found = self._matcher.find_in(textmod.lower_ascii(data))
            if not found:
                return ScanResult([], encoding="binary" if sniffed.binary else "ascii")
            if not data.isascii():
                # Byte offsets of keywords equal text offsets only in ASCII.
                found = dict.fromkeys(found)
        text, encoding = textmod.decode(data, sniffed)
        return self.scan_text(text, path, encoding=encoding, found=found)

    def scan_text(
        self,
        text: str,
        path: str | None,
        *,
        encoding: str = "utf-8",
        found: dict[str, list[int] | None] | None = None,
    ) -> ScanResult:
        """Return the matches of every rule in decoded ``text``.

        ``found`` maps the keywords in the text to their offsets in it (or to
        None), when the caller has them.
        """
        lowered = ""
        if found is None or None in found.values():
            # Keyword offsets are searched in the lowered text; with offsets
            # from the prefilter (ASCII text) the copy is not needed.
            lowered = textmod.lower_ascii_text(text)
        if found is None:
            encoded = lowered.encode("utf-8", "surrogatepass")
            found = self._matcher.find_in(textmod.lower_ascii(encoded))
            if not text.isascii():
                found = dict.fromkeys(found)
        rule_indexes = sorted({i for k in found for i in self._by_keyword[k]})
        binary = encoding == "binary"
        deadline = time.monotonic() + self._unit_timeout_s
        candidates: list[_Candidate] = []
        timed_out: list[str] = []
        texts_for_exact_rules: tuple[str, ...] | None = None
        # Exact key formats (high priority) run first, generic rules last.
        rule_indexes.sort(key=lambda i: (-self._rules[i].priority, i))
        for index in rule_indexes:
            rule = self._rules[index]
            if binary and rule.priority < _BINARY_MIN_PRIORITY:
                continue
            compiled = self._compiled_rule(index)
            if not self._path_applies(compiled, path):
                continue
            if timed_out:
                deadline = max(deadline, time.monotonic() + _GRACE_S)
            subjects: tuple[str, ...] = (text,)
            if compiled.unescaped:
                if texts_for_exact_rules is None:
                    # Computed once per text, for the first exact rule that runs.
                    unescaped = _blank_escapes(text)
                    texts_for_exact_rules = (
                        (text,) if unescaped == text else (text, unescaped)
                    )
                subjects = texts_for_exact_rules
            try:
                offsets = _keyword_offsets(rule, found, lowered)
                # extend keeps the candidates yielded before a timeout.
                candidates.extend(
                    self._run_rule(compiled, text, subjects, offsets, deadline)
                )
            except TimeoutError:
                timed_out.append(rule.id)
        skipped = None
        if timed_out:
            skipped = (
                f"regex timeout after {self._unit_timeout_s:g} s in rules "
                f"{', '.join(timed_out)}; the findings of other rules are kept"
            )
        kept = _resolve_overlaps(candidates)
        kept = [c for c in kept if not self._allowed(c, text)]
        matches = _to_matches(kept, text)
        return ScanResult(matches, skipped_reason=skipped, encoding=encoding)

    def _compiled_rule(self, index: int) -> _CompiledRule:
        compiled = self._compiled.get(index)
        if compiled is None:
            compiled = self._compiled[index] = _CompiledRule(self._rules[index])
        return compiled

    def _path_applies(self, compiled: _CompiledRule, path: str | None) -> bool:
        if path is None or (compiled.paths is None and compiled.exclude_paths is None):
            return _path_applies(compiled, path)
        key = (compiled.path_key, path)
        applies = self._path_cache.get(key)
        if applies is None:
            if len(self._path_cache) >= _PATH_CACHE_SIZE:
                self._path_cache.clear()
            applies = self._path_cache[key] = _path_applies(compiled, path)
        return applies

    def _run_rule(
        self,
        compiled: _CompiledRule,
        text: str,
        subjects: tuple[str, ...],
        offsets: list[tuple[int, int]],
        deadline: float,
    ) -> Iterable[_Candidate]:
        """Yield the rule's candidates, matched in each of ``subjects``.

        Each subject is ``text`` or a copy of the same length (see
        ``_blank_escapes``), so spans are valid in all of them, and secrets
        are read from ``text``.
        """
        rule = compiled.rule
        group = rule.secret_group
        seen: set[tuple[int, int]] = set()
        windows = _windows(rule, text, offsets)
        # A window never crosses a line. Over the whole text, a match that
        # does is dropped and the search goes on from just after its start,
        # so a real match that it overlapped is still found.
        single_line = windows is None and not rule.multiline
        search = compiled.pattern.search
        for start, end in windows or [(0, len(text))]:
            for subject in subjects:
                position = start
                while position <= end:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    found = search(subject, position, end, timeout=remaining)
                    if found is None:
                        break
                    if single_line and _spans_lines(found.group(0)):
                        position = found.start() + 1
                        continue
                    position = max(found.end(), found.start() + 1)
                    span = found.span(group)
                    secret = text[span[0] : span[1]]
                    if not secret or span in seen:
                        continue
                    seen.add(span)
                    if _secret_passes(compiled, secret):
                        yield _Candidate(rule, span[0], span[1], secret)

    def _allowed(self, candidate: _Candidate, text: str) -> bool:
        if fingerprint(candidate.rule.id, candidate.secret) in self._allow.fingerprints:
            return True
        if self._allow.regexes:
            if self._allow_patterns is None:
                self._allow_patterns = [compile_pattern(p) for p in self._allow.regexes]
            if any(p.search(candidate.secret) for p in self._allow_patterns):
                return True
        return _allowed_by_comment(text, candidate.start, candidate.end)


def _path_applies(compiled: _CompiledRule, path: str | None) -> bool:
    if path is None:
        return compiled.paths is None
    if compiled.paths is not None and not compiled.paths.match(path):
        return False
    return not (compiled.exclude_paths and compiled.exclude_paths.match(path))


def _spans_lines(value: str) -> bool:
    return "\n" in value or "\r" in value


def _keyword_offsets(
    rule: Rule, found: dict[str, list[int] | None], lowered: str
) -> list[tuple[int, int]]:
    """Return (offset, length) of each occurrence of the rule's keywords.

    At most one more than ``_MAX_WINDOWS`` occurrences are returned, which is
    enough to tell that the rule should run over the whole text.
    """
    occurrences: list[tuple[int, int]] = []
    for keyword in rule.keywords:
        if keyword not in found:
            continue
        known = found[keyword]
        if known is not None:
            occurrences.extend((offset, len(keyword)) for offset in known)
        else:
            position = lowered.find(keyword)
            while position >= 0 and len(occurrences) <= _MAX_WINDOWS:
                occurrences.append((position, len(keyword)))
                position = lowered.find(keyword, position + len(keyword))
        if len(occurrences) > _MAX_WINDOWS:
            break
    return occurrences


def _windows(
    rule: Rule, text: str, offsets: list[tuple[int, int]]
) -> list[tuple[int, int]] | None:
    """Return the merged text windows around each keyword occurrence.

    Returns None when one pass over the whole text is cheaper.
    """
    if len(offsets) > _MAX_WINDOWS:
        return None
    after = _MULTILINE_AFTER if rule.multiline else _WINDOW_AFTER
    windows: list[tuple[int, int]] = []
    for position, length in offsets:
        line_start, line_end = textmod.line_bounds(text, position)
        start = max(line_start, position - _WINDOW_BEFORE)
        if rule.multiline:
            end = min(len(text), position + after)
        else:
            end = min(line_end, position + length + after)
        windows.append((start, end))
    windows.sort()
    merged: list[tuple[int, int]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    if 2 * sum(end - start for start, end in merged) > len(text):
        return None
    return merged


def _blank_escapes(text: str) -> str:
    """Return ``text`` with escape sequences replaced by spaces of equal length."""
    for lead, pattern in _ESCAPES:
        if lead in text:
            text = re.sub(pattern, _spaces, text, flags=re.S)
    return text


def _spaces(found: re.Match[str]) -> str:
    return " " * len(found.group())


def shannon_entropy(value: str) -> float:
    """Return the Shannon entropy of ``value`` in bits per character."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def is_placeholder(secret: str) -> bool:
    """Return True when ``secret`` reads as documentation, not as a secret."""
    lowered = secret.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return True
    # The longest segment is the key's body: "sk-xxxxxxxx" or "ghp_0000..."
    # are examples, while a real body can be followed by a short suffix
    # such as a gateway channel ("-1000").
    core = max(lowered.replace("_", "-").split("-"), key=len)
    return len(core) >= 4 and len(set(core)) <= 2


def _secret_passes(compiled: _CompiledRule, secret: str) -> bool:
    rule = compiled.rule
    if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
        return False
    lowered = secret.lower()
    if any(word in lowered for word in rule.allow_stopwords):
        return False
    if any(pattern.search(secret) for pattern in compiled.allow):
        return False
    return not is_placeholder(secret)


def _resolve_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep, of overlapping secrets, the one of the higher-priority rule.

    A key matched by a specific rule is reported once, not again by a generic
    assignment rule or a looser rule of the same family.
    """
    ordered = sorted(
        candidates, key=lambda c: (-c.rule.priority, -(c.end - c.start), c.start)
    )
    # Kept spans never overlap, so sorted by start they are sorted by end too,
    # and a new span need only be checked against its two neighbours.
    starts: list[int] = []
    kept: list[_Candidate] = []
    for candidate in ordered:
        position = bisect.bisect_left(starts, candidate.start)
        if position > 0 and kept[position - 1].end > candidate.start:
            continue
        if position < len(kept) and kept[position].start < candidate.end:
            continue
        starts.insert(position, candidate.start)
        kept.insert(position, candidate)
    return kept


def _allowed_by_comment(text: str, start: int, end: int) -> bool:
    line_start, line_end = textmod.line_bounds(text, start)
    _, last_line_end = textmod.line_bounds(text, max(start, end - 1))
    lines = text[line_start:line_end]
    if last_line_end != line_end:
        lines += "\n" + text[textmod.line_bounds(text, end - 1)[0] : last_line_end]
    if _has_inline_marker(lines):
        return True
    if line_start == 0:
        return False
    previous_start, previous_end = textmod.line_bounds(text, line_start - 1)
    if text[line_start - 2 : line_start] == "\r\n":
        previous_start, previous_end = textmod.line_bounds(text, line_start - 2)
    previous = text[previous_start:previous_end]
    return any(marker in previous for marker in _ALLOW_NEXT_LINE)


def _has_inline_marker(line: str) -> bool:
    for marker in _ALLOW_INLINE:
        position = line.find(marker)
        while position >= 0:
            # keyscan:allow-next-line contains keyscan:allow; it covers the
            # next line only, never its own.
            if not line.startswith("-next-line", position + len(marker)):
                return True
            position = line.find(marker, position + 1)
    return False


def _to_matches(kept: list[_Candidate], text: str) -> list[Match]:
    if not kept:
        return []
    issuer_context = _issuer_from_context(textmod.lower_ascii_text(text))
    hosts: tuple[str, ...] | None = None
    ends = [candidate.end for candidate in kept]
    counter = textmod.LineCounter(text)
    matches = []
    for candidate in kept:
        rule = candidate.rule
        issuer, issuer_source = rule.issuer, "rule" if rule.issuer else None
        if rule.verifier in ("newapi", "oneapi"):
            if issuer_context:
                issuer, issuer_source = issuer_context, "context"
            else:
                issuer_source = "default"
        if rule.verifier and hosts is None:
            hosts = _hosts_in(text)
        line, column = counter.locate(candidate.start)
        matches.append(
            Match(
                rule=rule,
                secret=candidate.secret,
                offset=candidate.start,
                line=line,
                column=column,
                snippet=_snippet(text, candidate, kept, ends),
                issuer=issuer,
                issuer_source=issuer_source,
                context_hosts=hosts if rule.verifier and hosts else (),
            )
        )
    return matches


def _issuer_from_context(lowered: str) -> str | None:
    for needle, issuer in _ISSUER_CONTEXT:
        if needle in lowered:
            return issuer
    return None


def _hosts_in(text: str) -> tuple[str, ...]:
    """Return up to 10 distinct host names that URLs in ``text`` name."""

    hosts: list[str] = []
    for found in re.finditer(
        r"https?://(?:[^\s/@:]+(?::[^\s/@]*)?@)?([A-Za-z0-9.-]{1,253})", text
    ):
        host = found.group(1).lower().rstrip(".")
        if host and host not in hosts:
            hosts.append(host)
            if len(hosts) == 10:
                break
    return tuple(hosts)


def _snippet(
    text: str, candidate: _Candidate, kept: list[_Candidate], ends: list[int]
) -> str:
    """Return the secret's line, cut to a short window, with secrets redacted."""
    line_start, line_end = textmod.line_bounds(text, candidate.start)
    start = max(line_start, candidate.start - _SNIPPET_CONTEXT)
    end = min(line_end, candidate.end + _SNIPPET_CONTEXT)
    if candidate.end > line_end:
        end = line_end
    pieces = []
    cursor = start
    for index in range(bisect.bisect_right(ends, start), len(kept)):
        other = kept[index]
        if other.start >= end:
            break
        pieces.append(_mask_tokens(text[cursor : max(cursor, other.start)]))
        pieces.append(redact(other.secret) if other.start >= start else "...")
        cursor = max(cursor, other.end)
    if cursor < end:
        pieces.append(_mask_tokens(text[cursor:end]))
    body = "".join(pieces).strip()
    prefix = "..." if start > line_start else ""
    suffix = "..." if end < line_end else ""
    return _printable(prefix + body + suffix)


def _mask_tokens(context: str) -> str:
    """Redact key-like tokens in a snippet's context around the finding.

    Only the findings' own secrets are known, and a key or password that no
    rule caught (or that an allow marker accepted) may stand on the same
    line. A run of 12 or more characters without spaces, quotes or
    separators that mixes letters and digits, and mixes cases or contains a
    symbol, is shown redacted as well.
    """
    if len(context) < _MIN_MASKED:
        return context
    return re.sub(_KEY_LIKE, _mask_token, context)


def _mask_token(found: re.Match[str]) -> str:
    token = found.group()
    has_digit = any(c.isdigit() for c in token)
    has_letter = any(c.isalpha() for c in token)
    mixed_case = token.lower() != token and token.upper() != token
    symbol = any(not c.isalnum() and c not in "_.-/" for c in token)
    looks_random = has_digit and has_letter and (mixed_case or symbol)
    if looks_random and shannon_entropy(token) >= 3.0:
        return redact(token)
    return token


def _printable(value: str) -> str:
    """Escape control characters so a snippet cannot drive the terminal."""
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in value)
