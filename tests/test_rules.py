"""Every rule's examples, and the rule pack's coverage of key families."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from keyscan.engine import Engine
from keyscan.errors import RuleError
from keyscan.ruleset import Rule, load_default_rules, load_rules, parse_rule
from tests.keygen import KeyGen

RULESET = load_default_rules()
ENGINE = Engine(RULESET)


def _example_path(rule: Rule) -> str | None:
    """Return a file path that the rule's path patterns accept."""
    if not rule.paths:
        return "example.txt"
    pattern = rule.paths[0].removeprefix("**/").removeprefix("/")
    return pattern.replace("**/", "").replace("*", "example")


def _ids_found(rule: Rule, text: str) -> list[str]:
    result = ENGINE.scan_text(text, _example_path(rule))
    return [match.rule.id for match in result.matches]


def _match_cases() -> list[object]:
    return [
        pytest.param(rule, text, id=f"{rule.id}-{i}")
        for rule in RULESET.rules
        for i, text in enumerate(rule.examples_match)
    ]


def _no_match_cases() -> list[object]:
    return [
        pytest.param(rule, text, id=f"{rule.id}-{i}")
        for rule in RULESET.rules
        for i, text in enumerate(rule.examples_no_match)
    ]


@pytest.mark.parametrize(("rule", "text"), _match_cases())
def test_rule_example_matches(rule: Rule, text: str) -> None:
    assert _ids_found(rule, text).count(rule.id) == 1


@pytest.mark.parametrize(("rule", "text"), _no_match_cases())
def test_rule_example_does_not_match(rule: Rule, text: str) -> None:
    assert rule.id not in _ids_found(rule, text)


def test_rule_pack_size_and_examples() -> None:
    assert len(RULESET.rules) >= 40
    for rule in RULESET.rules:
        assert rule.examples_match, rule.id
        assert rule.examples_no_match, rule.id


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULESET.rules]
    assert len(ids) == len(set(ids))


def test_pack_files_share_no_rule_id() -> None:
    # Loading lets a later file replace a rule with the same id, so a repeated
    # id across the built-in pack files would silently drop a rule.
    from keyscan.ruleset import default_pack_files
    from keyscan.tomlcache import load_toml

    owners: dict[str, str] = {}
    for path in default_pack_files():
        for table in load_toml(path).get("rules", []):
            assert table["id"] not in owners, (table["id"], owners.get(table["id"]))
            owners[table["id"]] = path


def test_rule_examples_hold_no_literal_key() -> None:
    # Examples write the random part as a template, so the pack file itself
    # never contains a whole key, and the raw TOML must give no finding.
    from keyscan.ruleset import default_pack_files

    for path in default_pack_files():
        with open(path, "rb") as handle:
            result = ENGINE.scan(handle.read(), "rules/pack.toml")
        assert [m.rule.id for m in result.matches] == [], path


FAMILIES: list[tuple[str, Callable[[KeyGen], str], str]] = [
    ("gateway", KeyGen.gateway, "ModelStream"),
    ("openai-legacy", KeyGen.openai_legacy, "OpenAI"),
    ("openai-project", KeyGen.openai_project, "OpenAI"),
    ("openai-none", KeyGen.openai_none, "OpenAI"),
    ("anthropic", KeyGen.anthropic, "Anthropic"),
    ("openrouter", KeyGen.openrouter, "OpenRouter"),
    ("github", KeyGen.github, "GitHub"),
    ("npm", KeyGen.npm, "npm"),
    ("aws-key-id", KeyGen.aws_key_id, "AWS"),
]


@pytest.mark.parametrize(
    ("make", "issuer"), [pytest.param(m, i, id=n) for n, m, i in FAMILIES]
)
def test_family_found_once_with_issuer(
    make: Callable[[KeyGen], str], issuer: str
) -> None:
    key = make(KeyGen(7))
    result = ENGINE.scan_text(f'API_KEY = "{key}"\n', "settings.py")
    assert len(result.matches) == 1
    assert result.matches[0].secret == key
    assert result.matches[0].issuer == issuer


