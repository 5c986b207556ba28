#!/usr/bin/env python3
"""Time keyscan against peer secret scanners and floor commands, whole process each.

Every command runs as its own process: one untimed warm-up run, then ``--runs``
timed runs. The report gives the median and min wall time and the max RSS of
the largest process in the command's process tree. Output goes to /dev/null.

Groups:

- ``hook``: a pre-commit check on a copy of click with 10 staged source files.
- ``scan``: the working trees of click and flask.
- ``history``: the full history (all branches and tags) of click, flask and
  sqlalchemy.

Timing uses hyperfine when it is on PATH (or in ``PEERS/bin``) and Python's
``os.wait4`` otherwise. Max RSS is ``ru_maxrss`` from ``wait4``. Linux reports
there the largest RSS of the waited process and of every descendant that was
waited for. The value is therefore the RSS of the largest single process in the
tree, not a sum over the tree. With the Python timer it is the maximum over the
timed runs. With hyperfine it comes from the warm-up run, which runs under
``os.wait4``.
A command with no warm-up (trufflehog3's history scan, see ``--slow-runs``)
always uses the Python timer. Mean CPU s is user plus system time of the
command and its waited descendants, averaged over the timed runs. It moves
much less than wall time when other work shares the CPUs. Standard library
only. Linux only, because ``ru_maxrss`` is read as KiB.

Example::

    python bench/bench.py --data /work/bench/data --peers /work/bench \\
        --runs 7 --only hook --json results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

GROUPS = ("hook", "scan", "history")
HOOK_REPO = "click"
HOOK_FILE_COUNT = 10
HOOK_FEW_FILES = 3
SCAN_REPOS = ("click", "flask")
HISTORY_REPOS = ("click", "flask", "sqlalchemy")
REPOS_BY_GROUP = {"hook": (HOOK_REPO,), "scan": SCAN_REPOS, "history": HISTORY_REPOS}
SECRETLINT_CONFIG = {"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]}

# Reads every tracked file of the current directory once: the least work a
# scanner of a working tree can do in Python.
READ_TRACKED_FILES = (
    "import os, subprocess as sp; "
    '[open(n, "rb").read() for n in sp.run(["git", "ls-files", "-z"], '
    'capture_output=True, check=True).stdout.split(b"\\0") '
    "if n and os.path.isfile(n)]"
)


# Runs one command in a forked child and writes "seconds exit_code ru_maxrss
# cpu_seconds" to the file named by its first argument. A launcher of its own is needed
# because Linux counts the RSS that a child inherits from its parent before
# exec: forked from this script, every command would show at least this
# script's RSS. Started with -I -S, the launcher is small, so that floor is
# about 7 MiB (the "true" row of docs/benchmarks.md measures it).
LAUNCHER = """
import os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
cpu = usage.ru_utime + usage.ru_stime
with open(report, "w") as handle:
    handle.write(f"{elapsed} {code} {usage.ru_maxrss} {cpu}")
