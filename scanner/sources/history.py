"""History source: every blob and message that ever entered a repository.

The scan runs in three steps, and no step keeps the history in memory:

1. One ``git log --raw -m`` stream lists what each commit wrote. Each
   distinct blob id is sent once to the workers (``ObjectScanner``), which
   read it through their own ``git cat-file`` and return only matches. Commit
   messages go the same way; annotated tags follow when all refs are read.
2. Only when some blob matched, a second stream in date order finds, for
   each secret and path, the commit that introduced it there: the blob at the
   path contains the secret and no parent's blob at that path does (for a merge,
   the diff against every parent must list the path). The last such commit in
   date order, which lists children before parents, is the earliest.
3. The introducing commits' authors are read, and HEAD's tree says whether
   each path still contains its secret.

Memory grows with the number of distinct blobs (their ids are kept to skip
repeats) and with the matches, never with the number of commits.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from keyscan.display import count_noun, display_name
from keyscan.engine import Engine, Match
from keyscan.errors import GitError
from keyscan.findings import Finding, Summary
from keyscan.git import CatFile, run_git
from keyscan.pipeline import make_finding
from keyscan.sources.blobscan import (
    BatchResult,
    BlobJob,
    MessageJob,
    MessageMatches,
    ObjectScanner,
    person_of,
)
from keyscan.sources.gitlog import (
    SUBMODULE_MODE,
    SYMLINK_MODE,
    Block,
    Change,
    Revisions,
    is_zero,
    iter_blocks,
)
from keyscan.sources.pathrules import PathRules
from keyscan.sources.workers import Dispatcher

logger = logging.getLogger(__name__)

# Object ids per request to a cat-file process: few enough that the ids fit
# in the pipe buffer (see CatFile.read_many).
_BATCH = 128


class HistoryOptions(NamedTuple):
    """Settings of a history scan: revisions, worker count, size limit, excludes."""

    revisions: Revisions = Revisions()
    jobs: int = 1
    max_file_size: int = 25 * 1024 * 1024
    exclude: tuple[str, ...] = ()


class Progress(NamedTuple):
    """Counters for a progress display, sent while the history is read."""

    commits: int
    blobs_queued: int
    blobs_done: int
    bytes_done: int
    elapsed_s: float


ProgressCallback = Callable[[Progress], None]


class _Introduction(NamedTuple):
    commit: str
    match: Match


def scan_history(
    repo: str,
    options: HistoryOptions,
    engine: Engine,
    summary: Summary,
    on_progress: ProgressCallback | None = None,
) -> list[Finding]:
    """Scan the history of the repository at ``repo`` and return its findings.

    Raises GitError when ``repo`` is not a git repository, a revision is
    invalid or git fails.
    """
    cwd = git_dir(repo)
    rules = PathRules(engine.ruleset.rules, options.exclude)
    collected = _Collected(summary)
    with Dispatcher(
        cwd, engine, options.max_file_size, options.jobs, collected.add
    ) as dispatcher:
        reader = _Reader(cwd, rules, dispatcher, collected, on_progress)
        collected.on_add = reader.progress
        reader.read_commits(options.revisions)
        if options.revisions.all_refs:
            reader.read_tags()
        dispatcher.finish()
        reader.report()
    _note_repository(cwd, summary, reader, options.revisions.all_refs)
    findings = _blob_findings(cwd, options, engine, rules, reader, collected)
    findings += _message_findings(collected)
    _set_occurrences(findings, collected)
    findings.sort(key=_finding_order)
    summary.findings = len(findings)
    return findings


def git_dir(repo: str) -> str:
    """Return the folder to run git in for ``repo``.

    Raises GitError when ``repo`` is not a git repository.

    A bare repository (a mirror clone) works as well as a work tree.
    """
    if not os.path.isdir(repo):
        raise GitError(
            f"not a git repository: {repo} (no such folder)",
            "pass the path of a git repository, or run keyscan inside one",
        )
    try:
        run_git(["rev-parse", "--git-dir"], repo)
    except GitError as error:
        raise GitError(
            f"not a git repository: {repo}",
            "pass the path of a git repository, or run keyscan inside one",
        ) from error
    return repo


class _Collected:
    """The matches and counters that come back from the workers."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self.blob_matches: dict[tuple[str, str], list[Match]] = {}
        self.messages: list[MessageMatches] = []
        self.blobs_scanned = 0
        self.bytes_scanned = 0
        self.binary = 0
        self.lfs_pointers = 0
        self.occurrences: dict[str, int] = {}
        # Called after each batch, so that the progress line moves while the
        # workers finish the last batches.
        self.on_add: Callable[[], None] | None = None

    def add(self, result: BatchResult) -> None:
        """Merge one batch result."""
        for oid, path, matches in result.blobs:
            self.blob_matches[(oid, path)] = matches
        self.messages.extend(result.messages)
        self.blobs_scanned += result.blobs_scanned
        self.bytes_scanned += result.bytes_scanned
        self.binary += result.binary
        self.lfs_pointers += result.lfs_pointers
        self.summary.skipped.extend(result.skipped)
        if self.on_add is not None:
            self.on_add()