def test_gateway_key_with_channel_suffix() -> None:
    key = KeyGen(8).gateway() + "-12"
    result = ENGINE.scan_text(f"KEY={key}\n", ".env")
    assert [m.secret for m in result.matches] == [key]


def test_deepseek_key_in_context(keys: KeyGen) -> None:
    key = keys.gateway_legacy()
    result = ENGINE.scan_text(f"DEEPSEEK_API_KEY={key}\n", ".env")
    assert [m.secret for m in result.matches] == [key]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            'api_key = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"', id="x"
        ),
        pytest.param('OPENAI_API_KEY="<your-key>"', id="angle"),
        pytest.param("password: ${DB_PASSWORD}", id="env-var"),
        pytest.param("api_key = os.environ['OPENAI_API_KEY']", id="environ"),
        pytest.param('password = "changeme"', id="changeme"),
        pytest.param("token: 3f2a9c1e-8b7d-4c2a-9e1f-0a1b2c3d4e5f", id="uuid"),
        pytest.param(
            'sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
            id="sha256",
        ),
    ],
)
def test_placeholders_are_not_findings(text: str) -> None:
    assert ENGINE.scan_text(text + "\n", "config.py").matches == []


def test_rule_without_keywords_rejected() -> None:
    table = {
        "id": "no-keywords",
        "description": "x",
        "regex": "(abc)",
        "keywords": [],
        "examples": {"match": ["abc"], "no_match": ["x"]},
    }
    with pytest.raises(RuleError, match="keywords"):
        parse_rule(table, "test.toml")


def test_rule_with_bad_regex_rejected() -> None:
    table = {"id": "bad-regex", "description": "x", "regex": "(abc", "keywords": ["a"]}
    with pytest.raises(RuleError, match="invalid regex"):
        parse_rule(table, "test.toml")


def test_disabling_unknown_rule_rejected() -> None:
    with pytest.raises(RuleError, match="unknown rule id"):
        load_rules([], disabled=["no-such-rule"])


_RULE = (
    "[[rules]]\nid = '{id}'\ndescription = '{description}'\n"
    "regex = '(acme_[0-9a-f]{{16}})'\nkeywords = ['acme_']\n"
)


def test_duplicate_id_in_one_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "extra.toml"
    path.write_text(
        _RULE.format(id="acme-token", description="first")
        + _RULE.format(id="acme-token", description="second")
    )
    with pytest.raises(RuleError) as raised:
        load_rules([str(path)])
    assert str(path) in raised.value.message
    assert "'acme-token' is defined more than once" in raised.value.message


def test_duplicate_inline_id_rejected() -> None:
    table = {
        "id": "acme-token",
        "description": "x",
        "regex": "(acme_[0-9a-f]{16})",
        "keywords": ["acme_"],
    }
    with pytest.raises(RuleError) as raised:
        load_rules([], inline=[table, table], config_path="/repo/.keyscan.toml")
    assert raised.value.message.startswith("/repo/.keyscan.toml: ")
    assert "'acme-token' is defined more than once" in raised.value.message


def test_rule_file_overrides_builtin_rule(tmp_path: Path) -> None:
    from keyscan.ruleset import default_pack_files

    builtin = RULESET.rules[0]
    path = tmp_path / "extra.toml"
    path.write_text(_RULE.format(id=builtin.id, description="my version"))
    ruleset = load_rules([*default_pack_files(), str(path)])
    assert ruleset.by_id(builtin.id).description == "my version"
    assert len(ruleset.rules) == len(RULESET.rules)


def test_inline_rule_overrides_rule_file(tmp_path: Path) -> None:
    path = tmp_path / "extra.toml"
    path.write_text(_RULE.format(id="acme-token", description="from file"))
    table = {
        "id": "acme-token",
        "description": "inline",
        "regex": "(acme_[0-9a-f]{16})",
        "keywords": ["acme_"],
    }
    ruleset = load_rules([str(path)], inline=[table])
    assert ruleset.by_id("acme-token").description == "inline"