"""


@dataclass(frozen=True)
class Sample:
    """One run: wall seconds, exit code, ru_maxrss in KiB, user+system seconds."""

    seconds: float
    exit_code: int
    max_rss_kib: int
    cpu_s: float


@dataclass(frozen=True)
class Command:
    """One benchmarked command line and how to run it."""

    label: str
    argv: tuple[str, ...]
    cwd: str
    runs: int
    warmup: int
    note: str = ""
    probe: tuple[str, ...] = ()


@dataclass
class Result:
    """Measurements of one command; ``status`` is "ok" or why it did not run."""

    label: str
    command: str
    cwd: str
    status: str
    runs: int = 0
    warmup: int = 0
    times_s: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    median_s: float | None = None
    min_s: float | None = None
    cpu_s: float | None = None
    max_rss_mib: float | None = None
    timer: str = ""
    note: str = ""
    started_utc: str = ""
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Tools:
    """Paths of the scanners and helpers, with None for one that is not installed."""

    keyscan: tuple[str, ...] | None
    python: str
    detect_secrets: str | None
    detect_secrets_hook: str | None
    trufflehog3: str | None
    secretlint: str | None
    git_secrets: str | None
    hyperfine: str | None


# --- locating tools -------------------------------------------------------


def find_program(name: str, *dirs: Path) -> str | None:
    """Return the first executable ``name`` in ``dirs``, then on PATH."""
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def find_keyscan(spec: str | None) -> tuple[str, ...] | None:
    """Split ``--keyscan``, or find keyscan beside this Python, then on PATH."""
    if spec:
        return tuple(shlex.split(spec))
    found = find_program("keyscan", Path(sys.executable).parent)
    return (found,) if found else None


def find_tools(args: argparse.Namespace) -> Tools:
    """Locate every benchmarked program under ``--peers`` or on PATH."""
    peers = Path(args.peers)
    venv_bin = peers / "peers-venv" / "bin"
    node_bin = peers / "node" / "node_modules" / ".bin"
    return Tools(
        keyscan=find_keyscan(args.keyscan),
        python=args.python,
        detect_secrets=find_program("detect-secrets", venv_bin),
        detect_secrets_hook=find_program("detect-secrets-hook", venv_bin),
        trufflehog3=find_program("trufflehog3", venv_bin),
        secretlint=find_program("secretlint", node_bin),
        git_secrets=find_program("git-secrets", peers / "bin"),
        hyperfine=None
        if args.timer == "python"
        else find_program("hyperfine", peers / "bin"),
    )


# --- timing ---------------------------------------------------------------


def run_once(argv: Sequence[str], cwd: str, env: dict[str, str]) -> Sample:
    """Run ``argv`` once under ``LAUNCHER`` and return its measurements.

    The exit code is negative when a signal ended the command. All values come
    from the launcher, so Python's own start-up is not timed.
    """
    with tempfile.NamedTemporaryFile(prefix="keyscan-bench-run-") as report:
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, report.name]
        subprocess.run(
            [*launcher, *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        fields = Path(report.name).read_text().split()
    if len(fields) != 4:
        raise RuntimeError(f"failed to start {argv[0]}")
    return Sample(float(fields[0]), int(fields[1]), int(fields[2]), float(fields[3]))


def time_with_python(cmd: Command, env: dict[str, str], result: Result) -> None:
    """Time ``cmd`` with ``os.wait4``: warm-up runs first, then timed runs."""
    samples = [run_once(cmd.argv, cmd.cwd, env) for _ in range(cmd.warmup + cmd.runs)]
    timed = samples[cmd.warmup :]
    result.times_s = [s.seconds for s in timed]
    result.exit_codes = [s.exit_code for s in timed]
    result.cpu_s = statistics.mean(s.cpu_s for s in timed)
    result.max_rss_mib = max(s.max_rss_kib for s in timed) / 1024
    result.timer = "python os.wait4"


def time_with_hyperfine(
    cmd: Command, env: dict[str, str], result: Result, hyperfine: str
) -> None:
    """Time ``cmd`` with hyperfine after one warm-up run that measures max RSS.

    The warm-up runs under ``os.wait4`` because wait4 on hyperfine itself
    would report hyperfine's own RSS (about 16 MiB) for small commands.
    """
    warmup = run_once(cmd.argv, cmd.cwd, env)
    with tempfile.TemporaryDirectory(prefix="keyscan-bench-hf-") as tmp:
        export = Path(tmp) / "hyperfine.json"
        argv = [
            hyperfine,
            "--shell=none",
            "--ignore-failure",
            "--style=none",
            "--warmup=0",
            f"--runs={cmd.runs}",
            f"--export-json={export}",
            "--",
            shlex.join(cmd.argv),
        ]
        done = subprocess.run(
            argv,
            cwd=cmd.cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not export.exists():
            detail = done.stderr.strip()[-500:]
            raise RuntimeError(f"hyperfine exited with {done.returncode}: {detail}")
        data = json.loads(export.read_text())["results"][0]
    result.times_s = [float(t) for t in data["times"]]
    result.exit_codes = [int(c) for c in data.get("exit_codes", [])]
    result.cpu_s = float(data["user"]) + float(data["system"])
    result.max_rss_mib = warmup.max_rss_kib / 1024
    result.timer = "hyperfine, max RSS of the warm-up run"


def measure(cmd: Command, env: dict[str, str], hyperfine: str | None) -> Result:
    """Run and time one command, and record a start failure in ``status``."""
    result = Result(
        label=cmd.label,
        command=shlex.join(cmd.argv),
        cwd=cmd.cwd,
        status="ok",
        runs=cmd.runs,
        warmup=cmd.warmup,
        note=cmd.note,
        started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        load_before=os.getloadavg(),
    )
    try:
        if hyperfine and cmd.warmup > 0:
            time_with_hyperfine(cmd, env, result, hyperfine)
        else:
            time_with_python(cmd, env, result)
    except (OSError, RuntimeError) as exc:
        result.status = f"failed: {exc}"
        return result
    result.load_after = os.getloadavg()
    result.median_s = statistics.median(result.times_s)
    result.min_s = min(result.times_s)
    return result


# --- setting up inputs ----------------------------------------------------


def git(args: Sequence[str], cwd: str, env: dict[str, str]) -> str:
    """Run git and return its standard output (CalledProcessError on failure)."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def make_env(tmp: Path, tools: Tools) -> dict[str, str]:
    """Build the environment for every command, with its own global git config.

    That config contains only git-secrets' AWS patterns, so the user's own git
    settings do not change what git, keyscan or the peers do.
    """
    env = dict(os.environ)
    global_config = tmp / "global.gitconfig"
    global_config.write_text("")
    env["GIT_CONFIG_GLOBAL"] = str(global_config)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    if tools.git_secrets:
        subprocess.run(
            [tools.git_secrets, "--register-aws", "--global"],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
        )
    return env


