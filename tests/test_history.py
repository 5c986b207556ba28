"""keyscan history: attribution, merges, renames, odd objects, ranges, the push hook."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keyscan.sources.gitlog import Revisions
from tests.conftest import GIT_ENV, Repo
from tests.keygen import KeyGen


def _git(repo: Repo, *args: str, date: str | None = None, **env: str) -> str:
    """Run git in ``repo`` with the pinned identity, at ``date`` when given."""
    extra = dict(env)
    if date is not None:
        extra.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", "-c", "tag.gpgsign=false", *args],
        cwd=repo.path,
        env={**os.environ, **GIT_ENV, **extra},
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8", "replace").strip()


def _commit(repo: Repo, message: str, hour: int) -> str:
    """Commit everything at 2024-03-01 ``hour``:00 and return the commit id."""
    repo.add()
    date = f"2024-03-01T{hour:02d}:00:00+0000"
    _git(repo, "commit", "-q", "--allow-empty", "-m", message, date=date)
    return _git(repo, "rev-parse", "HEAD")


def _history(run_keyscan: Any, repo: Repo, *args: str) -> Any:
    return run_keyscan(["history", "--format", "json", *args], repo.path)


def _places(result: Any) -> list[tuple[str | None, int, str]]:
    return [(f["path"], f["line"], f["commit"]) for f in result.json()["findings"]]


def test_history_merge_resolution_attributed_to_merge(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    repo.write("config.env", "REGION=eu\nLOG_LEVEL=info\n")
    first = _commit(repo, "Initial config", 9)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("config.env", "REGION=eu\nLOG_LEVEL=debug\n")
    _commit(repo, "Debug logging", 10)
    repo.git("checkout", "-q", "main")
    repo.write("config.env", "REGION=eu\nLOG_LEVEL=warn\n")
    _commit(repo, "Quieter logs", 11)
    subprocess.run(
        ["git", "merge", "-q", "--no-ff", "feature"],
        cwd=repo.path,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        check=False,
    )
    repo.write("config.env", f"REGION=eu\nLOG_LEVEL=debug\nAPI_KEY={key}\n")
    merge = _commit(repo, "Merge branch 'feature'", 12)

    result = _history(run_keyscan, repo)
    assert result.code == 1
    assert _places(result) == [("config.env", 3, merge)]

    ranged = _history(run_keyscan, repo, "--rev", f"{first}..main")
    assert _places(ranged) == [("config.env", 3, merge)]


def test_history_reads_second_parent_only_commits(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("README.md", "# app\n")
    _commit(repo, "Initial commit", 9)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("notes.md", f"token {keys.github()}\n")
    added = _commit(repo, "Add notes", 10)
    repo.write("notes.md", "no token\n")
    _commit(repo, "Remove the token", 11)
    repo.git("checkout", "-q", "main")
    _git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge",
        "feature",
        date="2024-03-01T12:00:00+0000",
    )
    repo.git("branch", "-q", "-D", "feature")

    result = _history(run_keyscan, repo)
    assert _places(result) == [("notes.md", 1, added)]
    assert result.json()["findings"][0]["present_at_head"] is False


def test_history_renames_and_copies_report_each_path(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    repo.write("config/llm.py", f'# settings\nURL = "x"\nAPI_KEY = "{key}"\n')
    first = _commit(repo, "Add settings", 9)
    (repo.path / "settings").mkdir()
    repo.git("mv", "config/llm.py", "settings/llm_de.py")
    repo.write("settings/llm_fr.py", (repo.path / "settings/llm_de.py").read_text())
    second = _commit(repo, "Split settings per locale", 10)

    result = _history(run_keyscan, repo)
    findings = result.json()["findings"]
    assert _places(result) == [
        ("config/llm.py", 3, first),
        ("settings/llm_de.py", 3, second),
        ("settings/llm_fr.py", 3, second),
    ]
    assert [f["present_at_head"] for f in findings] == [False, True, True]
    assert {f["occurrences"] for f in findings} == {3}


def _raw_commit(repo: Repo, rest: bytes) -> str:
    """Commit the staged tree on HEAD with ``rest`` (the header lines after
    ``parent``, a blank line and the message) written as given, and move main
    to it. Returns the new commit's id.
    """
    repo.add()
    tree = _git(repo, "write-tree")
    parent = _git(repo, "rev-parse", "HEAD")
    raw = f"tree {tree}\nparent {parent}\n".encode() + rest
    commit = repo.git(
        "hash-object", "-t", "commit", "-w", "--literally", "--stdin", input=raw
    ).strip()
    repo.git("update-ref", "refs/heads/main", commit)
    return commit


def test_history_malformed_header_and_latin1_author(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("README.md", "# tools\n")
    _commit(repo, "Initial commit", 9)
    repo.write("keys.env", f"GATEWAY_KEY={keys.gateway()}\n")
    odd = _raw_commit(
        repo,
        b"author Ren\xe9 Dupont <rene@example.invalid> 1288373970 +0200\n"
        + b"committer Ren\xe9 Dupont <rene@example.invalid> 1288373970 --700\n"
        + b"\nAdd key file\n",
    )

    result = _history(run_keyscan, repo)
    assert result.code == 1
    (finding,) = result.json()["findings"]
    assert finding["commit"] == odd
    assert finding["author_name"] == "Ren\\xe9 Dupont"
    assert finding["author_email"] == "rene@example.invalid"
    assert finding["date"] == "2010-10-29T19:39:30+02:00"
    assert "Traceback" not in result.stderr


def test_history_message_in_declared_encoding(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("README.md", "# tools\n")
    _commit(repo, "Initial commit", 9)
    key = keys.gateway()
    repo.write("notes.txt", "résumé\n")
    odd = _raw_commit(
        repo,
        b"author Ren\xe9 <rene@example.invalid> 1288373970 +0200\n"
        + b"committer Ren\xe9 <rene@example.invalid> 1288373970 +0200\n"
        + b"encoding ISO-8859-1\n"
        + f"\nAdd r\xe9sum\xe9 key={key}\n".encode("latin-1"),
    )

    result = _history(run_keyscan, repo)
    (finding,) = result.json()["findings"]
    assert finding["commit"] == odd
    assert finding["author_name"] == "René"
    assert "résumé" in finding["snippet"]


def test_history_side_branch_deleted_and_renamed_keys(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    side_key, deleted_key, moved_key = keys.gateway(), keys.github(), keys.openrouter()
    repo.write("README.md", "# app\n")
    _commit(repo, "Initial commit", 9)
    repo.git("checkout", "-q", "-b", "spike")
    repo.write("spike.env", f"KEY={side_key}\n")
    side = _commit(repo, "Try the gateway", 10)
    repo.git("checkout", "-q", "main")
    repo.write("ci.yml", f"token: {deleted_key}\n")
    repo.write("old/.npmrc", f"OPENROUTER_KEY={moved_key}\n")
    added = _commit(repo, "Add CI", 11)
    (repo.path / "ci.yml").unlink()
    (repo.path / "new").mkdir()
    repo.git("mv", "old/.npmrc", "new/.npmrc")
    moved = _commit(repo, "Remove CI token, move npmrc", 12)

    result = _history(run_keyscan, repo)
    findings = {f["path"]: f for f in result.json()["findings"]}
    assert findings["spike.env"]["commit"] == side
    assert findings["ci.yml"]["commit"] == added
    assert findings["ci.yml"]["present_at_head"] is False
    assert findings["old/.npmrc"]["commit"] == added
    assert findings["new/.npmrc"]["commit"] == moved
    assert findings["new/.npmrc"]["present_at_head"] is True


def test_history_commit_and_tag_messages(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    in_commit, in_tag = keys.gateway(), keys.gateway()
    repo.write("a.txt", "a\n")
    commit = _commit(repo, f"Configure the client\n\nUsed key {in_commit}", 9)
    _git(
        repo,
        "tag",
        "-a",
        "v1.0",
        "-m",
        f"Release\n\nkey {in_tag}",
        date="2024-03-02T09:00:00+0000",
    )

    result = _history(run_keyscan, repo)
    findings = result.json()["findings"]
    assert [(f["path"], f["commit"], f["ref"]) for f in findings[:1]] == [
        (None, commit, None)
    ]
    assert findings[1]["path"] is None
    assert findings[1]["ref"] == "refs/tags/v1.0"
    assert findings[1]["author_name"] == "Test Author"
    text = run_keyscan(["history"], repo.path).stdout
    assert "message of refs/tags/v1.0" in text
    assert f"message of {commit[:12]}" in text


def test_history_scans_each_blob_once(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    repo.write("base/.env", f"KEY={key}\n")
    _commit(repo, "Add env", 9)
    for hour in range(10, 15):
        repo.write(f"copy{hour}/.env", f"KEY={key}\n")
        repo.write("counter.txt", f"{hour}\n")
        _commit(repo, f"Copy {hour}", hour)

    result = _history(run_keyscan, repo)
    summary = result.json()["summary"]
    assert summary["commits"] == 6
    # one .env blob plus the five versions of counter.txt
    assert summary["blobs_scanned"] == 6
    findings = result.json()["findings"]
    assert len(findings) == 6
    assert {f["occurrences"] for f in findings} == {6}


def test_history_occurrences_count_commit_path_pairs(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    repo.write("app.env", f"KEY={key}\nA=1\n")
    _commit(repo, "Add", 9)
    repo.write("app.env", f"KEY={key}\nA=2\n")
    _commit(repo, "Change A", 10)
    repo.write("other.txt", "unrelated\n")
    _commit(repo, "Unrelated", 11)

    (finding,) = _history(run_keyscan, repo).json()["findings"]
    assert finding["occurrences"] == 2
    assert finding["line"] == 1


def test_history_repository_without_commits(repo: Repo, run_keyscan: Any) -> None:
    result = _history(run_keyscan, repo)
    assert result.code == 0
    assert result.json()["summary"]["commits"] == 0
    assert "has no commits" in result.stderr


def test_history_empty_commits(repo: Repo, run_keyscan: Any) -> None:
    _commit(repo, "Empty start", 9)
    result = _history(run_keyscan, repo)
    assert result.code == 0
    assert result.json()["summary"]["commits"] == 1


def test_history_shallow_clone_noted(
    repo: Repo, keys: KeyGen, tmp_path: Path, run_keyscan: Any
) -> None:
    repo.write("old.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Old key", 9)
    repo.write("new.env", f"KEY={keys.gateway()}\n")
    newest = _commit(repo, "New key", 10)
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)],
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    result = run_keyscan(["history", "--format", "json"], clone)
    document = result.json()
    assert document["summary"]["shallow"] is True
    assert {f["commit"] for f in document["findings"]} == {newest}
    assert {f["path"] for f in document["findings"]} == {"old.env", "new.env"}
    assert "shallow clone" in result.stderr


def test_history_submodule_not_descended(
    repo: Repo, tmp_path: Path, run_keyscan: Any
) -> None:
    inner = Repo(tmp_path / "inner")
    inner.write("x.txt", "x\n")
    inner.add()
    inner.commit("Inner")
    repo.git(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(inner.path),
        "vendor/inner",
    )
    _commit(repo, "Add submodule", 9)

    result = _history(run_keyscan, repo)
    assert result.code == 0
    assert result.json()["summary"]["submodules"] == 1
    assert "did not descend into 1 submodule;" in result.stderr


def test_history_lfs_pointer_skipped(repo: Repo, run_keyscan: Any) -> None:
    pointer = (
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:" + "ab" * 32 + "\nsize 1234\n"
    )
    repo.write("model.bin", pointer)
    _commit(repo, "Add model", 9)

    result = _history(run_keyscan, repo)
    assert result.json()["summary"]["lfs_pointers"] == 1
    assert "skipped 1 Git LFS pointer file," in result.stderr


def test_history_binary_and_non_utf8_path(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    key = keys.gateway()
    repo.write("blob.bin", b"\x00\x01\x02" + f"KEY={key}".encode() + b"\x00")
    (
        repo.path / "caf\xe9.env".encode("latin-1").decode("utf-8", "surrogateescape")
    ).write_bytes(f"KEY={key}\n".encode())
    _commit(repo, "Add files", 9)

    result = _history(run_keyscan, repo)
    paths = {f["path"] for f in result.json()["findings"]}
    assert paths == {"blob.bin", "caf\\xe9.env"}


def test_history_size_limit_skips_blob(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("big.env", f"KEY={keys.gateway()}\n" + "x" * 2000)
    _commit(repo, "Add big file", 9)

    result = _history(run_keyscan, repo, "--max-file-size", "1000")
    assert result.code == 0
    (skipped,) = result.json()["summary"]["skipped"]
    assert skipped["path"] == "big.env"
    assert skipped["reason"].startswith("over the size limit")


def test_history_allow_comment_and_fingerprint(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    allowed, listed = keys.gateway(), keys.gateway()
    repo.write("a.env", f"KEY={allowed}  # keyscan:allow\n")
    repo.write("b.env", f"KEY={listed}\n")
    _commit(repo, "Add keys", 9)
    fingerprint = _history(run_keyscan, repo).json()["findings"][0]["fingerprint"]
    repo.write(".keyscan.toml", f'allow_fingerprints = ["{fingerprint}"]\n')

    result = _history(run_keyscan, repo)
    assert result.code == 0
    assert result.json()["findings"] == []


def test_history_not_a_repository(tmp_path: Path, run_keyscan: Any) -> None:
    result = run_keyscan(["history", str(tmp_path)], tmp_path)
    assert result.code == 2
    assert "not a git repository" in result.stderr


def test_history_bad_range(repo: Repo, run_keyscan: Any) -> None:
    _commit(repo, "Start", 9)
    result = run_keyscan(["history", "--rev", "nope..main"], repo.path)
    assert result.code == 2
    assert "bad revision" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the error and a hint


def test_history_unknown_branch(repo: Repo, run_keyscan: Any) -> None:
    _commit(repo, "Start", 9)
    result = run_keyscan(["history", "--branch", "nope"], repo.path)
    assert result.code == 2
    assert "branch not found: nope" in result.stderr


def test_history_branch_option(repo: Repo, keys: KeyGen, run_keyscan: Any) -> None:
    repo.write("a.txt", "a\n")
    _commit(repo, "Start", 9)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("f.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Feature key", 10)
    repo.git("checkout", "-q", "main")

    assert _places(_history(run_keyscan, repo, "--branch", "main")) == []
    assert len(_places(_history(run_keyscan, repo, "--branch", "feature"))) == 1


def test_history_jobs_give_same_findings(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    for hour in range(9, 15):
        repo.write(f"dir{hour}/.env", f"KEY={keys.gateway()}\n")
        _commit(repo, f"Key {hour} {keys.gateway()}", hour)

    one = _history(run_keyscan, repo, "--jobs", "1").json()
    two = _history(run_keyscan, repo, "--jobs", "2").json()
    assert one["findings"] == two["findings"]
    assert len(one["findings"]) == 12


def test_history_no_progress_when_not_a_terminal(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("a.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Add", 9)
    result = run_keyscan(["history", "--quiet"], repo.path)
    assert "\r" not in result.stderr
    assert "commits," not in result.stderr.splitlines()[0]


def _pushed_repo(repo: Repo, tmp_path: Path) -> Repo:
    """Return a clone of ``repo`` whose origin is a bare copy of it."""
    remote = tmp_path / "remote.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(repo.path), str(remote)],
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    work = tmp_path / "work"
    subprocess.run(
        ["git", "clone", "-q", str(remote), str(work)],
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    clone = Repo.__new__(Repo)
    clone.path = work
    return clone


def test_pre_push_new_branch_scans_unpushed_commits(
    repo: Repo,
    keys: KeyGen,
    tmp_path: Path,
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo.write("old.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Key already on the remote", 9)
    clone = _pushed_repo(repo, tmp_path)
    clone.git("checkout", "-q", "-b", "topic")
    clone.write("new.env", f"KEY={keys.gateway()}\n")
    new = _commit(clone, "New key", 10)

    monkeypatch.setenv("PRE_COMMIT_FROM_REF", "0" * 40)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", new)
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "origin")
    result = run_keyscan(["history", "--pre-push", "--format", "json"], clone.path)
    assert result.code == 1
    assert _places(result) == [("new.env", 1, new)]


def test_pre_push_existing_branch_range(
    repo: Repo,
    keys: KeyGen,
    tmp_path: Path,
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo.write("old.env", f"KEY={keys.gateway()}\n")
    before = _commit(repo, "Key already on the remote", 9)
    clone = _pushed_repo(repo, tmp_path)
    clone.write("clean.txt", "fine\n")
    after = _commit(clone, "Clean change", 10)

    monkeypatch.setenv("PRE_COMMIT_FROM_REF", before)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", after)
    result = run_keyscan(["history", "--pre-push", "--format", "json"], clone.path)
    assert result.code == 0
    assert result.json()["summary"]["commits"] == 1


def test_pre_push_revisions_from_environment(repo: Repo) -> None:
    from keyscan.cli.history import pre_push_revisions

    start = _commit(repo, "Start", 9)
    env = {"PRE_COMMIT_FROM_REF": start, "PRE_COMMIT_TO_REF": "HEAD"}
    assert pre_push_revisions(env, str(repo.path)) == Revisions(
        revs=("HEAD", f"^{start}"), all_refs=False, exclude_remotes=True
    )
    new_branch = {"PRE_COMMIT_FROM_REF": "0" * 40, "PRE_COMMIT_TO_REF": start}
    assert pre_push_revisions(new_branch, str(repo.path)).revs == (start,)
    deletion = {"PRE_COMMIT_TO_REF": "0" * 40}
    assert pre_push_revisions(deletion, str(repo.path)).revs == ()
    root_push = {"PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main"}
    assert pre_push_revisions(root_push, str(repo.path)).revs == ("refs/heads/main",)


def test_history_unborn_head_leaves_presence_unknown(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    repo.write("a.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Add key", 9)
    repo.git("symbolic-ref", "HEAD", "refs/heads/unborn")

    (finding,) = _history(run_keyscan, repo).json()["findings"]
    assert finding["present_at_head"] is None


def _install_push_hook(clone: Repo, tmp_path: Path) -> dict[str, str]:
    """Install the keyscan-push hook through pre-commit, as a local hook."""
    config = (
        "repos:\n- repo: local\n  hooks:\n  - id: keyscan-push\n"
        "    name: keyscan-push\n"
        f"    entry: {sys.executable} -m keyscan history --pre-push\n"
        "    language: system\n    pass_filenames: false\n    always_run: true\n"
        "    require_serial: true\n    stages: [pre-push]\n"
    )
    (clone.path / ".pre-commit-config.yaml").write_text(config)
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path / "pc")}
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "-t", "pre-push"],
        cwd=clone.path,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def _push(
    clone: Repo, env: dict[str, str], branch: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "-q", "origin", branch],
        cwd=clone.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_push_hook_blocks_new_branch_with_key(
    repo: Repo, keys: KeyGen, tmp_path: Path
) -> None:
    repo.write("old.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Key already on the remote", 9)
    clone = _pushed_repo(repo, tmp_path)
    env = _install_push_hook(clone, tmp_path)
    clone.git("checkout", "-q", "-b", "topic")
    clone.write("clean.txt", "fine\n")
    _commit(clone, "Clean change", 10)
    clone.write("new.env", f"KEY={keys.gateway()}\n")
    _commit(clone, "New key", 11)

    done = _push(clone, env, "topic")
    assert done.returncode != 0
    assert "new.env:1:5" in done.stdout
    assert "old.env" not in done.stdout


def test_push_hook_passes_clean_push(repo: Repo, keys: KeyGen, tmp_path: Path) -> None:
    repo.write("old.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Key already on the remote", 9)
    clone = _pushed_repo(repo, tmp_path)
    env = _install_push_hook(clone, tmp_path)
    clone.write("clean.txt", "fine\n")
    _commit(clone, "Clean change", 10)

    done = _push(clone, env, "main")
    assert done.returncode == 0, done.stdout + done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyscan.cli.history import ProgressBar
    from keyscan.sources.history import Progress

    monkeypatch.delenv("CI", raising=False)
    progress = Progress(
        commits=12, blobs_queued=30, blobs_done=20, bytes_done=3 << 20, elapsed_s=2.0
    )
    terminal = _Terminal()
    with ProgressBar(terminal) as bar:
        bar.update(progress)
    assert "12 commits, 20/30 blobs, 3.0 MiB at 1.5 MiB/s, 2 s" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")
    pipe = io.StringIO()
    with ProgressBar(pipe) as bar:
        bar.update(progress)
    assert pipe.getvalue() == ""


def test_history_many_commits_tags_and_keys(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    count = 300
    who = "Test Author <author@example.invalid>"
    stream = []
    for index in range(count):
        content = f"KEY={keys.gateway()}\n".encode()
        stream.append(
            f"commit refs/heads/main\nmark :{index + 1}\n"
            f"committer {who} {1709280000 + index} +0000\n"
            f"data 6\nAdd {index % 10}\n"
            + (f"from :{index}\n" if index else "")
            + f"M 100644 inline keys/{index}.env\ndata {len(content)}\n"
        )
        stream.append(content.decode() + "\n")
    for index in range(count):
        stream.append(
            f"tag v{index}\nfrom :{index + 1}\n"
            f"tagger {who} {1709290000 + index} +0000\n"
            "data 5\nTag.\n\n"
        )
    repo.git("fast-import", "--quiet", input="".join(stream).encode())

    result = _history(run_keyscan, repo, "--jobs", "2")
    document = result.json()
    assert len(document["findings"]) == count
    assert len({f["commit"] for f in document["findings"]}) == count
    assert document["summary"]["tags_scanned"] == count
    assert document["summary"]["messages_scanned"] == 2 * count


def test_pre_push_counts_commit_message(
    repo: Repo,
    keys: KeyGen,
    tmp_path: Path,
    run_keyscan: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo.write("a.txt", "x = 1\n")
    before = _commit(repo, "Initial", 9)
    clone = _pushed_repo(repo, tmp_path)
    after = _commit(clone, f"Use KEY={keys.gateway()}", 10)

    monkeypatch.setenv("PRE_COMMIT_FROM_REF", before)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", after)
    result = run_keyscan(["history", "--pre-push"], clone.path)

    assert result.code == 1, result
    assert "scanned 0 files (0 bytes) and 1 commit message in " in result.stderr
    assert ": 1 secret found" in result.stderr
    assert "nothing was scanned" not in result.stderr


def test_history_json_counts_messages(
    repo: Repo, keys: KeyGen, run_keyscan: Any
) -> None:
    _commit(repo, f"Use KEY={keys.gateway()}", 9)
    repo.git("tag", "-a", "v1", "-m", "First release")
    result = run_keyscan(["history", "--format", "json"], repo.path)
    summary = result.json()["summary"]

    assert summary["messages_scanned"] == 2
    assert summary["tags_scanned"] == 1
    assert "1 commit message and 1 tag message" in result.stderr


@pytest.mark.parametrize("jobs", ["0", "100000"])
def test_history_jobs_out_of_range_rejected(
    repo: Repo, run_keyscan: Any, jobs: str
) -> None:
    from keyscan.sources.workers import max_jobs

    repo.write("a.txt", "x = 1\n")
    _commit(repo, "Initial", 9)

    result = _history(run_keyscan, repo, "--jobs", jobs)
    assert result.code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert f"--jobs {jobs}" in lines[0]
    assert f"1 to {max_jobs()}" in lines[0]


def test_max_jobs_at_least_eight(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyscan.sources import workers

    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert workers.max_jobs() == 8
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert workers.max_jobs() == 64


def _count_workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of each worker pool that a history scan starts."""
    from keyscan.sources import workers

    started: list[int] = []
    real_context = workers._context

    class RecordingContext:
        def Pool(self, processes: int, **kwargs: Any) -> Any:
            started.append(processes)
            return real_context().Pool(processes, **kwargs)

    monkeypatch.setattr(workers, "_context", RecordingContext)
    return started


