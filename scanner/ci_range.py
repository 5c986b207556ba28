"""The commit range a CI run should scan, read from the CI environment.

``resolve_range`` reads only the environment and the event file GitHub
Actions writes. It runs no git command, so every CI case can be tested with
a plain dictionary. ``keyscan.cli.ci`` then checks that the commits exist in
the clone, deepens a shallow clone when it can, and runs the history scan.

Variables read:

- GitHub: ``GITHUB_ACTIONS``, ``GITHUB_EVENT_NAME``, ``GITHUB_BASE_REF`` and
  the event file at ``GITHUB_EVENT_PATH``. Its fields are
  ``pull_request.base.sha`` and ``head.sha`` for a pull request, ``before``
  and ``after`` for a push (``before`` is all zeros for a new branch), and
  ``merge_group.base_sha`` and ``head_sha`` for a merge queue run.
- GitLab: ``GITLAB_CI``, ``CI_PIPELINE_SOURCE``,
  ``CI_MERGE_REQUEST_DIFF_BASE_SHA``, ``CI_MERGE_REQUEST_SOURCE_BRANCH_SHA``,
  ``CI_MERGE_REQUEST_TARGET_BRANCH_NAME``, ``CI_COMMIT_SHA``,
  ``CI_COMMIT_BEFORE_SHA`` (all zeros for a new branch), ``CI_DEFAULT_BRANCH``,
  ``CI_COMMIT_BRANCH``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


class RangeChoice(NamedTuple):
    """The commits to scan and why.

    ``base`` None means the whole history: every ref, as ``keyscan history``
    scans by default. ``head`` None means HEAD of the clone. ``reason`` is one
    sentence for the user.
    """

    base: str | None
    head: str | None
    reason: str

    @property
    def rev_range(self) -> str | None:
        """Return ``base..head`` for git, or None for the whole history."""
        if self.base is None:
            return None
        return f"{self.base}..{self.head or 'HEAD'}"


def is_null_sha(value: str | None) -> bool:
    """Return whether ``value`` is missing or git's all-zero object id."""
    return not value or set(value) == {"0"}


def resolve_range(env: Mapping[str, str], rev: str | None = None) -> RangeChoice:
    """Return the commits a CI run should scan, from ``rev`` or ``env``.

    ``rev`` (``--rev``) wins: a range ``A..B`` is used as given and a single
    revision ``A`` means ``A..HEAD``. Without it GitHub Actions and GitLab
    CI/CD variables are read. When no variable names the new commits, the
    choice is the whole history.
    """
    if rev:
        return _explicit(rev)
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    return RangeChoice(None, None, "no CI environment detected")


def _explicit(rev: str) -> RangeChoice:
    base, dots, head = rev.partition("..")
    if not dots:
        return RangeChoice(rev, None, f"--rev {rev}")
    return RangeChoice(base or None, head.lstrip(".") or None, f"--rev {rev}")


def _github(env: Mapping[str, str]) -> RangeChoice:
    event_name = env.get("GITHUB_EVENT_NAME", "")
    event = _read_event(env.get("GITHUB_EVENT_PATH"))
    if event_name in _PULL_REQUEST_EVENTS:
        return _github_pull_request(env, event)
    if event_name == "push":
        return _github_push(event)
    if event_name == "merge_group":
        return _github_merge_group(event)
    return RangeChoice(
        None,
        None,
        f"GitHub Actions {event_name or 'unknown'} event has no commit range",
    )


def _read_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError) as error:
        logger.warning("cannot read the GitHub event file %s: %s", path, error)
        return {}
    return event if isinstance(event, dict) else {}


def _github_pull_request(env: Mapping[str, str], event: dict[str, Any]) -> RangeChoice:
    pull = event.get("pull_request") or {}
    base = (pull.get("base") or {}).get("sha")
    head = (pull.get("head") or {}).get("sha")
    number = pull.get("number") or event.get("number")
    label = f"GitHub pull request #{number}" if number else "GitHub pull request"
    if base and head:
        return RangeChoice(base, head, f"{label}: its base and head commits")
    base_ref = env.get("GITHUB_BASE_REF")
    if base_ref:
        return RangeChoice(
            f"origin/{base_ref}", None, f"{label}: target branch {base_ref}"
        )
    return RangeChoice(None, None, f"{label} event names no base commit")


def _github_push(event: dict[str, Any]) -> RangeChoice:
    before, after = event.get("before"), event.get("after")
    if is_null_sha(after):
        return RangeChoice(None, None, "GitHub push event names no pushed commit")
    if not is_null_sha(before):
        return RangeChoice(before, after, "GitHub push: the pushed commits")
    default = (event.get("repository") or {}).get("default_branch")
    ref = str(event.get("ref") or "")
    if default and ref != f"refs/heads/{default}":
        return RangeChoice(
            f"origin/{default}",
            after,
            f"GitHub push of a new branch: commits not on {default}",
        )
    return RangeChoice(None, after, "GitHub push of a new branch with no base")


def _github_merge_group(event: dict[str, Any]) -> RangeChoice:
    group = event.get("merge_group") or {}
    base, head = group.get("base_sha"), group.get("head_sha")
    if is_null_sha(base) or is_null_sha(head):
        return RangeChoice(None, None, "GitHub merge queue event names no commits")
    return RangeChoice(base, head, "GitHub merge queue: the queued commits")


def _gitlab(env: Mapping[str, str]) -> RangeChoice:
    head = env.get("CI_COMMIT_SHA") or None
    if env.get("CI_PIPELINE_SOURCE") == "merge_request_event" or env.get(
        "CI_MERGE_REQUEST_IID"
    ):
        return _gitlab_merge_request(env, head)
    before = env.get("CI_COMMIT_BEFORE_SHA")
    if not is_null_sha(before):
        return RangeChoice(before, head, "GitLab push: the pushed commits")
    default = env.get("CI_DEFAULT_BRANCH")
    if default and env.get("CI_COMMIT_BRANCH") not in (None, default):
        return RangeChoice(
            f"origin/{default}",
            head,
            f"GitLab pipeline for a new branch: commits not on {default}",
        )
    source = env.get("CI_PIPELINE_SOURCE") or "unknown"
    return RangeChoice(None, head, f"GitLab {source} pipeline names no earlier commit")


def _gitlab_merge_request(env: Mapping[str, str], head: str | None) -> RangeChoice:
    # In a merged-results pipeline CI_COMMIT_SHA is a merge commit GitLab made,
    # so the source branch's own head is preferred when GitLab names it.
    head = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or head
    iid = env.get("CI_MERGE_REQUEST_IID")
    label = f"GitLab merge request !{iid}" if iid else "GitLab merge request"
    base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    if not is_null_sha(base):
        return RangeChoice(base, head, f"{label}: commits since its diff base")
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
    if target:
        return RangeChoice(f"origin/{target}", head, f"{label}: target branch {target}")
    return RangeChoice(None, head, f"{label} names no base commit")