def pick_hook_files(repo: str, env: dict[str, str]) -> list[str]:
    """Choose the first ``HOOK_FILE_COUNT`` Python files under src/, sorted by path."""
    names = git(["ls-files", "-z", "--", "src/*.py"], repo, env).split("\0")
    files = sorted(name for name in names if name)[:HOOK_FILE_COUNT]
    if len(files) < HOOK_FILE_COUNT:
        raise SystemExit(
            f"{repo}: found {len(files)} Python files under src/, expected 10"
        )
    return files


def make_hook_repo(data: Path, tmp: Path, env: dict[str, str]) -> tuple[str, list[str]]:
    """Clone click into ``tmp``, append a line to 10 source files and stage them.

    git-secrets finds its AWS patterns in the temporary global config that
    ``make_env`` wrote, so the clone needs no ``git secrets --register-aws``.
    """
    repo = str(tmp / "hook-repo")
    git(
        ["clone", "--quiet", "--no-hardlinks", str(data / HOOK_REPO), repo],
        str(tmp),
        env,
    )
    files = pick_hook_files(repo, env)
    for name in files:
        with open(Path(repo) / name, "a", encoding="utf-8") as handle:
            handle.write("# edited by the keyscan benchmark\n")
    git(["add", "--", *files], repo, env)
    return repo, files


def write_secretlint_config(tmp: Path) -> Path:
    """Write a .secretlintrc.json that enables only the recommended preset."""
    config_dir = tmp / "secretlint-config"
    config_dir.mkdir()
    path = config_dir / ".secretlintrc.json"
    path.write_text(json.dumps(SECRETLINT_CONFIG, indent=2) + "\n")
    return path


# --- command lists --------------------------------------------------------


def optional(
    label: str, program: str | None, make: Callable[[str], Command]
) -> Command | str:
    """Return ``make(program)``, or ``label`` alone when the program is missing."""
    return make(program) if program else label


def keyscan_command(cmd: Command, keyscan: tuple[str, ...]) -> Command:
    """Add a probe that checks that this keyscan has the command word."""
    word = cmd.argv[len(keyscan)]
    return dataclasses.replace(cmd, probe=(*keyscan, word, "--help"))


