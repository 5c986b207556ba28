"""The engine on hard text: encodings, line endings, binaries, long lines, allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyscan import text as textmod
from keyscan.engine import AllowList, Engine, shannon_entropy
from keyscan.ruleset import RuleSet, load_default_rules, parse_rule
from tests.keygen import KeyGen

ENGINE = Engine(load_default_rules())


def _found(data: bytes, path: str = "file.txt") -> list[tuple[int, int, str]]:
    result = ENGINE.scan(data, path)
    return [(m.line, m.column, m.secret) for m in result.matches]


@pytest.mark.parametrize(
    ("ending", "name"),
    [("\n", "lf"), ("\r\n", "crlf"), ("\r", "lone-cr")],
)
def test_line_endings_count_lines(ending: str, name: str, keys: KeyGen) -> None:
    key = keys.gateway()
    text = ending.join(
        ["[llm]", "provider = x", f"api_key = {key}", "timeout = 30", ""]
    )
    assert _found(text.encode()) == [(3, 11, key)]


def test_utf8_bom_is_not_part_of_column(keys: KeyGen) -> None:
    key = keys.anthropic()
    data = b"\xef\xbb\xbf" + f'$env:KEY = "{key}"\r\n'.encode()
    assert _found(data, "deploy.ps1") == [(1, 13, key)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_wide_encodings_are_decoded(encoding: str, keys: KeyGen) -> None:
    key = keys.gateway()
    data = f"# café\nKEY = '{key}'\n".encode(encoding)
    assert _found(data) == [(2, 8, key)]


def test_latin1_text_counts_characters(keys: KeyGen) -> None:
    key = keys.gateway()
    data = f"# Réglages généraux\nclé = {key}\n".encode("latin-1")
    assert _found(data) == [(2, 7, key)]


def test_shift_jis_text_is_decoded(keys: KeyGen) -> None:
    key = keys.gateway()
    data = f"# 設定ファイルの説明です。本番環境用\nキー = {key}\n".encode("shift_jis")
    assert _found(data) == [(2, 6, key)]


def test_ansi_escapes_do_not_make_binary(keys: KeyGen) -> None:
    key = keys.openai_project()
    data = (
        f"\x1b[0;32m[ok]\x1b[0m done\n\x1b[0;33m[env]\x1b[0m export K={key}\n".encode()
    )
    assert _found(data, "ci.log") == [(2, 27, key)]


def test_binary_detected_but_key_found(keys: KeyGen) -> None:
    key = keys.anthropic()
    data = b"\x7fELF\x02\x01" + b"\0" * 60 + bytes(range(256)) * 8
    data += b"\0KEY=" + key.encode() + b"\0" + bytes(range(256)) * 4
    result = ENGINE.scan(data, "build/agent.bin")
    assert result.encoding == "binary"
    assert [m.secret for m in result.matches] == [key]


def test_binary_skips_generic_rules() -> None:
    data = b"\0\0\0password = 'Xq7mP2vRt9LwK4zNb'\0\0" + bytes(range(256))
    assert ENGINE.scan(data, "blob.bin").matches == []


def test_sniff_classifies_wav_noise_as_binary() -> None:
    data = b"RIFF\x24\x10\0\0WAVEfmt " + bytes([0, 0x80, 0xFF, 0xC3] * 1024)
    assert textmod.sniff(data).binary


def test_long_line_snippet_is_bounded(keys: KeyGen) -> None:
    key = keys.gateway()
    filler = "function f(a,b){return a*3+b}" * 20000
    line = f'{filler}var cfg={{apiKey:"{key}"}};{filler}'
    result = ENGINE.scan((line + "\n").encode(), "vendor.min.js")
    assert len(result.matches) == 1
    match = result.matches[0]
    assert match.column == len(filler) + len('var cfg={apiKey:"') + 1
    assert len(match.snippet) < 200
    assert key not in match.snippet


def test_near_misses_on_long_line_give_nothing() -> None:
    near = ('"sk-' + "Ab3" * 16)[:51] + '",' + ('"sk-' + "Zx9" * 17)[:53] + '",sk-,'
    line = "var t=[" + near * 12000 + "0];\n"
    assert _found(line.encode(), "noise.min.js") == []


def test_regex_timeout_reports_skip() -> None:
    slow = parse_rule(
        {
            "id": "slow-rule",
            "description": "pathological",
            "regex": r"slow(a|aa)*b",
            "keywords": ["slow"],
        },
        "test",
    )
    engine = Engine(RuleSet((slow,)), unit_timeout_s=0.2)
    result = engine.scan_text("slow" + "a" * 40 + "c\n", "x.txt")
    assert result.skipped_reason is not None
    assert "timeout" in result.skipped_reason


def test_inline_allow_markers(keys: KeyGen) -> None:
    lines = [
        f'a = "{keys.gateway()}"  # keyscan:allow',
        f'b = "{keys.gateway()}"  # gitleaks:allow',
        f'c = "{keys.gateway()}"  # pragma: allowlist secret',
        f'd = "{keys.gateway()}"',
    ]
    found = _found("\n".join(lines).encode(), "app.py")
    assert [line for line, _, _ in found] == [4]


def test_next_line_marker_covers_one_line(keys: KeyGen) -> None:
    text = "\n".join(
        [
            "services:",
            "  gateway:",
            "      # keyscan:allow-next-line",
            f"    api_key: {keys.gateway()}",
            f"    fallback_key: {keys.gateway()}",
        ]
    )
    assert [line for line, _, _ in _found(text.encode(), "dev.yaml")] == [5]


def test_next_line_marker_does_not_cover_own_line(keys: KeyGen) -> None:
    text = f"KEY={keys.gateway()}  # keyscan:allow-next-line\n"
    assert len(_found(text.encode(), ".env")) == 1


def test_next_line_marker_with_crlf(keys: KeyGen) -> None:
    text = f"# keyscan:allow-next-line\r\nA={keys.gateway()}\r\nB={keys.gateway()}\r\n"
    assert [line for line, _, _ in _found(text.encode(), ".env")] == [3]


def test_config_allow_list(keys: KeyGen) -> None:
    allowed, kept = keys.gateway(), keys.gateway()
    first = ENGINE.scan_text(f"A={allowed}\n", ".env").matches[0]
    engine = Engine(
        load_default_rules(), AllowList(fingerprints=frozenset({first.fingerprint}))
    )
    text = f"A={allowed}\nB={kept}\n"
    assert [m.secret for m in engine.scan_text(text, ".env").matches] == [kept]
    engine = Engine(load_default_rules(), AllowList(regexes=(f"^{kept}$",)))
    assert [m.secret for m in engine.scan_text(text, ".env").matches] == [allowed]


def test_lockfile_integrity_is_not_a_key(keys: KeyGen) -> None:
    digest = (
        keys.chars("abcdefghijkLMNOP0123456789+/", 30)
        + "AKIA"
        + "QWERTY23456ABCDE"
        + "Jzy"
    )
    digest += keys.chars("abcdef0123456789", 35) + "=="
    text = f'      "integrity": "sha512-{digest}"\n'
    assert _found(text.encode(), "package-lock.json") == []


def test_notebook_escaped_quotes(keys: KeyGen) -> None:
    key = keys.openai_project()
    line = f'    "client = OpenAI(api_key=\\"{key}\\")\\n",\n'
    assert [s for _, _, s in _found(line.encode(), "report.ipynb")] == [key]


def test_issuer_from_context(keys: KeyGen) -> None:
    key = keys.gateway()
    text = f"MODELSTREAM_API_KEY={key}\n"
    match = ENGINE.scan_text(text, ".env").matches[0]
    assert match.issuer == "ModelStream"
    assert match.issuer_source == "context"


def test_issuer_default_names_other_host(keys: KeyGen) -> None:
    text = f"BASE=https://newapi.example.internal/v1\nKEY={keys.gateway()}\n"
    match = ENGINE.scan_text(text, ".env").matches[0]
    assert match.issuer == "ModelStream"
    assert match.issuer_source == "default"
    assert match.context_hosts == ("newapi.example.internal",)


def test_snippet_redacts_neighbouring_secrets(keys: KeyGen) -> None:
    first, second = keys.gateway(), keys.gateway()
    result = ENGINE.scan_text(f"A={first} B={second}\n", ".env")
    for match in result.matches:
        assert first not in match.snippet
        assert second not in match.snippet


def test_entropy_of_uniform_and_random() -> None:
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2


def test_line_column_with_mixed_endings() -> None:
    text = "a\r\nb\rc\nd"
    assert textmod.line_column(text, text.index("d")) == (4, 1)
    assert textmod.line_column(text, text.index("c")) == (3, 1)


@pytest.mark.parametrize(
    "path", ["docs/setup.md", "README.rst", "tests/test_db.py", "src/db_test.go"]
)
def test_generic_rules_skip_docs_and_tests(path: str, keys: KeyGen) -> None:
    text = f"url = 'postgres://app:{keys.password(20)}@db.corp.internal/app'\n"
    assert ENGINE.scan_text(text, path).matches == []
    assert len(ENGINE.scan_text(text, "src/settings.py").matches) == 1


def test_key_formats_found_in_docs_and_tests(keys: KeyGen) -> None:
    key = keys.gateway()
    for path in ("docs/setup.md", "tests/test_api.py"):
        assert [m.secret for m in ENGINE.scan_text(f"KEY={key}\n", path).matches] == [
            key
        ]


@pytest.mark.parametrize(
    "line",
    [
        "    token: _StrPathToken",
        "_replace_token: AttributeEventToken",
        '_DEFAULT_TOKEN = "_sa_default"',
        'engine = create_engine("oracle://scott:tiger@db.corp.internal/xe")',
        "conn = 'DSN=some_dsn;UID=scott;PWD=tiger'",
        'SECRET_KEY = "development key"',
    ],
)
def test_generic_rules_skip_names_and_samples(line: str) -> None:
    assert ENGINE.scan_text(line + "\n", "src/app.py").matches == []


def test_line_counter_matches_full_count() -> None:
    import random

    rng = random.Random(1)
    for _ in range(2000):
        pieces = ["a", "b", "\n", "\r", "\r\n", " "]
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        counter = textmod.LineCounter(text)
        for offset in sorted(rng.randint(0, len(text)) for _ in range(6)):
            before = text[:offset]
            line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
            line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
            assert counter.locate(offset) == (line, offset - line_start + 1)


def test_many_findings_in_one_file(keys: KeyGen) -> None:
    secrets = [keys.gateway() for _ in range(3000)]
    text = "".join(f"K{i}={key}\n" for i, key in enumerate(secrets))
    result = ENGINE.scan_text(text, ".env")
    assert [m.secret for m in result.matches] == secrets
    assert result.matches[-1].line == 3000


def test_timeout_keeps_other_rules(keys: KeyGen) -> None:
    token = keys.github()
    slow = parse_rule(
        {
            "id": "slow-rule",
            "description": "x",
            "regex": r"slow(a|aa)*b",
            "keywords": ["slow"],
        },
        "test",
    )
    engine = Engine(RuleSet((slow, *load_default_rules().rules)), unit_timeout_s=0.2)
    result = engine.scan_text(f"slow{'a' * 40}c\ntok = '{token}'\n", "x.txt")
    assert [m.secret for m in result.matches] == [token]
    assert result.skipped_reason is not None
    assert "slow-rule" in result.skipped_reason


def test_rule_cache_is_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyscan import tomlcache

    monkeypatch.setenv("KEYSCAN_CACHE_DIR", str(tmp_path))
    for index in range(tomlcache._MAX_ENTRIES + 5):
        tomlcache.write_cached(f"key-{index}", index)
    remaining = len(list(tmp_path.glob("*.marshal")))
    assert remaining <= tomlcache._MAX_ENTRIES
    assert tomlcache.read_cached(f"key-{tomlcache._MAX_ENTRIES + 4}") == (
        tomlcache._MAX_ENTRIES + 4
    )
