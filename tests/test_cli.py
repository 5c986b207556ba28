"""The command line: exit codes, errors, the JSON contract and redaction."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from keyscan.cli.entry import parse_fast_staged
from keyscan.config import parse_size
from keyscan.errors import ExitCode
from keyscan.findings import Summary
from keyscan.report import FORMATS
from tests.conftest import Repo
from tests.keygen import KeyGen

README = Path(__file__).resolve().parent.parent / "README.md"
FINDING_FIELDS = {
    "rule_id",
    "description",
    "path",
    "line",
    "column",
    "secret_redacted",
    "fingerprint",
    "issuer",
    "commit",
    "author_name",
    "author_email",
    "date",
}
SUMMARY_FIELDS = {"files_scanned", "bytes_scanned", "skipped", "findings", "duration_s"}


def test_exit_codes_match_readme() -> None:
    text = README.read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `(\d)` \| (\w+) \|", text, flags=re.MULTILINE))
    assert {int(code): name for code, name in table.items()} == {
        code.value: code.name.lower() for code in ExitCode
    }


def test_scan_clean_folder_exits_zero(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.CLEAN
    assert "scanned 1 file " in result.stderr


def test_scan_finding_exits_one(tmp_path: Path, keys: KeyGen, run_keyscan: Any) -> None:
    (tmp_path / "a.py").write_text(f'KEY = "{keys.gateway()}"\n')
    result = run_keyscan(["scan", "--format", "json"], tmp_path)
    assert result.code == ExitCode.FINDINGS
    document = result.json()
    assert set(document["findings"][0]) >= FINDING_FIELDS
    assert set(document["summary"]) >= SUMMARY_FIELDS
    finding = document["findings"][0]
    assert finding["commit"] is None
    assert finding["author_name"] is None
    assert (finding["path"], finding["line"], finding["column"]) == ("a.py", 1, 8)


def test_scan_missing_path_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    result = run_keyscan(["scan", "no-such-dir"], tmp_path)
    assert result.code == ExitCode.ERROR
    assert "path not found: no-such-dir" in result.stderr


def test_scan_unknown_option_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    result = run_keyscan(["scan", "--formt", "json"], tmp_path)
    assert result.code == ExitCode.ERROR


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("exclude = 'x'\n", "'exclude' must be a list", id="type"),
        pytest.param("excludes = []\n", "unknown keyscan setting 'excludes'", id="key"),
        pytest.param("exclude = [\n", "invalid TOML", id="syntax"),
        pytest.param("disable_rules = ['nope']\n", "unknown rule id", id="rule-id"),
        pytest.param("max_file_size = 'big'\n", "invalid size", id="size"),
        pytest.param("max_file_size = '0'\n", "invalid size", id="zero-size"),
    ],
)
def test_invalid_config_exits_two(
    tmp_path: Path, run_keyscan: Any, content: str, message: str
) -> None:
    (tmp_path / ".keyscan.toml").write_text(content)
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR
    assert message in result.stderr
    assert result.stderr.count("\n") <= 2


_RULE_TABLE = "[[rules]]\nid = 'bad'\ndescription = 'x'\nkeywords = ['abc']\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            _RULE_TABLE + "regex = '(abc'\n", "invalid regex '(abc'", id="regex"
        ),
        pytest.param(
            _RULE_TABLE + "regex = 'a'\n[rules.allow]\nregexes = ['[b']\n",
            "invalid regex '[b'",
            id="allow-regex",
        ),
        pytest.param(
            _RULE_TABLE + "regex = '(a)'\nsecret_group = 2\n",
            "secret_group 2 is out of range",
            id="group",
        ),
        pytest.param(
            _RULE_TABLE + "regex = 'a'\npriority = 'high'\n",
            "priority must be of type int",
            id="type",
        ),
        pytest.param(_RULE_TABLE, "missing or empty regex", id="missing"),
        pytest.param(
            _RULE_TABLE + "regex = 'a'\npaths = 'x'\n",
            "paths must be a list of strings, not 'x'",
            id="list",
        ),
        pytest.param(
            _RULE_TABLE + "regex = 'a'\nentropy = -1\n",
            "entropy must be a non-negative number, not -1",
            id="entropy",
        ),
        pytest.param(
            _RULE_TABLE + "regex = 'a'\n[rules.allow]\nwords = []\n",
            "unknown keys in allow: words",
            id="allow-key",
        ),
        pytest.param("version = 1\n", "unknown top-level keys: version", id="top"),
        pytest.param("rules = 1\n", "'rules' must be an array", id="rules"),
        pytest.param("rules = [\n", "invalid TOML in rule file", id="toml"),
    ],
)
def test_rule_file_errors_name_file_and_fix(
    tmp_path: Path, run_keyscan: Any, content: str, message: str
) -> None:
    (tmp_path / "extra.toml").write_text(content)
    (tmp_path / ".keyscan.toml").write_text("rule_files = ['extra.toml']\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    error, hint = result.stderr.splitlines()[:2]
    assert str(tmp_path / "extra.toml") in error
    assert message in error
    assert hint.startswith("keyscan: hint: ")


def test_invalid_rule_regex_hint_shows_test(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / ".keyscan.toml").write_text(_RULE_TABLE + "regex = '(abc'\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    assert "regex.compile(r'PATTERN')" in result.stderr


def test_inline_rule_error_names_config(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / ".keyscan.toml").write_text(_RULE_TABLE + "regex = '(abc'\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    config = str(tmp_path / ".keyscan.toml")
    assert f"error: {config}: rule 'bad': invalid regex" in result.stderr
    assert "config: rule" not in result.stderr


def test_unknown_disabled_rule_names_config(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / ".keyscan.toml").write_text("disable_rules = ['nope']\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    config = str(tmp_path / ".keyscan.toml")
    assert f"{config}: disable_rules names an unknown rule id: 'nope'" in result.stderr
    assert "keyscan rules" in result.stderr


def test_invalid_allow_secrets_regex_hints(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / ".keyscan.toml").write_text("allow_secrets = ['(abc']\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    assert "invalid regex in allow_secrets '(abc'" in result.stderr
    assert "hint:" in result.stderr
    assert "regex.compile(r'PATTERN')" in result.stderr


def test_allow_secrets_accepts_regex_module_syntax(
    tmp_path: Path, run_keyscan: Any, keys: KeyGen
) -> None:
    # \p{Lu} is valid for the regex module, which matches allow_secrets,
    # and invalid for the standard re module.
    key = keys.gateway()
    (tmp_path / ".keyscan.toml").write_text(
        f"allow_secrets = ['^{key[:8]}\\p{{Lu}}?']\n"
    )
    (tmp_path / "a.env").write_text(f"KEY={key}\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.CLEAN, result


def test_invalid_rule_file_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "extra.toml").write_text(
        "[[rules]]\nid = 'Bad Id'\ndescription = 'x'\nregex = 'x'\nkeywords = ['x']\n"
    )
    (tmp_path / ".keyscan.toml").write_text("rule_files = ['extra.toml']\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR
    assert "rule id 'Bad Id' is invalid" in result.stderr


def test_duplicate_inline_rule_id_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    rule = (
        "[[rules]]\nid = 'acme-token'\ndescription = 'Acme token'\n"
        "regex = '(acme_[0-9a-f]{16})'\nkeywords = ['acme_']\n"
    )
    (tmp_path / ".keyscan.toml").write_text(rule + rule)
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    config = str(tmp_path / ".keyscan.toml")
    assert f"{config}: rule id 'acme-token' is defined more than once" in result.stderr


def test_rule_file_without_examples_loads(tmp_path: Path, run_keyscan: Any) -> None:
    # The setting and the optional examples as rules/README.md documents them.
    (tmp_path / "my-rules.toml").write_text(
        "[[rules]]\nid = 'acme-token'\ndescription = 'Acme token'\n"
        "regex = '(acme_[0-9a-f]{16})'\nkeywords = ['acme_']\n"
    )
    (tmp_path / ".keyscan.toml").write_text('rule_files = ["my-rules.toml"]\n')
    (tmp_path / "app.env").write_text("ACME=acme_0123456789abcdef\n")
    result = run_keyscan(["scan", "--format", "json", "."], tmp_path)
    assert result.code == ExitCode.FINDINGS, result
    assert [f["rule_id"] for f in result.json()["findings"]] == ["acme-token"]


def test_rules_list_of_files_hints_rule_files(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / ".keyscan.toml").write_text('rules = ["my-rules.toml"]\n')
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    assert "'rules' must be an array of tables" in result.stderr
    assert 'rule_files = ["my-rules.toml"]' in result.stderr


def test_rules_readme_names_rule_files() -> None:
    text = (README.parent / "rules" / "README.md").read_text(encoding="utf-8")
    assert 'rule_files = ["my-rules.toml"]' in text
    assert 'rules = ["' not in text.replace('rule_files = ["', "")


def test_missing_config_file_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    result = run_keyscan(["scan", "--config", "nope.toml", "."], tmp_path)
    assert result.code == ExitCode.ERROR
    assert "config file not found: nope.toml" in result.stderr


def test_config_excludes_and_extra_rule(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "x.env").write_text("ACME=acme_0123456789abcdef\n")
    (tmp_path / "app.env").write_text("ACME=acme_0123456789abcdef\n")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.keyscan]\nexclude = ['vendor/']\n"
        "[[tool.keyscan.rules]]\nid = 'acme-token'\ndescription = 'Acme token'\n"
        "regex = '(acme_[0-9a-f]{16})'\nkeywords = ['acme_']\n"
    )
    result = run_keyscan(["scan", "--format", "json"], tmp_path)
    assert result.code == ExitCode.FINDINGS, result
    assert [(f["path"], f["rule_id"]) for f in result.json()["findings"]] == [
        ("app.env", "acme-token")
    ]


def test_gitignored_files_are_skipped(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write(".gitignore", "secrets.env\n")
    repo.write("secrets.env", f"KEY={keys.gateway()}\n")
    repo.write("app.env", f"KEY={keys.gateway()}\n")
    result = run_keyscan(["scan", "--format", "json"], repo.path)
    assert [f["path"] for f in result.json()["findings"]] == ["app.env"]


def test_gitignored_files_counted_in_note(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write(".gitignore", ".env\nbuild/\n")
    repo.write(".env", f"KEY={keys.gateway()}\n")
    repo.write("build/sub/out.env", f"KEY={keys.gateway()}\n")
    repo.write("app.py", "x = 1\n")
    result = run_keyscan(["scan", "--format", "json"], repo.path)
    assert result.code == ExitCode.CLEAN, result
    summary = result.json()["summary"]
    assert summary["gitignored"] == {"files": 1, "folders": 1}
    note = "1 file and 1 folder ignored by .gitignore were not scanned"
    assert any(note in text for text in summary["notes"])
    assert note in result.stderr


def test_one_gitignored_file_note(repo: Repo, run_keyscan: Any) -> None:
    repo.write(".gitignore", ".env\n")
    repo.write(".env", "X=1\n")
    result = run_keyscan(["scan", "."], repo.path)
    assert "note: 1 file ignored by .gitignore was not scanned" in result.stderr


@pytest.mark.parametrize("named", ["build", "build/sub", "build/sub/out.env"])
def test_named_gitignored_path_is_scanned(
    repo: Repo, keys: KeyGen, run_keyscan: Any, named: str
) -> None:
    repo.write(".gitignore", "build/\n")
    repo.write("build/sub/out.env", f"KEY={keys.gateway()}\n")
    result = run_keyscan(["scan", "--format", "json", named], repo.path)
    assert result.code == ExitCode.FINDINGS, result
    assert [f["path"] for f in result.json()["findings"]] == ["build/sub/out.env"]
    assert "gitignored" not in result.json()["summary"]


@pytest.mark.parametrize("target", ["folder", "file"])
def test_named_symlink_is_skipped_with_reason(
    repo: Repo, keys: KeyGen, run_keyscan: Any, tmp_path: Path, target: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.env").write_text(f"KEY={keys.gateway()}\n")
    linked = outside if target == "folder" else outside / "o.env"
    (repo.path / "link-out").symlink_to(linked)
    result = run_keyscan(["scan", "--format", "json", "link-out"], repo.path)
    assert result.code == ExitCode.CLEAN, result
    assert result.json()["findings"] == []
    assert result.json()["summary"]["skipped"] == [
        {"path": "link-out", "reason": "symbolic link, not followed; name its target"}
    ]
    assert "symbolic link, not followed; name its target" in result.stderr


def test_symlink_in_folder_is_no_submodule(
    repo: Repo, run_keyscan: Any, tmp_path: Path
) -> None:
    (tmp_path / "outside").mkdir()
    (repo.path / "link-out").symlink_to(tmp_path / "outside")
    repo.write("app.py", "x = 1\n")
    result = run_keyscan(["scan", "--format", "json", "."], repo.path)
    assert result.code == ExitCode.CLEAN, result
    assert result.json()["summary"]["skipped"] == []
    assert result.json()["summary"]["files_scanned"] == 1


def test_oversized_file_is_skipped_with_note(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any
) -> None:
    (tmp_path / "big.txt").write_text(f"KEY={keys.gateway()}\n" + "x" * 5000)
    result = run_keyscan(
        ["scan", "--max-file-size", "1KiB", "--format", "json"], tmp_path
    )
    assert result.code == ExitCode.CLEAN
    skipped = result.json()["summary"]["skipped"]
    assert skipped[0]["path"] == "big.txt"
    assert "over the size limit" in skipped[0]["reason"]
    assert "skipped 1" in result.stderr


@pytest.mark.parametrize(
    "size", ["99999999999999999999999GiB", "9" * 400, str(2**40 + 1), "1025GiB"]
)
def test_max_file_size_too_large_exits_two(
    tmp_path: Path, run_keyscan: Any, size: str
) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    result = run_keyscan(["scan", "--max-file-size", size, "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    assert f"--max-file-size: size '{size}' is too large" in result.stderr
    assert "from 1 byte to 1024GiB" in result.stderr
    assert "KiB, MiB, GiB" in result.stderr
    assert "internal error" not in result.stderr


def test_max_file_size_too_large_in_config(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / ".keyscan.toml").write_text("max_file_size = 99999999999999999999\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    assert ".keyscan.toml: size 99999999999999999999 is too large" in result.stderr


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("10MB", 10_000_000),
        ("1KB", 1000),
        ("100B", 100),
        ("1 MiB", 2**20),
        ("1mib", 2**20),
        ("1.5GB", 1_500_000_000),
        ("2gib", 2 * 2**30),
        ("1024GiB", 2**40),
        ("4096", 4096),
    ],
)
def test_parse_size_accepts_units(size: str, expected: int) -> None:
    assert parse_size(size) == expected


def test_max_file_size_help_lists_units(run_keyscan: Any, tmp_path: Path) -> None:
    for command in (["scan"], ["baseline", "create"]):
        result = run_keyscan([*command, "--help"], tmp_path)
        text = " ".join(result.stdout.split())
        for unit in ("B,", "KB,", "MB,", "GB", "KiB,", "MiB,", "GiB"):
            assert unit in text, (command, unit)
        assert "at most 1024GiB" in text


def test_quiet_clean_run_prints_nothing(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "a.txt").write_text("x = 1\n")
    result = run_keyscan(["scan", "-q", "."], tmp_path)

    assert result.code == ExitCode.CLEAN
    assert result.stderr == ""


def test_quiet_nothing_scanned_prints_summary(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "bundle.min.js").write_text("x" * 2000)
    args = ["scan", "-q", "--max-file-size", "1000", "bundle.min.js"]
    result = run_keyscan(args, tmp_path)

    assert result.code == ExitCode.CLEAN
    assert "skipped 1: 1 over the size limit" in result.stderr
    assert "(nothing was scanned)" in result.stderr


def test_quiet_skipped_file_prints_summary(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "a.txt").write_text("x = 1\n")
    (tmp_path / "bundle.min.js").write_text("x" * 2000)
    result = run_keyscan(["scan", "-q", "--max-file-size", "1000", "."], tmp_path)

    assert result.code == ExitCode.CLEAN
    assert "scanned 1 file " in result.stderr
    assert "skipped 1: 1 over the size limit" in result.stderr
    assert "nothing was scanned" not in result.stderr


def test_quiet_staged_nothing_staged_prints_summary(
    repo: Repo, run_keyscan: Any
) -> None:
    # The hook's fast path, with no staged change to read.
    result = run_keyscan(["staged", "-q"], repo.path)

    assert result.code == ExitCode.CLEAN
    assert "(nothing was scanned)" in result.stderr


def test_fingerprint_survives_moving_lines(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    (tmp_path / "a.env").write_text(f"KEY={key}\n")
    first = run_keyscan(["scan", "--format", "json"], tmp_path).json()["findings"][0]
    (tmp_path / "a.env").write_text(f"# moved\n\n   OTHER_NAME={key}\n")
    second = run_keyscan(["scan", "--format", "json"], tmp_path).json()["findings"][0]
    assert first["fingerprint"] == second["fingerprint"]
    assert first["line"] != second["line"]


@pytest.mark.parametrize("report_format", sorted(FORMATS))
def test_no_format_prints_full_secret(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any, report_format: str
) -> None:
    planted = [keys.gateway(), keys.anthropic(), keys.github(), keys.openrouter()]
    (tmp_path / "a.env").write_text(
        "".join(f"K{i}={k}\n" for i, k in enumerate(planted))
    )
    output = tmp_path / "report.out"
    result = run_keyscan(["scan", "--format", report_format, "."], tmp_path)
    to_file = run_keyscan(
        ["scan", "--format", report_format, "-o", str(output)], tmp_path
    )
    assert result.code == ExitCode.FINDINGS
    for text in (result.stdout, result.stderr, to_file.stderr, output.read_text()):
        for key in planted:
            assert key not in text
            assert key[10:-6] not in text


def test_show_secrets_prints_them(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    (tmp_path / "a.env").write_text(f"KEY={key}\n")
    result = run_keyscan(["scan", "--show-secrets", "--format", "json"], tmp_path)
    assert result.json()["findings"][0]["secret"] == key


def test_output_file_keeps_terminal_summary(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any
) -> None:
    (tmp_path / "a.env").write_text(f"KEY={keys.gateway()}\n")
    result = run_keyscan(
        ["scan", "--format", "json", "-o", "r.json", "a.env"], tmp_path
    )
    assert result.stdout == ""
    assert "1 secret found" in result.stderr
    assert "a.env:1:5" in result.stderr
    assert '"findings"' in (tmp_path / "r.json").read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["staged"], ([], {})),
        (["staged", "a.py", "--format=json"], (["a.py"], {"format": "json"})),
        (["staged", "-q", "--", "-x"], (["-x"], {"quiet": True})),
        (["staged", "--format", "sarif"], None),
        (["staged", "--help"], None),
        (["staged", "--config"], None),
        (["scan"], None),
    ],
)
def test_fast_path_parses_hook_lines(args: list[str], expected: object) -> None:
    assert parse_fast_staged(args) == expected


def test_fast_path_avoids_heavy_imports(repo: Repo) -> None:
    import subprocess
    import sys

    repo.write("a.py", "x = 1\n")
    repo.add()
    code = (
        "import sys\nfrom keyscan.cli.entry import main\n"
        "try:\n    main(['staged', '-q'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('click', 'json', 'git', 'http', 'urllib.request',"
        " 'tomllib', 'logging') if m in sys.modules))\n"
    )
    for _ in range(2):  # the first run fills the rule cache
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=repo.path,
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_ci_runs_readme_test_command() -> None:
    readme = README.read_text(encoding="utf-8")
    commands = re.findall(r"^python3 -m venv .*$", readme, flags=re.MULTILINE)
    ci_script = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert len(commands) == 2
    assert commands[1] in ci_script.splitlines()


def test_scan_skips_fifo_and_devices(tmp_path: Path, run_keyscan: Any) -> None:
    import os

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "a.txt").write_text("x = 1\n")
    result = run_keyscan(["scan", "--format", "json", "."], tmp_path)
    skipped = result.json()["summary"]["skipped"]
    assert [s["path"] for s in skipped] == ["pipe"]
    assert "not a regular file" in skipped[0]["reason"]


def test_unwritable_output_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / "a.txt").write_text("x = 1\n")
    result = run_keyscan(["scan", "-o", "a.txt/report.json", "."], tmp_path)
    assert result.code == ExitCode.ERROR
    assert "a.txt/report.json" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_failing_on_close_names_path(tmp_path: Path, run_keyscan: Any) -> None:
    # Writing to /dev/full fails with ENOSPC only when the file is flushed,
    # and that OSError carries no file name.
    (tmp_path / "a.txt").write_text("x = 1\n")
    result = run_keyscan(["scan", "--format", "json", "-o", "/dev/full", "."], tmp_path)
    assert result.code == ExitCode.ERROR, result
    assert "cannot write the report to /dev/full" in result.stderr
    assert "hint: pass --output a file" in result.stderr


def test_non_utf8_config_exits_two(tmp_path: Path, run_keyscan: Any) -> None:
    (tmp_path / ".keyscan.toml").write_bytes(b"# \xff\nexclude = []\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert result.code == ExitCode.ERROR
    assert "not valid UTF-8" in result.stderr


def test_control_characters_in_path_escaped(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any
) -> None:
    (tmp_path / "a.py\n::warning title=x::y").write_text(f"KEY={keys.gateway()}\n")
    result = run_keyscan(["scan", "."], tmp_path)
    assert not any(line.startswith("::") for line in result.stdout.splitlines())
    assert "a.py\\n::warning" in result.stdout


def test_private_key_redaction_names_type() -> None:
    from keyscan.findings import redact

    body = "MIIEow" + "A" * 60 + "Qz9k"
    secret = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    shown = redact(secret)
    assert shown.startswith("-----BEGIN RSA PRIVATE KEY----- ...Qz9k")
    assert body not in shown


def test_advice_names_config_in_use(
    tmp_path: Path, run_keyscan: Any, keys: KeyGen
) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "keyscan.toml").write_text("max_file_size = '1MiB'\n")
    (tmp_path / "a.env").write_text(f"KEY={keys.gateway()}\n")
    result = run_keyscan(["scan", "--config", "ci/keyscan.toml", "."], tmp_path)
    assert result.code == ExitCode.FINDINGS
    assert "allow_fingerprints in ci/keyscan.toml" in result.stdout
    assert ".keyscan.toml" not in result.stdout


def test_verify_advice_has_no_line_comment(keys: KeyGen) -> None:
    from keyscan.engine import Engine
    from keyscan.pipeline import make_finding
    from keyscan.report import render
    from keyscan.ruleset import load_default_rules

    engine = Engine(load_default_rules())
    (match,) = engine.scan_text(f"{keys.gateway()}\n", None).matches
    text = render("text", [make_finding(match, None)], Summary(), command="verify")
    assert "in a comment on that line" not in text
    assert "allow_fingerprints in .keyscan.toml" in text


def one_line_pem(keys: KeyGen, kind: str = "RSA PRIVATE KEY") -> tuple[str, str]:
    """Return a PEM block written on one line with \\n escapes, and its body."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    rows = ["MIIE" + keys.chars(alphabet, 60)] + [
        keys.chars(alphabet, 64) for _ in range(6)
    ]
    body = "\\n".join(rows)
    return f"-----BEGIN {kind}-----\\n{body}\\n-----END {kind}-----\\n", "".join(rows)