COLD_LABEL = "keyscan staged (10 paths), empty cache"


def cold_cache_command(
    repo: str, files: list[str], keyscan: tuple[str, ...], runs: int
) -> Command:
    """Time the hook's first run, with keyscan's cache folder removed each time.

    That run parses the rule files and compiles every rule, as after an
    install or a rule change. A shell removes the folder, which adds a few
    milliseconds of sh and rm to the figure.
    """
    cache = str(Path(repo).parent / "cold-cache")
    script = 'rm -rf "$1" && KEYSCAN_CACHE_DIR="$1" exec "${@:2}"'
    argv = ("bash", "-c", script, "bash", cache, *keyscan, "staged", *files)
    note = "includes bash and rm -rf starting before keyscan"
    probe = (*keyscan, "staged", "--help")
    return Command(COLD_LABEL, argv, repo, runs, 1, note, probe=probe)


def hook_commands(
    repo: str, files: list[str], tools: Tools, runs: int
) -> list[Command | str]:
    """List the pre-commit commands, all run inside the prepared click copy.

    keyscan staged runs twice: without paths (every staged change) and with the
    10 paths, the way pre-commit calls a hook.
    """

    def cmd(label: str, *argv: str) -> Command:
        return Command(label, tuple(argv), repo, runs, 1)

    ks = tools.keyscan
    return [
        keyscan_command(cmd("keyscan staged", *ks, "staged"), ks)
        if ks
        else "keyscan staged",
        keyscan_command(cmd("keyscan staged (10 paths)", *ks, "staged", *files), ks)
        if ks
        else "keyscan staged (10 paths)",
        cold_cache_command(repo, files, ks, runs) if ks else COLD_LABEL,
        optional(
            "detect-secrets-hook (10 files)",
            tools.detect_secrets_hook,
            lambda p: cmd("detect-secrets-hook (10 files)", p, *files),
        ),
        optional(
            "detect-secrets-hook (3 files)",
            tools.detect_secrets_hook,
            lambda p: cmd("detect-secrets-hook (3 files)", p, *files[:HOOK_FEW_FILES]),
        ),
        optional(
            "git-secrets --pre_commit_hook",
            tools.git_secrets,
            lambda p: cmd("git-secrets --pre_commit_hook", p, "--pre_commit_hook"),
        ),
        cmd("true (process start, RSS floor)", "true"),
        cmd("python -c pass (floor)", tools.python, "-c", "pass"),
        cmd("python -c 'import click' (floor)", tools.python, "-c", "import click"),
    ]


def scan_commands(
    repo: str, name: str, tools: Tools, runs: int, secretlintrc: Path
) -> list[Command | str]:
    """List the working-tree commands for one repository, each run with cwd=repo."""

    def cmd(label: str, *argv: str, note: str = "") -> Command:
        return Command(f"{name}: {label}", tuple(argv), repo, runs, 1, note)

    ks = tools.keyscan
    return [
        keyscan_command(cmd("keyscan scan", *ks, "scan", repo), ks)
        if ks
        else f"{name}: keyscan scan",
        optional(
            f"{name}: detect-secrets scan (tracked files)",
            tools.detect_secrets,
            lambda p: cmd("detect-secrets scan (tracked files)", p, "scan", "."),
        ),
        optional(
            f"{name}: detect-secrets scan --all-files",
            tools.detect_secrets,
            lambda p: cmd(
                "detect-secrets scan --all-files",
                p,
                "scan",
                "--all-files",
                ".",
                note="walks every file under the directory, .git included",
            ),
        ),
        optional(
            f"{name}: trufflehog3 --no-history",
            tools.trufflehog3,
            lambda p: cmd("trufflehog3 --no-history", p, "--no-history", repo),
        ),
        optional(
            f"{name}: secretlint",
            tools.secretlint,
            lambda p: cmd("secretlint", p, "--secretlintrc", str(secretlintrc), "**/*"),
        ),
        cmd("read tracked files (floor)", tools.python, "-c", READ_TRACKED_FILES),
    ]


