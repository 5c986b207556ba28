"""Keys stay found whatever text touches them: escapes, URL encoding, other scripts.

A letter right before a key can end an escape sequence (``\\nsk-...`` in
JSON) or belong to Chinese text, and the key must still be found. These tests
take every rule's own match examples, find the secret each one yields, and
check that the same secret is found in each of those contexts.
"""

from __future__ import annotations

import pytest

from keyscan.engine import Engine
from keyscan.ruleset import load_default_rules
from tests.keygen import KeyGen

RULES = load_default_rules()
ENGINE = Engine(RULES)

# Text written right before and right after a key, as it appears in real files.
CONTEXTS = {
    "json newline escape": ('{"text": "Your key:\\n', '\\n"}'),
    "json tab escape": ('{"text": "key\\t', '"}'),
    "json unicode quote": ("config = \\u0022", "\\u0022"),
    "url encoded space": ("Authorization: Bearer%20", "%0A"),
    "url encoded equals": ("GET /cb?auth%3D", "&x=1"),
    "chinese before": ("密钥", ""),
    "chinese around": ("key是", "是我的密钥"),
    "full-width equals": ("鍵\N{FULLWIDTH EQUALS SIGN}", ""),
    "japanese after": ("キー ", "です"),
}


def standalone_secrets() -> list[tuple[str, str]]:
    """Return (rule id, secret) for example secrets that are found on their own.

    Many rules need a name before the value (``aws_secret_access_key = ...``).
    Only keys whose format alone identifies them can stand next to any text.
    """
    pairs: list[tuple[str, str]] = []
    for rule in RULES.rules:
        for example in rule.examples_match:
            for match in ENGINE.scan_text(example, "example.txt").matches:
                if match.rule.id != rule.id or "\n" in match.secret:
                    continue
                alone = ENGINE.scan_text(f"value {match.secret} end\n", "x.txt")
                if [m.secret for m in alone.matches] == [match.secret]:
                    pairs.append((rule.id, match.secret))
    return pairs


PAIRS = standalone_secrets()


def test_many_rules_have_standalone_secrets() -> None:
    # The sk- families, GitHub, AWS key ids, Slack, Stripe, Hugging Face, npm...
    assert len({rule_id for rule_id, _ in PAIRS}) >= 30


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize(("rule_id", "secret"), PAIRS, ids=[p[0] for p in PAIRS])
def test_key_found_in_context(rule_id: str, secret: str, context: str) -> None:
    before, after = CONTEXTS[context]
    text = f"{before}{secret}{after}\n"
    found = [m.secret for m in ENGINE.scan_text(text, "notes.txt").matches]
    assert secret in found


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-16", "gb18030", "shift_jis", "big5", "euc-kr"]
)
def test_gateway_key_after_east_asian_text(encoding: str, keys: KeyGen) -> None:
    key = keys.gateway()
    names = {
        "shift_jis": "鍵\N{FULLWIDTH EQUALS SIGN}",
        "euc-kr": "키:",
        "big5": "密鑰",
    }
    line = names.get(encoding, "密钥")
    data = f"# 说明 / 설명 / 説明\n{line}{key}\n".encode(encoding, "replace")
    found = [m.secret for m in ENGINE.scan(data, "notes.txt").matches]
    assert found == [key]


@pytest.mark.parametrize(
    "before",
    [
        '"body": "{\\\\"text\\\\": \\\\"key:\\\\n',  # JSON inside JSON: \\n
        "\x1b[32mOK\x1b[0m ",  # raw ANSI colour codes in a log
        '"text": "\\u001b[32m',  # escaped ANSI codes in a notebook output
        "Authorization: Bearer%2520",  # URL-encoded twice
        "emoji \\U0001F600",
        "octal \\012",
        "C:\\keys\\",  # a Windows path: the backslash is the boundary
    ],
)
def test_gateway_key_after_other_escapes(before: str, keys: KeyGen) -> None:
    key = keys.gateway()
    found = [m.secret for m in ENGINE.scan_text(f"{before}{key}\n", "x").matches]
    assert found == [key]


def test_line_crossing_match_hides_nothing() -> None:
    # Over a small file a rule runs on the whole text, where "auth:" followed
    # by a line break looks like an assignment. That match is dropped, and the
    # password on the next line must still be found.
    for name in ("auth", "credentials"):
        text = f"{name}:\n  password: Xk29dLq81mZ!\n"
        found = [m.secret for m in ENGINE.scan_text(text, "config.yml").matches]
        assert found == ["Xk29dLq81mZ!"], name


def test_percent_in_password_is_kept(keys: KeyGen) -> None:
    # Generic rules see the text as written, so an encoded character inside
    # a password stays part of it.
    password = keys.password() + "%40" + keys.password()
    text = f"DATABASE_URL = 'postgres://app:{password}@db.internal:5432/app'\n"
    found = [m.secret for m in ENGINE.scan_text(text, "settings.py").matches]
    assert found == [password]


def test_snippet_redacts_key_that_no_rule_found(keys: KeyGen) -> None:
    other = keys.chars(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 30
    )
    key = keys.gateway()
    text = f'creds = "{other}", key = "{key}"\n'
    (match,) = ENGINE.scan_text(text, "x.py").matches
    assert match.secret == key
    assert other not in match.snippet
    assert key not in match.snippet


def test_snippet_keeps_plain_words(keys: KeyGen) -> None:
    key = keys.gateway()
    text = f'configuration_value_name = "{key}"\n'
    (match,) = ENGINE.scan_text(text, "x.py").matches
    assert "configuration_value_name" in match.snippet


def test_snippet_redacts_password_with_symbols(keys: KeyGen) -> None:
    password = "Xy7!kqOaRU#OpBu1"
    text = f"{keys.github()} then {password}\n"
    (match,) = ENGINE.scan_text(text, "deploy.sh").matches
    assert password not in match.snippet
