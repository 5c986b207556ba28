"""The rule schema: loading TOML rule packs into validated, frozen rules.

The schema is documented in ``rules/README.md``. Regexes are compiled lazily,
by the engine, the first time one of a rule's keywords occurs in scanned text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from keyscan.errors import RuleError
from keyscan.tomlcache import file_stamp, read_cached, write_cached

_ID_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_TEMPLATE = r"\{\{([A-Za-z][A-Za-z0-9]*):(\d{1,4})\}\}"
_CLASSES = {
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "digit": "0123456789",
    "upperalnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "loweralnum": "abcdefghijklmnopqrstuvwxyz0123456789",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "b64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    "word": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_",
}
# Named path groups that rules may list in paths and exclude_paths. Generic
# rules exclude documentation and tests, whose example credentials are the
# main source of their false alarms; rules for exact key formats run there.
PATH_GROUPS = {
    "@docs": (
        "*.md",
        "*.markdown",
        "*.rst",
        "*.adoc",
        "*.asciidoc",
        "docs/",
        "doc/",
        "CHANGELOG*",
        "CHANGES*",
        "HISTORY*",
    ),
    "@tests": (
        "test/",
        "tests/",
        "testing/",
        "spec/",
        "specs/",
        "__tests__/",
        "testdata/",
        "test_*.py",
        "*_test.py",
        "*_test.go",
        "*.test.[jt]s",
        "*.test.[jt]sx",
        "*.spec.[jt]s",
        "*.spec.[jt]sx",
        "conftest.py",
    ),
}
# TOML's names for the value types of rule fields, used in hints.
_TOML_TYPES = {int: "integer", str: "string", bool: "boolean", dict: "table"}
_KNOWN_KEYS = frozenset(
    {
        "id",
        "description",
        "regex",
        "secret_group",
        "keywords",
        "entropy",
        "priority",
        "multiline",
        "issuer",
        "verifier",
        "paths",
        "exclude_paths",
        "allow",
        "examples",
    }
)


class Rule(NamedTuple):
    """One detection rule, validated; see ``rules/README.md`` for each field."""

    id: str
    description: str
    regex: str
    secret_group: int
    keywords: tuple[str, ...]
    entropy: float | None = None
    priority: int = 50
    multiline: bool = False
    issuer: str | None = None
    verifier: str | None = None
    paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    allow_regexes: tuple[str, ...] = ()
    allow_stopwords: tuple[str, ...] = ()
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    source: str = ""
    # paths and exclude_paths translated to one regex each (see path_regex).
    paths_regex: str | None = None
    exclude_regex: str | None = None


class RuleSet:
    """An ordered set of rules with unique ids."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules

    def by_id(self, rule_id: str) -> Rule:
        """Return the rule with ``rule_id``; raise KeyError when there is none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def digest(self) -> str:
        """Return a hash of every rule, used to key caches of compiled data."""
        import hashlib

        text = repr([tuple(rule) for rule in self.rules])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_pack_dir() -> str:
    """Return the folder of the installed rule pack (the package keyscan.rules)."""
    import keyscan.rules

    return os.path.dirname(keyscan.rules.__file__ or "")


def default_pack_files() -> list[str]:
    """Return the paths of the installed rule pack files, sorted."""
    folder = default_pack_dir()
    names = sorted(
        name
        for name in os.listdir(folder)
        if name.endswith(".toml") and name != "verifiers.toml"
    )
    return [os.path.join(folder, name) for name in names]


def load_rules(
    files: Iterable[str],
    *,
    inline: Iterable[Mapping[str, Any]] = (),
    disabled: Iterable[str] = (),
    config_path: str | None = None,
) -> RuleSet:
    """Load and validate rules from TOML files and inline tables.

    A rule whose id repeats one from an earlier file replaces it, so a
    user's rule file can override a built-in rule, and the inline rules
    override every file. An id repeated within one file, or within the
    inline rules, is an error. Ids in ``disabled`` are dropped; an unknown
    id there is an error, because a typo would silently keep the rule on.
    ``config_path`` is the config file that holds ``inline`` and
    ``disabled``, named in their errors.
    """
    files = list(files)
    inline = list(inline)
    disabled = list(disabled)
    cache_key = _cache_key(files, inline, disabled, config_path)
    cached = read_cached(cache_key) if cache_key else None
    if isinstance(cached, list):
        return RuleSet(tuple(Rule(*fields) for fields in cached))
    ruleset = _load_rules(files, inline, disabled, config_path or "config")
    if cache_key:
        write_cached(cache_key, [tuple(rule) for rule in ruleset.rules])
    # Validation compiled every pattern; keeping the results means no later
    # run compiles these rules again.
    from keyscan.regexcache import save_compiled

    save_compiled()
    return ruleset


def _cache_key(
    files: list[str],
    inline: list[Mapping[str, Any]],
    disabled: list[str],
    config_path: str | None,
) -> str | None:
    # Validated rules are cached, so a warm start neither parses TOML nor
    # compiles a regex until a keyword occurs in the scanned text.
    try:
        # The loader's own file is part of the key, so a new keyscan version
        # never reads rules validated by an older one.
        stamps = [file_stamp(path) for path in [__file__, *files]]
    except OSError:
        return None  # the uncached path reports the missing file
    fields = ",".join(Rule._fields)
    return repr(("rules", fields, stamps, inline, disabled, config_path))


def _load_rules(
    files: list[str],
    inline: list[Mapping[str, Any]],
    disabled: list[str],
    config_path: str,
) -> RuleSet:
    from keyscan.tomlcache import load_toml, toml_decode_error

    rules: dict[str, Rule] = {}
    for path in files:
        try:
            data = load_toml(path)
        except OSError as error:
            raise RuleError(
                f"cannot read rule file {path}: {error.strerror}",
                "check the path in the rule_files setting of your config",
            ) from error
        except toml_decode_error() as error:
            raise RuleError(
                f"invalid TOML in rule file {path}: {error}",
                "fix the syntax; the file must be valid TOML",
            ) from error
        except UnicodeDecodeError as error:
            raise RuleError(
                f"rule file {path} is not valid UTF-8 (byte {error.start})",
                "TOML files must be UTF-8; save the file as UTF-8",
            ) from error
        tables = _rule_tables(data, path)
        _add_rules(rules, [parse_rule(table, path) for table in tables], path)
    _add_rules(rules, [parse_rule(table, config_path) for table in inline], config_path)
    for rule_id in disabled:
        if rules.pop(rule_id, None) is None:
            raise RuleError(
                f"{config_path}: disable_rules names an unknown rule id: {rule_id!r}",
                "run 'keyscan rules' to list the rule ids, and correct or remove "
                "this one",
            )
    return RuleSet(tuple(rules.values()))


def _add_rules(rules: dict[str, Rule], new: list[Rule], source: str) -> None:
    """Add the rules of one file to ``rules``, replacing rules of earlier files."""
    seen: set[str] = set()
    for rule in new:
        if rule.id in seen:
            raise RuleError(
                f"{source}: rule id {rule.id!r} is defined more than once",
                "give each rule in one file its own id; to replace a built-in "
                "rule, define its id once, in a rule file or in the config",
            )
        seen.add(rule.id)
        rules[rule.id] = rule


def load_default_rules() -> RuleSet:
    """Load the installed rule pack."""
    return load_rules(default_pack_files())


def _rule_tables(data: Mapping[str, Any], path: str) -> list[Mapping[str, Any]]:
    tables = data.get("rules", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise RuleError(
            f"{path}: 'rules' must be an array of tables ([[rules]])",
            "write each rule as a [[rules]] table; see rules/README.md",
        )
    unknown = set(data) - {"rules", "title", "description"}
    if unknown:
        raise RuleError(
            f"{path}: unknown top-level keys: {', '.join(sorted(unknown))}",
            "a rule file may contain only title, description and [[rules]] tables",
        )
    return tables


def parse_rule(table: Mapping[str, Any], source: str) -> Rule:
    """Validate one rule table and return it as a Rule."""
    rule_id = table.get("id")
    where = f"{source}: rule {rule_id!r}"
    if not isinstance(rule_id, str) or not re.fullmatch(_ID_PATTERN, rule_id):
        raise RuleError(
            f"{source}: rule id {rule_id!r} is invalid",
            "use lowercase words joined by dashes, such as 'openai-api-key'",
        )

    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise RuleError(
            f"{where}: unknown keys {', '.join(sorted(unknown))}",
            "see rules/README.md for the rule schema",
        )

    regex_text = _require_str(table, "regex", where)
    groups = _check_regex(regex_text, where, ascii=True)
    secret_group = _get(table, "secret_group", int, 1 if groups else 0, where)
    if not 0 <= secret_group <= groups:
        raise RuleError(
            f"{where}: secret_group {secret_group} is out of range: the regex "
            f"has {groups} capture groups",
            f"set secret_group to the group that captures the secret, from 0 "
            f"(the whole match) to {groups}",
        )

    allow = _get(table, "allow", dict, {}, where)
    examples = _get(table, "examples", dict, {}, where)
    paths = _path_patterns(table, "paths", where)
    exclude_paths = _path_patterns(table, "exclude_paths", where)
    return Rule(
        id=rule_id,
        description=_require_str(table, "description", where),
        regex=regex_text,
        secret_group=secret_group,
        keywords=_keywords(table, where),
        entropy=_entropy(table, where),
        priority=_get(table, "priority", int, 50, where),
        multiline=_get(table, "multiline", bool, False, where),
        issuer=_get(table, "issuer", str, None, where),
        verifier=_get(table, "verifier", str, None, where),
        paths=paths,
        exclude_paths=exclude_paths,
        allow_regexes=_allow_regexes(allow, where),
        allow_stopwords=tuple(s.lower() for s in _str_tuple(allow, "stopwords", where)),
        examples_match=_render_examples(examples, "match", rule_id, where),
        examples_no_match=_render_examples(examples, "no_match", rule_id, where),
        source=source,
        paths_regex=path_regex(paths, where),
        exclude_regex=path_regex(exclude_paths, where),
    )


def _get(
    table: Mapping[str, Any], key: str, kind: type, default: Any, where: str
) -> Any:
    value = table.get(key, default)
    if value is default:
        return value
    # bool is a subclass of int, so an int field must reject it explicitly.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RuleError(
            f"{where}: {key} must be of type {kind.__name__}, not {value!r}",
            f"write {key} as a TOML {_TOML_TYPES.get(kind, kind.__name__)}",
        )
    return value


def _require_str(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise RuleError(
            f"{where}: missing or empty {key}",
            f"add {key} = '...' to the rule; see rules/README.md",
        )
    return value


def _str_tuple(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(
            f"{where}: {key} must be a list of strings, not {value!r}",
            f'write it as {key} = ["..."]',
        )
    return tuple(value)


def _path_patterns(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    patterns: list[str] = []
    for pattern in _str_tuple(table, key, where):
        if pattern.startswith("@"):
            if pattern not in PATH_GROUPS:
                raise RuleError(
                    f"{where}: unknown path group {pattern!r} in {key}",
                    f"use one of: {', '.join(sorted(PATH_GROUPS))}",
                )
            patterns.extend(PATH_GROUPS[pattern])
        else:
            patterns.append(pattern)
    return tuple(patterns)


def path_regex(patterns: tuple[str, ...], where: str = "") -> str | None:
    """Return one regex that matches a path when any gitignore pattern does.

    pathspec translates each pattern, and only when rules are loaded without
    the cache: importing pathspec costs more than the rest of the hook. The
    engine runs the result with the regex module, so it is checked here.
    """
    if not patterns:
        return None
    import pathspec

    parts = []
    for pattern in pathspec.GitIgnoreSpec.from_lines(patterns).patterns:
        if pattern.regex is None:
            continue  # a blank or comment line
        if not pattern.include:
            raise RuleError(
                f"{where}: negated path patterns ('!...') are not supported in rules",
                "list the paths to match, or to exclude, without '!'",
            )
        parts.append(pattern.regex.pattern.replace("(?P<ps_d>/)", "(?:/)"))
    if not parts:
        return None
    combined = "|".join(f"(?:{part})" for part in parts)
    _check_regex(combined, f"{where} path patterns")
    return combined


def _keywords(table: Mapping[str, Any], where: str) -> tuple[str, ...]:
    keywords = _str_tuple(table, "keywords", where)
    if not keywords or not all(keywords):
        raise RuleError(
            f"{where}: keywords must list at least one non-empty string",
            "a rule without keywords would run on every file and slow every scan",
        )
    if any(not k.isascii() for k in keywords):
        wrong = [k for k in keywords if not k.isascii()]
        raise RuleError(
            f"{where}: keywords must be ASCII, not {wrong[0]!r}",
            "use an ASCII part of the key's prefix, or of a name next to it",
        )
    return tuple(k.lower() for k in keywords)


def _entropy(table: Mapping[str, Any], where: str) -> float | None:
    value = table.get("entropy")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleError(
            f"{where}: entropy must be a non-negative number, not {value!r}",
            "set it to the minimum bits per character, such as 3.0, or remove it",
        )
    return float(value)


def ascii_regex(text: str) -> str:
    """Return the pattern that the engine compiles for a rule's ``regex``.

    Rules match with ASCII classes: keys are ASCII, and a letter of another
    script right before or after a key (as in Chinese text) must not count
    as part of it for ``\\w``, ``\\b`` or ``\\d``.
    """
    return "(?a)" + text


def _check_regex(text: str, where: str, *, ascii: bool = False) -> int:
    """Compile ``text`` (as the engine will, with ``ascii``) and count its groups.

    Raises RuleError that quotes the pattern as the user wrote it.
    """
    import regex

    from keyscan.regexcache import compile_pattern

    try:
        return int(compile_pattern(ascii_regex(text) if ascii else text).groups)
    except regex.error as compile_error:
        # Report the position in the user's own text, without the prefix.
        error = _error_in_own_text(text, compile_error) if ascii else compile_error
        quoted = text if len(text) <= 120 else text[:117] + "..."
        raise RuleError(
            f"{where}: invalid regex {quoted!r}: {error}",
            "fix the pattern at the position shown; keyscan compiles it with the "
            "Python regex module, so test it with: python3 -c "
            "\"import regex; regex.compile(r'PATTERN')\"",
        ) from error


def _error_in_own_text(text: str, error: Exception) -> Exception:
    import regex

    try:
        regex.compile(text)
    except regex.error as plain:
        return plain
    return error


def _allow_regexes(allow: Mapping[str, Any], where: str) -> tuple[str, ...]:
    unknown = set(allow) - {"regexes", "stopwords"}
    if unknown:
        raise RuleError(
            f"{where}: unknown keys in allow: {', '.join(sorted(unknown))}",
            "allow takes only regexes and stopwords",
        )
    patterns = _str_tuple(allow, "regexes", where)
    for pattern in patterns:
        _check_regex(pattern, f"{where} allow regex")
    return patterns


def _render_examples(
    examples: Mapping[str, Any], key: str, rule_id: str, where: str
) -> tuple[str, ...]:
    texts = _str_tuple(examples, key, where)
    return tuple(
        render_template(text, f"{rule_id}/{key}/{i}") for i, text in enumerate(texts)
    )


def render_template(text: str, seed: str) -> str:
    """Expand ``{{CLASS:N}}`` placeholders with characters drawn from CLASS.

    The draw is seeded by ``seed``, so each example renders the same on every
    run and machine.
    """
    import random

    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret

    def expand(match: re.Match[str]) -> str:
        alphabet = _CLASSES.get(match.group(1))
        if alphabet is None:
            raise RuleError(
                f"unknown template class {match.group(1)!r} in example {seed}",
                f"use one of: {', '.join(sorted(_CLASSES))}",
            )
        return "".join(rng.choice(alphabet) for _ in range(int(match.group(2))))

    return re.sub(_TEMPLATE, expand, text)