def history_commands(
    repo: str, name: str, tools: Tools, runs: int, slow_runs: int
) -> list[Command | str]:
    """List the full-history commands for one repository, each run with cwd=repo."""

    def cmd(label: str, *argv: str, slow: bool = False, note: str = "") -> Command:
        count, warmup = (slow_runs, 0) if slow else (runs, 1)
        return Command(f"{name}: {label}", tuple(argv), repo, count, warmup, note)

    ks = tools.keyscan
    commands: list[Command | str] = [
        keyscan_command(cmd("keyscan history", *ks, "history", repo), ks)
        if ks
        else f"{name}: keyscan history",
        cmd("git log -p --all (floor)", "git", "log", "-p", "--all"),
        cmd(
            "git cat-file --batch-all-objects --batch (floor)",
            "git",
            "cat-file",
            "--batch-all-objects",
            "--batch",
        ),
    ]
    if name != "click":
        return commands
    slow_note = (
        f"{slow_runs} timed run(s) and no warm-up (--slow-runs), because one "
        "run takes a minute or more"
    )
    commands += [
        optional(
            f"{name}: git-secrets --scan-history",
            tools.git_secrets,
            lambda p: cmd("git-secrets --scan-history", p, "--scan-history"),
        ),
        optional(
            f"{name}: trufflehog3 (history only)",
            tools.trufflehog3,
            lambda p: cmd(
                "trufflehog3 --no-current (history only)",
                p,
                "--no-current",
                repo,
                slow=True,
                note=slow_note,
            ),
        ),
    ]
    return commands


# --- reporting ------------------------------------------------------------


