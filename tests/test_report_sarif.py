"""The SARIF report: schema validity, rules, locations and fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keyscan.report import render
from keyscan.report.sarif import FINGERPRINT_KEY, relative_uri
from keyscan.ruleset import load_default_rules
from tests.conftest import Repo
from tests.keygen import KeyGen
from tests.reportdata import load_schema, sample_findings, sample_summary

SCHEMA = "sarif-schema-2.1.0.json"


def _log(keys: KeyGen, **context: Any) -> Any:
    text = render("sarif", sample_findings(keys), sample_summary(), **context)
    return json.loads(text)


def test_sarif_validates_against_schema(keys: KeyGen) -> None:
    rules = load_default_rules().rules
    log = _log(keys, rules=rules, exit_code=1)
    jsonschema.Draft7Validator(load_schema(SCHEMA)).validate(log)


def test_sarif_empty_log_validates() -> None:
    log = json.loads(render("sarif", [], sample_summary(), exit_code=0))
    jsonschema.Draft7Validator(load_schema(SCHEMA)).validate(log)
    assert log["runs"][0]["results"] == []


def test_sarif_validator_rejects_broken_log(keys: KeyGen) -> None:
    validator = jsonschema.Draft7Validator(load_schema(SCHEMA))
    log = _log(keys)
    del log["runs"][0]["tool"]["driver"]["name"]
    assert not validator.is_valid(log)
    log = _log(keys)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"][
        "startLine"
    ] = 0
    assert not validator.is_valid(log)
    log = _log(keys)
    log["version"] = "2.0.0"
    assert not validator.is_valid(log)


def test_sarif_lists_one_rule_per_rule(keys: KeyGen) -> None:
    rules = load_default_rules().rules
    driver = _log(keys, rules=rules)["runs"][0]["tool"]["driver"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids[: len(rules)] == [rule.id for rule in rules]
    assert len(ids) == len(set(ids))
    assert driver["name"] == "keyscan"
    first = driver["rules"][0]
    assert first["defaultConfiguration"] == {"level": "error"}
    assert "security" in first["properties"]["tags"]
    assert first["help"]["text"]


def test_sarif_rule_index_points_at_rule(keys: KeyGen) -> None:
    run = _log(keys, rules=load_default_rules().rules)["runs"][0]
    for result in run["results"]:
        rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]


def test_sarif_location_has_line_and_columns(keys: KeyGen) -> None:
    findings = sample_findings(keys)
    result = _log(keys)["runs"][0]["results"][0]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "config/app.py",
        "uriBaseId": "%SRCROOT%",
    }
    secret_length = len(findings[0].secret)
    assert location["region"] == {
        "startLine": 3,
        "startColumn": 11,
        "endColumn": 11 + secret_length,
    }


def test_sarif_uri_uses_forward_slashes(keys: KeyGen) -> None:
    result = _log(keys)["runs"][0]["results"][1]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "src/deploy%2C%20old%3Av1.sh"
    assert relative_uri("./a/b.txt") == "a/b.txt"
    # A colon left in the first segment would read as a URI scheme.
    assert relative_uri("c:notes.txt") == "c%3Anotes.txt"
    # A backslash is part of the name, such as the escape of a byte 0xE9.
    assert relative_uri("caf\\xe9.txt") == "caf%5Cxe9.txt"


def test_sarif_history_properties(keys: KeyGen) -> None:
    result = _log(keys)["runs"][0]["results"][1]
    properties = result["properties"]
    assert properties["commit"] == "a" * 40
    assert properties["author"] == "Test Author <author@example.invalid>"
    assert properties["date"] == "2024-03-01T10:00:00+00:00"
    assert properties["verification"]["status"] == "live"


def test_sarif_message_finding_is_logical(keys: KeyGen) -> None:
    result = _log(keys)["runs"][0]["results"][2]
    location = result["locations"][0]
    assert "physicalLocation" not in location
    assert location["logicalLocations"][0]["name"] == "a" * 40
    assert result["properties"]["commit"] == "a" * 40


def test_sarif_fingerprint_is_content_fingerprint(keys: KeyGen) -> None:
    findings = sample_findings(keys)
    text = render("sarif", findings, sample_summary())
    results = json.loads(text)["runs"][0]["results"]
    for finding, result in zip(findings, results, strict=True):
        assert result["partialFingerprints"] == {FINGERPRINT_KEY: finding.fingerprint}


def test_sarif_never_contains_raw_secret(keys: KeyGen) -> None:
    findings = sample_findings(keys)
    text = render("sarif", findings, sample_summary(), show_secrets=True)
    for finding in findings:
        assert finding.secret not in text
        assert finding.secret_redacted in text


def test_sarif_invocation_records_exit_code(keys: KeyGen) -> None:
    invocation = _log(keys, exit_code=1)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert invocation["exitCode"] == 1
    failed = _log(keys, exit_code=2)["runs"][0]["invocations"][0]
    assert failed["executionSuccessful"] is False


def test_sarif_column_kind_is_code_points(keys: KeyGen) -> None:
    assert _log(keys)["runs"][0]["columnKind"] == "unicodeCodePoints"


@pytest.mark.parametrize("moved", [False, True])
def test_sarif_fingerprint_survives_moves(
    repo: Repo, keys: KeyGen, run_keyscan: Any, moved: bool
) -> None:
    key = keys.gateway()
    repo.write("app.py", f'KEY = "{key}"\n')
    first = run_keyscan(["scan", "--format", "sarif", "."], repo.path)
    if moved:
        (repo.path / "app.py").unlink()
        repo.write("lib/moved.py", f'# header\n\nTOKEN_VALUE = "{key}"\n')
    second = run_keyscan(["scan", "--format", "sarif", "."], repo.path)
    before = first.json()["runs"][0]["results"][0]
    after = second.json()["runs"][0]["results"][0]
    assert first.code == 1, first
    assert before["partialFingerprints"] == after["partialFingerprints"]


def test_sarif_scan_output_file_validates(
    repo: Repo, keys: KeyGen, run_keyscan: Any, tmp_path: Path
) -> None:
    repo.write("settings.env", f"OPENAI_API_KEY={keys.openai_project()}\n")
    report = tmp_path / "keyscan.sarif"
    result = run_keyscan(
        ["scan", "--format", "sarif", "--output", str(report), "."], repo.path
    )
    assert result.code == 1, result
    assert result.stdout == ""
    assert "settings.env" in result.stderr
    log = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(load_schema(SCHEMA)).validate(log)
    assert log["runs"][0]["invocations"][0]["exitCode"] == 1
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) > 1
