"""The GitHub action and the GitLab template, run as their pipelines would.

Each test reads the YAML file, takes the shell commands a runner would run,
and runs them with bash in a real clone, with the variables GitHub Actions or
GitLab CI/CD set for a pull request or merge request. Installing keyscan is
the one step left out: the commands find the keyscan of this test run first
on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import GIT_ENV, Repo
from tests.keygen import KeyGen
from tests.reportdata import find_schema, load_schema

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
TEMPLATE = ROOT / "ci" / "gitlab" / "keyscan.gitlab-ci.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "keyscan.yml"
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _step(action: Any, name: str) -> Any:
    return next(step for step in action["runs"]["steps"] if step.get("id") == name)


@pytest.fixture
def pull_request(tmp_path: Path, keys: KeyGen) -> tuple[Path, str, str, str]:
    """Return a clone on a feature branch, its base and head, and the new key.

    main contains an old key (accepted history); feature adds a new one.
    """
    origin = Repo(tmp_path / "origin")
    origin.write("old.py", f'KEY = "{keys.gateway()}"\n')
    origin.add()
    base = origin.commit("Add old settings")
    origin.git("checkout", "-q", "-b", "feature")
    new_key = keys.gateway()
    origin.write("app/new.py", f'\nKEY = "{new_key}"\n')
    origin.add()
    head = origin.commit("Add new settings")
    work = tmp_path / "work"
    subprocess.run(
        ["git", "clone", "-q", "--branch", "feature", str(origin.path), str(work)],
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return work, base, head, new_key


def _run_bash(
    script: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GITHUB_", "GITLAB_", "CI_"))
    }
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env={**clean, **GIT_ENV, "PATH": path, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_action_is_composite_and_installs_itself() -> None:
    action = _load(ACTION)
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    install = steps[1]
    assert install["env"]["KEYSCAN_SOURCE"] == "${{ github.action_path }}"
    assert "pip install" in install["run"]
    assert "keyscan ci" in _step(action, "scan")["run"]


def test_action_scripts_use_no_inline_inputs() -> None:
    # An ${{ inputs.x }} inside a script would be pasted into the shell code.
    for step in _load(ACTION)["runs"]["steps"]:
        assert "${{" not in step.get("run", "")


def test_gitlab_template_job_shape() -> None:
    job = _load(TEMPLATE)["keyscan"]
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert job["artifacts"]["reports"]["secret_detection"] == (
        "gl-secret-detection-report.json"
    )
    assert any("pip install" in line for line in job["before_script"])
    assert any(line.startswith("keyscan ci ") for line in job["script"])


def test_workflow_uses_local_action_with_full_history() -> None:
    steps = _load(WORKFLOW)["jobs"]["keyscan"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[1]["uses"] == "./"


@needs_bash
def test_action_pull_request_run(
    tmp_path: Path, pull_request: tuple[Path, str, str, str]
) -> None:
    work, base, head, new_key = pull_request
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "number": 5,
                    "base": {"sha": base},
                    "head": {"sha": head},
                }
            }
        ),
        encoding="utf-8",
    )
    outputs = tmp_path / "github_output"
    outputs.touch()

    action = _load(ACTION)
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_BASE_REF": "main",
        "GITHUB_OUTPUT": str(outputs),
        "KEYSCAN_ARGS": "",
        "KEYSCAN_SARIF": "keyscan.sarif",
    }
    done = _run_bash(_step(action, "scan")["run"], work, env)
    assert done.returncode == 0, done.stderr
    assert outputs.read_text(encoding="utf-8") == "exit-code=1\n"
    assert f"scanning {base}..{head} (1 commit)" in done.stderr
    annotations = [
        line for line in done.stdout.splitlines() if line.startswith("::error")
    ]
    assert len(annotations) == 1, done.stdout
    assert annotations[0].startswith("::error file=app/new.py,line=2,col=8,")
    assert new_key not in done.stdout + done.stderr

    log = json.loads((work / "keyscan.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(load_schema("sarif-schema-2.1.0.json")).validate(log)
    assert [r["properties"]["commit"] for r in log["runs"][0]["results"]] == [head]

    fail = action["runs"]["steps"][-1]
    failed = _run_bash(fail["run"], work, {"KEYSCAN_EXIT": "1"})
    assert failed.returncode == 1


@needs_bash
def test_action_clean_push_run(
    tmp_path: Path, pull_request: tuple[Path, str, str, str]
) -> None:
    work, _, head, _ = pull_request
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"before": head, "after": head}), encoding="utf-8")
    outputs = tmp_path / "github_output"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(outputs),
        "KEYSCAN_ARGS": "--quiet",
        "KEYSCAN_SARIF": "",
    }
    done = _run_bash(_step(_load(ACTION), "scan")["run"], work, env)
    assert done.returncode == 0, done.stderr
    assert outputs.read_text(encoding="utf-8") == "exit-code=0\n"
    assert not (work / "keyscan.sarif").exists()


@needs_bash
def test_gitlab_template_merge_request_run(
    pull_request: tuple[Path, str, str, str],
) -> None:
    work, base, head, new_key = pull_request
    job = _load(TEMPLATE)["keyscan"]
    env = {
        **{name: str(value) for name, value in job["variables"].items()},
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "4",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_COMMIT_SHA": head,
    }
    done = _run_bash("\n".join(job["script"]), work, env)
    assert done.returncode == 1, done.stderr
    assert "GitLab merge request !4" in done.stderr
    assert "app/new.py" in done.stderr
    report = json.loads(
        (work / "gl-secret-detection-report.json").read_text(encoding="utf-8")
    )
    (vulnerability,) = report["vulnerabilities"]
    assert vulnerability["location"]["file"] == "app/new.py"
    assert vulnerability["location"]["commit"]["sha"] == head
    assert new_key not in json.dumps(report)
    schema = find_schema("secret-detection-report-format.json")
    if schema is not None:
        jsonschema.Draft7Validator(schema).validate(report)