def fmt(value: float | None, digits: int) -> str:
    """Format a number for the table, or a dash when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def exit_code_note(result: Result) -> str:
    """Describe non-zero exit codes (scanners exit non-zero on findings)."""
    codes = sorted(set(result.exit_codes))
    if not codes or codes == [0]:
        return ""
    return "exit code " + "/".join(str(c) for c in codes)


def markdown_table(group: str, results: list[Result]) -> str:
    """Render one group as a Markdown table, with its notes below it."""
    lines = [
        f"### {group}",
        "",
        "| command | median s | min s | mean CPU s | max RSS MiB | runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for r in results:
        median = fmt(r.median_s, 3) if r.status == "ok" else r.status
        lines.append(
            f"| {r.label} | {median} | {fmt(r.min_s, 3)} | {fmt(r.cpu_s, 3)} | "
            f"{fmt(r.max_rss_mib, 1)} | {r.runs if r.status == 'ok' else 0} |"
        )
        extra = "; ".join(n for n in (r.note, exit_code_note(r)) if n)
        if extra:
            notes.append(f"- {r.label}: {extra}")
    lines += ["", *notes] if notes else []
    loads = [r.load_before[0] for r in results if r.status == "ok"]
    if loads:
        lines += [
            "",
            f"1-minute load average before each command: {min(loads):.2f} to "
            f"{max(loads):.2f} on {os.cpu_count()} CPUs.",
        ]
    return "\n".join(lines) + "\n"


def report_line(result: Result) -> str:
    """Describe one finished command on one line for the progress output."""
    if result.status != "ok":
        return f"  -> {result.status}"
    codes = ",".join(str(c) for c in sorted(set(result.exit_codes)))
    return (
        f"  -> median {fmt(result.median_s, 3)} s, min {fmt(result.min_s, 3)} s, "
        f"mean CPU {fmt(result.cpu_s, 3)} s, "
        f"max RSS {fmt(result.max_rss_mib, 1)} MiB, {result.runs} runs, "
        f"exit {codes}, {result.timer}, "
        f"load {result.load_before[0]:.2f} -> {result.load_after[0]:.2f}"
    )


def unavailable_reason(cmd: Command, env: dict[str, str]) -> str:
    """Return why ``cmd`` cannot run (program or subcommand missing), or ''."""
    program = cmd.argv[0]
    if shutil.which(program, path=env.get("PATH")) is None:
        return "not installed"
    if cmd.probe:
        done = subprocess.run(
            cmd.probe,
            cwd=cmd.cwd,
            env=env,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            word = cmd.probe[-2]
            return f"not available: keyscan {word} --help exited with {done.returncode}"
    return ""


def run_group(
    group: str, commands: list[Command | str], env: dict[str, str], tools: Tools
) -> list[Result]:
    """Measure every command of a group, printing each command line and its result."""
    results = []
    for item in commands:
        if isinstance(item, str):
            print(f"[{group}] {item}: not installed", flush=True)
            results.append(
                Result(label=item, command="", cwd="", status="not installed")
            )
            continue
        print(f"[{group}] $ {shlex.join(item.argv)}   (cwd {item.cwd})", flush=True)
        reason = unavailable_reason(item, env)
        if reason:
            result = Result(item.label, shlex.join(item.argv), item.cwd, reason)
        else:
            result = measure(item, env, tools.hyperfine)
        print(report_line(result), flush=True)
        results.append(result)
    return results


# --- main -----------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", required=True, help="folder with click, flask, sqlalchemy clones"
    )
    parser.add_argument(
        "--peers", required=True, help="folder with peers-venv, node, bin"
    )
    parser.add_argument(
        "--runs", type=int, default=7, help="timed runs per command (default 7)"
    )
    parser.add_argument(
        "--slow-runs",
        type=int,
        default=1,
        help="timed runs for trufflehog3's history scan, without warm-up (default 1)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        help="run only this group; repeat for several (default: all groups)",
    )
    parser.add_argument(
        "--match",
        action="append",
        metavar="TEXT",
        help="run only commands whose label contains TEXT; repeatable",
    )
    parser.add_argument(
        "--keyscan",
        help="keyscan command line (default: keyscan beside this Python, then PATH)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the floor commands (default: the one running bench.py)",
    )
    parser.add_argument(
        "--timer",
        choices=("auto", "hyperfine", "python"),
        default="auto",
        help="auto uses hyperfine when it is installed (default auto)",
    )
    parser.add_argument("--json", help="write all results to this JSON file")
    parser.add_argument(
        "--markdown", help="also write the Markdown tables to this file"
    )
    return parser.parse_args(argv)


def build_group(
    group: str, args: argparse.Namespace, tools: Tools, tmp: Path, env: dict[str, str]
) -> list[Command | str]:
    """Prepare the inputs of a group and return its command list."""
    data = Path(args.data).resolve()
    if group == "hook":
        repo, files = make_hook_repo(data, tmp, env)
        return hook_commands(repo, files, tools, args.runs)
    if group == "scan":
        rc = write_secretlint_config(tmp)
        return [
            c
            for name in SCAN_REPOS
            for c in scan_commands(str(data / name), name, tools, args.runs, rc)
        ]
    return [
        c
        for name in HISTORY_REPOS
        for c in history_commands(
            str(data / name), name, tools, args.runs, args.slow_runs
        )
    ]


def select(
    commands: list[Command | str], match: list[str] | None
) -> list[Command | str]:
    """Keep the commands whose label contains one of ``match`` (all when None)."""
    if not match:
        return commands
    return [
        c
        for c in commands
        if any(m in (c if isinstance(c, str) else c.label) for m in match)
    ]


def check_data(data: Path, groups: Sequence[str]) -> None:
    """Exit with a message when a repository that a group needs is missing."""
    for group in groups:
        for name in REPOS_BY_GROUP[group]:
            if not (data / name / ".git").is_dir():
                raise SystemExit(
                    f"{data / name}: not a git clone; see docs/benchmarks.md"
                )


def first_line(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Return the first output line of a short command, or why it failed."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed: {exc}"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else f"exit code {done.returncode}"


def read_proc_field(path: str, key: str) -> str:
    """Return the value of the first ``key: value`` line of a /proc file."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return "unknown"


