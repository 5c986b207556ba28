"""GitHub Actions workflow commands."""

from __future__ import annotations

from typing import Any

from keyscan.report import render
from keyscan.report.github import annotation, escape_data, escape_property
from tests.conftest import Repo
from tests.keygen import KeyGen
from tests.reportdata import make_finding, sample_findings, sample_summary


def test_github_escape_data() -> None:
    assert escape_data("100%\r\ndone") == "100%25%0D%0Adone"
    assert escape_data("a:b,c") == "a:b,c"


def test_github_escape_property() -> None:
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_annotation_fields(keys: KeyGen) -> None:
    secret = keys.gateway()
    line = annotation(make_finding(secret))
    prefix = "::error file=config/app.py,line=3,col=11,"
    assert line.startswith(prefix)
    assert f"endColumn={11 + len(secret)}," in line
    assert ",title=keyscan modelstream-api-key::" in line
    assert secret not in line
    assert make_finding(secret).secret_redacted in line


def test_github_annotation_escapes_path(keys: KeyGen) -> None:
    finding = make_finding(keys.gateway(), path="dir/a, b:c.txt")
    assert "file=dir/a%2C b%3Ac.txt,line=3" in annotation(finding)


def test_github_annotation_keeps_backslash(keys: KeyGen) -> None:
    # Sources give paths with slashes; a backslash belongs to the name or to
    # the escape of a byte that is not UTF-8.
    finding = make_finding(keys.gateway(), path="dir/caf\\xe9.txt")
    assert "file=dir/caf\\xe9.txt,line=3" in annotation(finding)


def test_github_escape_controls() -> None:
    assert escape_data("a\tb\x1b[31mc\r\n") == "a\\tb\\x1b[31mc%0D%0A"
    assert escape_property("tab\there\x1b[31m.txt") == "tab\\there\\x1b[31m.txt"
    assert escape_property("a\u202eb:c,\n") == "a\\u202eb%3Ac%2C%0A"


def test_github_annotation_escapes_controls(keys: KeyGen) -> None:
    path = "tab\there\x1b[31m.txt"
    finding = make_finding(keys.gateway(), path=path, description="Key\x07 in\tfile")
    line = annotation(finding)
    assert "\t" not in line
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "file=tab\\there\\x1b[31m.txt,line=3" in line
    assert "::Key\\x07 in\\tfile: " in line


def test_github_scan_escapes_control_file_name(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("tab\there\x1b[31m.txt", f"export TOKEN={keys.github()}\n")
    result = run_keyscan(["scan", "--format", "github", "."], repo.path)
    assert result.code == 1, result
    assert result.stdout.startswith("::error file=tab\\there\\x1b[31m.txt,line=1")
    assert "\t" not in result.stdout
    assert "\x1b" not in result.stdout


def test_github_message_finding_has_no_file(keys: KeyGen) -> None:
    finding = make_finding(keys.gateway(), path=None, commit="c" * 40)
    line = annotation(finding)
    assert line.startswith("::error title=keyscan modelstream-api-key::")
    assert "message of " + "c" * 40 in line


def test_github_report_ends_with_summary(keys: KeyGen) -> None:
    findings = sample_findings(keys)
    lines = render("github", findings, sample_summary()).splitlines()
    assert len(lines) == len(findings) + 1
    assert all(line.startswith("::error ") for line in lines[:-1])
    assert lines[-1].startswith("::notice title=keyscan::keyscan: 3 secrets found")
    for finding in findings:
        assert all(finding.secret not in line for line in lines)


def test_github_one_line_per_finding(keys: KeyGen) -> None:
    finding = make_finding(keys.gateway(), description="two\nlines")
    assert "\n" not in annotation(finding)


def test_github_scan_prints_annotations(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("deploy/run.sh", f"export TOKEN={keys.github()}\n")
    result = run_keyscan(["scan", "--format", "github", "."], repo.path)
    assert result.code == 1, result
    assert result.stdout.startswith("::error file=deploy/run.sh,line=1,col=")
    repo.write("README.md", "nothing here\n")
    clean = run_keyscan(["scan", "--format", "github", "README.md"], repo.path)
    assert "::notice title=keyscan::keyscan: no secrets found" in clean.stdout
