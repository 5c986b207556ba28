"""Baseline files and the --baseline option."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keyscan.baseline import (
    Baseline,
    compare,
    dump_baseline,
    filter_findings,
    load_baseline,
)
from keyscan.cli.entry import parse_fast_staged
from keyscan.errors import BaselineError
from tests.conftest import Repo
from tests.keygen import KeyGen
from tests.reportdata import make_finding


def _entries(path: Path) -> list[dict[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    entries: list[dict[str, str]] = data["fingerprints"]
    return entries


def test_baseline_dump_is_sorted_and_minimal() -> None:
    text = dump_baseline({"ff01": "rule-b", "0a02": "rule-a"})
    data = json.loads(text)
    assert data == {
        "version": 1,
        "fingerprints": [
            {"fingerprint": "0a02", "rule_id": "rule-a"},
            {"fingerprint": "ff01", "rule_id": "rule-b"},
        ],
    }
    assert text.endswith("}\n")


def test_baseline_dump_is_deterministic() -> None:
    entries = {f"{n:04x}": "rule" for n in range(50)}
    reordered = dict(reversed(list(entries.items())))
    assert dump_baseline(entries) == dump_baseline(reordered)


def test_baseline_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(dump_baseline({"abc": "rule-a"}), encoding="utf-8")
    assert load_baseline(str(path)).entries == {"abc": "rule-a"}


def test_baseline_missing_file_is_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(BaselineError) as error:
        load_baseline(str(missing))
    assert str(missing) in error.value.message
    assert error.value.hint and "baseline create" in error.value.hint


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param("", "invalid JSON", id="empty"),
        pytest.param("{not json", "invalid JSON", id="syntax"),
        pytest.param("[]", "not a JSON object", id="list"),
        pytest.param('{"fingerprints": []}', "unsupported version", id="no-version"),
        pytest.param('{"version": 2, "fingerprints": []}', "version", id="version-2"),
        pytest.param('{"version": 1}', "'fingerprints'", id="no-entries"),
        pytest.param('{"version": 1, "fingerprints": {}}', "not a list", id="map"),
        pytest.param(
            '{"version": 1, "fingerprints": ["abc"]}', "entry 1", id="bare-string"
        ),
        pytest.param(
            '{"version": 1, "fingerprints": [{"fingerprint": "a"}]}',
            "entry 1",
            id="no-rule",
        ),
        pytest.param(
            '{"version": 1, "fingerprints": [{"fingerprint": "", "rule_id": "r"}]}',
            "entry 1",
            id="empty-fingerprint",
        ),
    ],
)
def test_baseline_malformed_file_is_error(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BaselineError) as error:
        load_baseline(str(path))
    assert "malformed baseline file" in error.value.message
    assert str(path) in error.value.message
    assert reason in error.value.message


def test_baseline_filter_keeps_new_findings(keys: KeyGen) -> None:
    old, new = make_finding(keys.gateway()), make_finding(keys.gateway())
    baseline = Baseline({old.fingerprint: old.rule_id})
    kept, suppressed = filter_findings([old, new, old], baseline)
    assert kept == [new]
    assert suppressed == 2


def test_baseline_compare_splits_entries(keys: KeyGen) -> None:
    kept, stale, new = (make_finding(keys.gateway()) for _ in range(3))
    baseline = Baseline(
        {kept.fingerprint: kept.rule_id, stale.fingerprint: stale.rule_id}
    )
    diff = compare(baseline, [kept, new])
    assert diff.new == {new.fingerprint: new.rule_id}
    assert diff.stale == {stale.fingerprint: stale.rule_id}
    assert diff.kept == {kept.fingerprint: kept.rule_id}


def test_baseline_create_writes_no_secret_or_location(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    first, second = keys.gateway(), keys.github()
    repo.write("app.py", f'KEY = "{first}"\n')
    repo.write("deploy/run.sh", f"export TOKEN={second}\n")
    result = run_keyscan(["baseline", "create"], repo.path)
    assert result.code == 0, result
    path = repo.path / ".keyscan-baseline.json"
    text = path.read_text(encoding="utf-8")
    assert first not in text
    assert second not in text
    assert "app.py" not in text
    assert "line" not in text
    entries = _entries(path)
    assert len(entries) == 2
    assert entries == sorted(entries, key=lambda entry: entry["fingerprint"])
    assert {entry["rule_id"] for entry in entries} >= {"modelstream-api-key"}


def test_baseline_create_unchanged_when_lines_move(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    repo.write("app.py", f'KEY = "{key}"\n')
    run_keyscan(["baseline", "create", "-o", "first.json"], repo.path)
    repo.write("app.py", f'"""Docs."""\n\nimport os\n\nKEY = "{key}"\n')
    run_keyscan(["baseline", "create", "-o", "second.json"], repo.path)
    first = (repo.path / "first.json").read_text(encoding="utf-8")
    assert first == (repo.path / "second.json").read_text(encoding="utf-8")


def test_baseline_create_rejects_existing_file(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.py", f'KEY = "{keys.gateway()}"\n')
    existing = repo.write("accepted.json", "kept as it is\n")
    result = run_keyscan(["baseline", "create", "-o", "accepted.json"], repo.path)
    assert result.code == 2, result
    assert "baseline file already exists: accepted.json" in result.stderr
    assert "keyscan baseline update" in result.stderr
    assert "--force" in result.stderr
    assert existing.read_text(encoding="utf-8") == "kept as it is\n"


def test_baseline_create_force_replaces_file(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.py", f'KEY = "{keys.gateway()}"\n')
    path = repo.write("accepted.json", "old\n")
    result = run_keyscan(
        ["baseline", "create", "--force", "-o", "accepted.json"], repo.path
    )
    assert result.code == 0, result
    assert len(_entries(path)) == 1


def test_baseline_option_reports_only_new(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.py", f'KEY = "{keys.gateway()}"\n')
    run_keyscan(["baseline", "create"], repo.path)
    accepted = run_keyscan(
        ["scan", "--baseline", ".keyscan-baseline.json", "."], repo.path
    )
    assert accepted.code == 0, accepted
    assert "1 finding suppressed by baseline" in accepted.stderr
    new_key = keys.gateway()
    repo.write("other.py", f'KEY = "{new_key}"\n')
    result = run_keyscan(
        ["scan", "--baseline", ".keyscan-baseline.json", "--format", "json", "."],
        repo.path,
    )
    assert result.code == 1, result
    findings = result.json()["findings"]
    assert [finding["path"] for finding in findings] == ["other.py"]
    assert result.json()["summary"]["baseline_suppressed"] == 1


def test_baseline_same_line_new_secret_reported(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("app.py", f'KEY = "{keys.gateway()}"\n')
    run_keyscan(["baseline", "create"], repo.path)
    repo.write("app.py", f'KEY = "{keys.gateway()}"\n')
    result = run_keyscan(["scan", "--baseline", ".keyscan-baseline.json"], repo.path)
    assert result.code == 1, result


@pytest.mark.parametrize("command", ["scan", "staged"])
def test_baseline_missing_option_file_exits_2(
    repo: Repo, run_keyscan: Any, command: str
) -> None:
    result = run_keyscan([command, "--baseline", "missing.json"], repo.path)
    assert result.code == 2, result
    assert "baseline file not found: missing.json" in result.stderr
    assert "keyscan baseline create" in result.stderr


def test_baseline_malformed_option_file_exits_2(repo: Repo, run_keyscan: Any) -> None:
    repo.write("broken.json", '{"version": 1, "fingerprints": [')
    result = run_keyscan(["scan", "--baseline", "broken.json", "."], repo.path)
    assert result.code == 2, result
    assert "malformed baseline file broken.json" in result.stderr


def test_baseline_update_adds_and_lists_stale(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("old.py", f'KEY = "{keys.gateway()}"\n')
    run_keyscan(["baseline", "create"], repo.path)
    path = repo.path / ".keyscan-baseline.json"
    (stale_entry,) = _entries(path)
    (repo.path / "old.py").unlink()
    repo.write("new.py", f'KEY = "{keys.gateway()}"\n')
    result = run_keyscan(["baseline", "update"], repo.path)
    assert result.code == 0, result
    assert "added 1 new fingerprint to" in result.stderr
    assert "1 stale entry (no longer found)" in result.stderr
    assert stale_entry["fingerprint"] in result.stderr
    assert "--prune" in result.stderr
    assert len(_entries(path)) == 2
    pruned = run_keyscan(["baseline", "update", "--prune"], repo.path)
    assert pruned.code == 0, pruned
    assert stale_entry not in _entries(path)
    assert len(_entries(path)) == 1


def test_baseline_update_without_file_exits_2(repo: Repo, run_keyscan: Any) -> None:
    result = run_keyscan(["baseline", "update"], repo.path)
    assert result.code == 2, result
    assert "baseline file not found" in result.stderr


def test_baseline_history_accepts_old_commits(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("old.py", f'KEY = "{keys.gateway()}"\n')
    repo.add()
    repo.commit("Add a key")
    (repo.path / "old.py").unlink()
    repo.add()
    repo.commit("Remove the key")
    created = run_keyscan(["baseline", "create", "--history"], repo.path)
    assert created.code == 0, created
    assert len(_entries(repo.path / ".keyscan-baseline.json")) == 1
    accepted = run_keyscan(["ci", "--baseline", ".keyscan-baseline.json"], repo.path)
    assert accepted.code == 0, accepted
    assert "1 finding suppressed by baseline" in accepted.stderr
    repo.write("new.py", f'KEY = "{keys.gateway()}"\n')
    repo.add()
    repo.commit("Add another key")
    result = run_keyscan(["ci", "--baseline", ".keyscan-baseline.json"], repo.path)
    assert result.code == 1, result
    assert "new.py" in result.stdout


def test_baseline_staged_hook_fast_path(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    parsed = parse_fast_staged(["staged", "--baseline", "b.json", "app.py"])
    assert parsed == (["app.py"], {"baseline": "b.json"})
    repo.write("app.py", f'KEY = "{keys.gateway()}"\n')
    repo.add()
    run_keyscan(["baseline", "create", "-o", "b.json"], repo.path)
    result = run_keyscan(["staged", "--baseline", "b.json"], repo.path)
    assert result.code == 0, result
    assert "suppressed by baseline b.json" in result.stderr