def describe_machine(tools: Tools) -> dict[str, str]:
    """Collect CPU, memory and the versions of Python, git and every peer."""
    machine = {
        "cpus": str(os.cpu_count()),
        "cpu_model": read_proc_field("/proc/cpuinfo", "model name"),
        "memory": read_proc_field("/proc/meminfo", "MemTotal"),
        "kernel": os.uname().release,
        "python": first_line([tools.python, "--version"]),
        "git": first_line(["git", "--version"]),
    }
    versioned = {
        "keyscan": list(tools.keyscan) if tools.keyscan else None,
        "detect-secrets": tools.detect_secrets,
        "trufflehog3": tools.trufflehog3,
        "secretlint": tools.secretlint,
        "hyperfine": tools.hyperfine,
    }
    for name, command in versioned.items():
        if command is None:
            machine[name] = "not installed"
            continue
        argv = command if isinstance(command, list) else [command]
        machine[name] = first_line([*argv, "--version"])
    # git-secrets has no version flag; its path is the best record.
    machine["git-secrets"] = tools.git_secrets or "not installed"
    return machine


def describe_repos(data: Path, groups: Sequence[str]) -> dict[str, dict[str, str]]:
    """Record HEAD and the commit count over all refs of each repository used."""
    names = sorted({n for g in groups for n in REPOS_BY_GROUP[g]})
    repos = {}
    for name in names:
        path = str(data / name)
        repos[name] = {
            "head": first_line(["git", "-C", path, "rev-parse", "HEAD"]),
            "commits_all_refs": first_line(
                ["git", "-C", path, "rev-list", "--all", "--count"]
            ),
        }
    return repos


def describe_setup(
    args: argparse.Namespace, tools: Tools, groups: Sequence[str]
) -> dict[str, object]:
    """Collect the settings, machine, tool versions and repositories."""
    data = Path(args.data).resolve()
    return {
        "runs": args.runs,
        "slow_runs": args.slow_runs,
        "data": str(data),
        "peers": str(Path(args.peers).resolve()),
        "tools": dataclasses.asdict(tools),
        "timer": "hyperfine" if tools.hyperfine else "python os.wait4",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe_machine(tools),
        "repositories": describe_repos(data, groups),
    }


def markdown_setup(setup: dict[str, object]) -> str:
    """Render the machine, versions and repositories as a Markdown list."""
    machine = cast("dict[str, str]", setup["machine"])
    repos = cast("dict[str, dict[str, str]]", setup["repositories"])
    lines = ["### setup", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += [
        f"- {name}: HEAD {info['head']}, {info['commits_all_refs']} commits"
        for name, info in repos.items()
    ]
    lines.append(f"- timer: {setup['timer']}, started {setup['started_utc']}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected groups and print one Markdown table per group."""
    args = parse_args(argv)
    # SIGTERM becomes SystemExit, so the running hyperfine or launcher child is
    # killed and the temporary folders are removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.timer == "hyperfine" and not find_program(
        "hyperfine", Path(args.peers) / "bin"
    ):
        raise SystemExit(
            "--timer hyperfine: hyperfine not found on PATH or in PEERS/bin"
        )

    tools = find_tools(args)
    groups = args.only or list(GROUPS)
    check_data(Path(args.data), groups)
    setup = describe_setup(args, tools, groups)
    print(markdown_setup(setup), flush=True)
    tables = [markdown_setup(setup)]

    results_by_group: dict[str, list[dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="keyscan-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = make_env(tmp, tools)
        for group in groups:
            commands = select(build_group(group, args, tools, tmp, env), args.match)
            results = run_group(group, commands, env, tools)
            tables.append(markdown_table(group, results))
            results_by_group[group] = [dataclasses.asdict(r) for r in results]

    text = "\n".join(tables)
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        output = {"setup": setup, "groups": results_by_group}
        Path(args.json).write_text(json.dumps(output, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