class _Reader:
    """Step 1: stream the log, send each new blob and message to the workers."""

    def __init__(
        self,
        cwd: str,
        rules: PathRules,
        dispatcher: Dispatcher,
        collected: _Collected,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.cwd = cwd
        self.rules = rules
        self.dispatcher = dispatcher
        self.collected = collected
        self.on_progress = on_progress
        # Blob ids already sent, with the path-rule signature when rules
        # depend on the path: the one structure that grows with the history.
        self.seen: set[str | tuple[str, tuple[bool, ...]]] = set()
        self.submodules: set[str] = set()
        self.commits = 0
        self.messages = 0
        self.tags = 0
        self.started = time.monotonic()
        self._last_progress = 0.0
        self._blobs: list[BlobJob] = []
        self._messages: list[MessageJob] = []

    def read_commits(self, revisions: Revisions) -> None:
        """Read every commit that ``revisions`` select."""
        if not revisions.all_refs and not revisions.revs:
            return  # git log would read HEAD; nothing was selected
        last = ""
        for block in iter_blocks(self.cwd, revisions):
            if block.commit != last:
                last = block.commit
                self._new_commit(block)
            for change in block.changes:
                self._new_change(change)
        self._flush_blobs()
        self._flush_messages()

    def read_tags(self) -> None:
        """Queue the message of every annotated tag."""
        out = run_git(
            ["for-each-ref", "--format=%(objecttype) %(objectname) %(refname)"],
            self.cwd,
        )
        for row in out.split(b"\n"):
            kind, _, rest = row.partition(b" ")
            oid, _, ref = rest.partition(b" ")
            if kind == b"tag":
                self.tags += 1
                self._messages.append(
                    MessageJob(oid.decode("ascii"), display_name(ref))
                )
                if len(self._messages) >= _BATCH:
                    self._flush_messages()
        self._flush_messages()

    def report(self) -> None:
        """Send a last progress update."""
        self.progress(force=True)

    def _new_commit(self, block: Block) -> None:
        self.commits += 1
        self._messages.append(MessageJob(block.commit))
        if len(self._messages) >= _BATCH:
            self._flush_messages()
        self.progress()

    def _new_change(self, change: Change) -> None:
        if is_zero(change.new) or change.new_mode == SYMLINK_MODE:
            return
        if change.new_mode == SUBMODULE_MODE:
            self.submodules.add(change.path)
            return
        excluded, signature = self.rules.classify(change.path)
        if excluded:
            return
        key = (change.new, signature) if signature else change.new
        if key in self.seen:
            return
        self.seen.add(key)
        self._blobs.append(BlobJob(change.new, change.path))
        if len(self._blobs) >= _BATCH:
            self._flush_blobs()

    def was_scanned(self, oid: str, path: str) -> bool:
        """Return True when blob ``oid`` was scanned with the rules of ``path``."""
        signature = self.rules.classify(path)[1]
        return ((oid, signature) if signature else oid) in self.seen

    def _flush_blobs(self) -> None:
        if self._blobs:
            self.dispatcher.submit("blobs", self._blobs)
            self._blobs = []

    def _flush_messages(self) -> None:
        if self._messages:
            self.messages += len(self._messages)
            self.dispatcher.submit("messages", self._messages)
            self._messages = []

    def progress(self, force: bool = False) -> None:
        """Send the counters to the progress callback, at most every 0.1 s."""
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < 0.1:
            return
        self._last_progress = now
        self.on_progress(
            Progress(
                self.commits,
                len(self.seen),
                self.collected.blobs_scanned,
                self.collected.bytes_scanned,
                now - self.started,
            )
        )


def _note_repository(
    cwd: str, summary: Summary, reader: _Reader, all_refs: bool
) -> None:
    collected = reader.collected
    summary.files_scanned = collected.blobs_scanned
    summary.bytes_scanned = collected.bytes_scanned
    summary.messages_scanned = reader.messages
    summary.tags_scanned = reader.tags
    summary.extra.update(
        commits=reader.commits,
        blobs_scanned=collected.blobs_scanned,
        lfs_pointers=collected.lfs_pointers,
        submodules=len(reader.submodules),
    )
    blobs = count_noun(collected.blobs_scanned, "distinct blob")
    messages = count_noun(reader.messages, "commit or tag message")
    summary.notes.append(
        f"history: {count_noun(reader.commits, 'commit')} read; {blobs} and "
        f"{messages} scanned"
    )
    if reader.commits == 0:
        summary.notes.append(
            "the repository has no commits"
            if all_refs
            else "the revisions given select no commits"
        )
    if collected.binary:
        summary.notes.append(
            f"scanned {count_noun(collected.binary, 'binary blob')} for exact key "
            "formats only"
        )
    if collected.lfs_pointers:
        summary.notes.append(
            f"skipped {count_noun(collected.lfs_pointers, 'Git LFS pointer file')}, "
            "because Git LFS stores the content outside git"
        )
    if reader.submodules:
        summary.notes.append(
            f"did not descend into {count_noun(len(reader.submodules), 'submodule')}; "
            "scan each submodule's repository separately"
        )
    _note_shallow(cwd, summary)


def _note_shallow(cwd: str, summary: Summary) -> None:
    out = run_git(["rev-parse", "--is-shallow-repository"], cwd, check=False)
    shallow = out.strip() == b"true"
    summary.extra["shallow"] = shallow
    if shallow:
        summary.notes.append(
            "shallow clone: history was scanned as far as this clone goes; a "
            "secret from older commits is reported at the oldest commit present"
        )


def _blob_findings(
    cwd: str,
    options: HistoryOptions,
    engine: Engine,
    rules: PathRules,
    reader: _Reader,
    collected: _Collected,
) -> list[Finding]:
    if not collected.blob_matches:
        return []
    lookup = _MatchLookup(cwd, engine, options.max_file_size, rules, reader, collected)
    try:
        introductions = _attribute(cwd, options.revisions, lookup, collected)
        at_head = _head_blobs(cwd, {path for _, path in introductions})
        findings = []
        for (fingerprint, path), intro in introductions.items():
            present: bool | None = None
            if at_head is not None:
                head_blob = at_head.get(path)
                present = head_blob is not None and fingerprint in lookup.get(
                    head_blob, path
                )
            findings.append(
                make_finding(
                    intro.match, path, commit=intro.commit, present_at_head=present
                )
            )
    finally:
        lookup.close()
    return _with_authors(cwd, findings)


class _MatchLookup:
    """The secrets in a blob read at a path; scans blobs that step 1 skipped."""

    def __init__(
        self,
        cwd: str,
        engine: Engine,
        max_size: int,
        rules: PathRules,
        reader: _Reader,
        collected: _Collected,
    ) -> None:
        self._cwd = cwd
        self._engine = engine
        self._max_size = max_size
        self._rules = rules
        self._reader = reader
        self._by_key: dict[tuple[str, tuple[bool, ...]], dict[str, Match]] = {}
        self._extra: ObjectScanner | None = None
        self.matched_blobs: set[str] = set()
        for (oid, path), matches in collected.blob_matches.items():
            self._by_key[(oid, rules.classify(path)[1])] = _by_fingerprint(matches)
            self.matched_blobs.add(oid)

    def relevant(self, change: Change) -> bool:
        """Return True when ``change`` writes a matched blob at a scanned path."""
        return (
            change.new in self.matched_blobs
            and change.new_mode not in (SUBMODULE_MODE, SYMLINK_MODE)
            and not self._rules.classify(change.path)[0]
        )

    def get(self, oid: str, path: str) -> dict[str, Match]:
        """Return the first match of each secret in blob ``oid`` at ``path``."""
        if is_zero(oid):
            return {}
        key = (oid, self._rules.classify(path)[1])
        found = self._by_key.get(key)
        if found is not None:
            return found
        if self._reader.was_scanned(oid, path):
            return {}
        # A blob outside the scanned range (the old side of a change in a
        # range scan, or HEAD's blob): scan it here, once.
        if self._extra is None:
            self._extra = ObjectScanner(self._cwd, self._engine, self._max_size)
        result = self._extra.scan_blobs([BlobJob(oid, path)])
        found = _by_fingerprint(result.blobs[0][2]) if result.blobs else {}
        self._by_key[key] = found
        return found

    def close(self) -> None:
        """Stop the cat-file process of the extra scans, if one was started."""
        if self._extra is not None:
            self._extra.close()


def _by_fingerprint(matches: Iterable[Match]) -> dict[str, Match]:
    found: dict[str, Match] = {}
    for match in matches:
        found.setdefault(match.fingerprint, match)
    return found


def _attribute(
    cwd: str, revisions: Revisions, lookup: _MatchLookup, collected: _Collected
) -> dict[tuple[str, str], _Introduction]:
    """Step 2: find the introducing commit of each secret at each path."""
    introductions: dict[tuple[str, str], _Introduction] = {}
    commit: list[Block] = []
    for block in iter_blocks(cwd, revisions, date_order=True):
        if commit and block.commit != commit[0].commit:
            _attribute_commit(commit, lookup, collected, introductions)
            commit = []
        relevant = [c for c in block.changes if lookup.relevant(c)]
        commit.append(block._replace(changes=relevant))
    if commit:
        _attribute_commit(commit, lookup, collected, introductions)
    return introductions


def _attribute_commit(
    blocks: list[Block],
    lookup: _MatchLookup,
    collected: _Collected,
    introductions: dict[tuple[str, str], _Introduction],
) -> None:
    """Record what one commit (all its blocks, one per parent) introduced."""
    per_parent = [{c.path: c for c in block.changes} for block in blocks]
    # Without a block for every parent, the diff against some parent was
    # empty: the commit's tree equals that parent's and introduces nothing.
    complete = len(blocks) == max(1, len(blocks[0].parents))
    paths = {path for changes in per_parent for path in changes}
    commit = blocks[0].commit
    for path in sorted(paths):
        new = next(c[path].new for c in per_parent if path in c)
        found = lookup.get(new, path)
        for fingerprint in found:
            collected.occurrences[fingerprint] = (
                collected.occurrences.get(fingerprint, 0) + 1
            )
        if not complete or not all(path in changes for changes in per_parent):
            continue
        before: set[str] = set()
        for changes in per_parent:
            before.update(lookup.get(changes[path].old, path))
        for fingerprint, match in found.items():
            if fingerprint not in before:
                introductions[(fingerprint, path)] = _Introduction(commit, match)


def _head_blobs(cwd: str, paths: set[str]) -> dict[str, str] | None:
    """Return the blob id of each of ``paths`` in HEAD's tree, or None without HEAD."""
    try:
        out = run_git(["ls-tree", "-r", "-z", "--full-tree", "HEAD"], cwd)
    except GitError:
        return None  # HEAD names a branch without commits
    blobs: dict[str, str] = {}
    for row in out.split(b"\0"):
        info, _, raw_path = row.partition(b"\t")
        path = display_name(raw_path)
        if path in paths:
            blobs[path] = info.split(b" ")[2].decode("ascii")
    return blobs


def _with_authors(cwd: str, findings: list[Finding]) -> list[Finding]:
    """Fill author, email and date from the raw commit objects (step 3)."""
    commits = sorted({f.commit for f in findings if f.commit})
    people = {}
    with CatFile(cwd) as cat:
        for start in range(0, len(commits), _BATCH):
            batch = commits[start : start + _BATCH]
            for oid, _size, data in cat.read_many(batch, 1 << 30):
                if data is not None:
                    people[oid] = person_of(data.partition(b"\n\n")[0])
    result = []
    for finding in findings:
        person = people.get(finding.commit or "")
        if person is not None:
            finding = finding.replace(
                author_name=person.name, author_email=person.email, date=person.date
            )
        result.append(finding)
    return result


def _message_findings(collected: _Collected) -> list[Finding]:
    """Return one finding per secret in messages, at its oldest commit or tag."""
    earliest: dict[str, tuple[MessageMatches, Match]] = {}
    for message in collected.messages:
        for fingerprint, match in _by_fingerprint(message.matches).items():
            collected.occurrences[fingerprint] = (
                collected.occurrences.get(fingerprint, 0) + 1
            )
            known = earliest.get(fingerprint)
            if known is None or _timestamp(message) < _timestamp(known[0]):
                earliest[fingerprint] = (message, match)
    findings = []
    for message, match in earliest.values():
        person = message.person
        findings.append(
            make_finding(
                match,
                None,
                commit=message.oid,
                ref=message.ref,
                author_name=person.name if person else None,
                author_email=person.email if person else None,
                date=person.date if person else None,
            )
        )
    return findings


def _timestamp(message: MessageMatches) -> tuple[int, str]:
    return (message.person.timestamp if message.person else 0, message.oid)


def _set_occurrences(findings: list[Finding], collected: _Collected) -> None:
    for index, finding in enumerate(findings):
        count = collected.occurrences.get(finding.fingerprint, 1)
        findings[index] = finding.replace(occurrences=count)


def _finding_order(finding: Finding) -> tuple[bool, str, int, int, str]:
    return (
        finding.path is None,
        finding.path or finding.ref or "",
        finding.line,
        finding.column,
        finding.rule_id,
    )
