"""The GitLab secret-detection report."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import jsonschema

from keyscan.report import render
from keyscan.report.gitlab import SCHEMA_VERSION, UNKNOWN_COMMIT
from tests.conftest import Repo
from tests.keygen import KeyGen
from tests.reportdata import load_schema, sample_findings, sample_summary

NOW = dt.datetime(2024, 3, 1, 10, 0, 30, tzinfo=dt.timezone.utc)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _report(keys: KeyGen, **context: Any) -> Any:
    text = render("gitlab", sample_findings(keys), sample_summary(), now=NOW, **context)
    return json.loads(text)


def test_gitlab_has_required_scan_fields(keys: KeyGen) -> None:
    report = _report(keys)
    assert re.fullmatch(r"\d+\.\d+\.\d+", report["version"])
    assert report["version"] == SCHEMA_VERSION
    scan = report["scan"]
    assert scan["type"] == "secret_detection"
    assert scan["status"] == "success"
    for part in ("analyzer", "scanner"):
        assert scan[part]["id"] == "keyscan"
        assert scan[part]["name"]
        assert scan[part]["version"]
        assert scan[part]["vendor"]["name"]
    assert scan["end_time"] == "2024-03-01T10:00:30"
    assert scan["start_time"] == "2024-03-01T10:00:28"
    assert TIMESTAMP.match(scan["start_time"])


def test_gitlab_vulnerability_required_fields(keys: KeyGen) -> None:
    for vulnerability in _report(keys)["vulnerabilities"]:
        assert vulnerability["id"]
        assert vulnerability["category"] == "secret_detection"
        assert vulnerability["severity"] in ("Critical", "High", "Low")
        assert vulnerability["location"]["commit"]["sha"]
        identifier = vulnerability["identifiers"][0]
        assert identifier["type"]
        assert identifier["name"]
        assert identifier["value"]
        assert "raw_source_code_extract" not in vulnerability


def test_gitlab_file_location(keys: KeyGen) -> None:
    first, second, message = _report(keys, head_commit="b" * 40)["vulnerabilities"]
    assert first["location"]["file"] == "config/app.py"
    assert first["location"]["start_line"] == 3
    assert first["location"]["commit"]["sha"] == "b" * 40
    assert second["location"]["file"] == "src/deploy, old:v1.sh"
    assert second["location"]["commit"]["sha"] == "a" * 40
    assert (
        second["location"]["commit"]["author"] == "Test Author <author@example.invalid>"
    )
    assert second["severity"] == "Critical"
    assert "file" not in message["location"]
    assert message["location"]["commit"]["sha"] == "a" * 40


def test_gitlab_without_commit_uses_placeholder(keys: KeyGen) -> None:
    first = _report(keys)["vulnerabilities"][0]
    assert first["location"]["commit"]["sha"] == UNKNOWN_COMMIT


def test_gitlab_ids_are_stable_and_unique(keys: KeyGen) -> None:
    findings = sample_findings(keys)
    once = json.loads(render("gitlab", findings, sample_summary()))
    again = json.loads(render("gitlab", findings, sample_summary()))
    ids = [v["id"] for v in once["vulnerabilities"]]
    assert ids == [v["id"] for v in again["vulnerabilities"]]
    assert len(set(ids)) == len(ids)


def test_gitlab_never_contains_raw_secret(keys: KeyGen) -> None:
    findings = sample_findings(keys)
    text = render("gitlab", findings, sample_summary(), show_secrets=True)
    for finding in findings:
        assert finding.secret not in text
        assert finding.secret_redacted in text


def test_gitlab_validates_against_published_schema(keys: KeyGen) -> None:
    schema = load_schema("secret-detection-report-format.json")
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(_report(keys))
    broken = _report(keys)
    del broken["vulnerabilities"][0]["location"]["commit"]
    assert not validator.is_valid(broken)


def test_gitlab_scan_uses_head_commit(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.py", f'KEY = "{keys.gateway()}"\n')
    repo.add()
    head = repo.commit("Add app")
    result = run_keyscan(["scan", "--format", "gitlab", "."], repo.path)
    assert result.code == 1, result
    vulnerability = result.json()["vulnerabilities"][0]
    assert vulnerability["location"]["commit"]["sha"] == head
    assert vulnerability["location"]["file"] == "app.py"