@pytest.mark.parametrize("report_format", sorted(FORMATS))
def test_no_format_prints_one_line_private_key(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any, report_format: str
) -> None:
    service, service_body = one_line_pem(keys, "PRIVATE KEY")
    dotenv, dotenv_body = one_line_pem(keys)
    (tmp_path / "sa.json").write_text(
        '{\n  "type": "service_account",\n'
        f'  "private_key": "{service}",\n  "client_email": "a@b.iam"\n}}\n'
    )
    (tmp_path / "app.env").write_text(f'PRIVATE_KEY="{dotenv}"\n')
    result = run_keyscan(["scan", "--format", report_format, "."], tmp_path)
    assert result.code == ExitCode.FINDINGS
    for body in (service_body, dotenv_body):
        for start in range(0, len(body) - 24, 24):
            assert body[start : start + 24] not in result.stdout + result.stderr


def test_gateway_key_with_channel_suffix_is_found(
    tmp_path: Path, keys: KeyGen, run_keyscan: Any
) -> None:
    # A channel id such as 1000 has two distinct digits, like a placeholder.
    suffixed = [f"{keys.gateway()}-{channel}" for channel in (1000, 1111, 20000)]
    (tmp_path / "a.env").write_text(
        "".join(f"K{i}={key}\n" for i, key in enumerate(suffixed))
    )
    result = run_keyscan(["scan", "--format", "json", "."], tmp_path)
    found = [f["secret_redacted"][-4:] for f in result.json()["findings"]]
    assert found == [key[-4:] for key in suffixed]