def test_history_jobs_capped_by_batches(
    repo: Repo, keys: KeyGen, run_keyscan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _count_workers(monkeypatch)
    repo.write("a.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Initial", 9)

    # One blob batch and one message batch: two workers at most.
    result = _history(run_keyscan, repo, "--jobs", "8")
    assert result.code == 1
    assert len(result.json()["findings"]) == 1
    assert started == [2]


def test_history_single_batch_scanned_in_process(
    repo: Repo, run_keyscan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _count_workers(monkeypatch)
    _commit(repo, "Empty", 9)

    # A commit without files gives a single message batch.
    result = _history(run_keyscan, repo, "--jobs", "8")
    assert result.code == 0
    assert result.json()["summary"]["messages_scanned"] == 1
    assert started == []


def test_history_jobs_full_pool_for_many_batches(
    repo: Repo, keys: KeyGen, run_keyscan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _count_workers(monkeypatch)
    for index in range(300):
        repo.write(f"files/{index}.txt", f"value = {index}\n")
    repo.write("a.env", f"KEY={keys.gateway()}\n")
    _commit(repo, "Many files", 9)

    # 301 blobs make three batches of at most 128, plus one message batch.
    result = _history(run_keyscan, repo, "--jobs", "3")
    assert result.code == 1
    assert result.json()["summary"]["files_scanned"] == 301
    assert started == [3]
