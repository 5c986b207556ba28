"""Worker processes for history scans, with a bounded number of batches in flight."""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from keyscan.engine import Engine
from keyscan.errors import UsageError
from keyscan.sources.blobscan import (
    BatchResult,
    BlobJob,
    MessageJob,
    ObjectScanner,
    init_worker,
    run_batch,
)

ResultCallback = Callable[[BatchResult], None]
# Batches queued per worker: enough to keep every worker busy, few enough
# that the log reader cannot run far ahead and fill memory with job lists.
_IN_FLIGHT_PER_WORKER = 4
# --jobs accepts up to this many worker processes per CPU core, and at least
# _MIN_MAX_JOBS on any machine. Each worker is a process with its own engine
# and git cat-file process, so a mistyped count must not start thousands.
_MAX_JOBS_PER_CPU = 4
_MIN_MAX_JOBS = 8


def default_jobs() -> int:
    """Return the number of CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def max_jobs() -> int:
    """Return the largest worker count that --jobs accepts on this machine."""
    return max(_MIN_MAX_JOBS, _MAX_JOBS_PER_CPU * (os.cpu_count() or 1))


def check_jobs(jobs: int) -> int:
    """Return ``jobs`` when it is a valid worker count; raise UsageError if not."""
    limit = max_jobs()
    if not 1 <= jobs <= limit:
        raise UsageError(
            f"invalid --jobs {jobs}: the number of worker processes must be "
            f"from 1 to {limit} ({_MAX_JOBS_PER_CPU} per CPU core, at least "
            f"{_MIN_MAX_JOBS})"
        )
    return jobs


class Dispatcher:
    """Send batches of jobs to up to ``jobs`` worker processes, or scan in-process.

    The pool starts only once ``jobs`` batches are waiting, or at ``finish``
    with as many workers as there are batches, so a small history never
    starts more workers than it has batches. With one job, or a single batch
    in all, the batches are scanned in this process, in order, by one
    ObjectScanner. ``on_result`` is called in this process's main thread,
    inside ``submit`` or ``finish``.
    """

    def __init__(
        self,
        cwd: str,
        engine: Engine,
        max_size: int,
        jobs: int,
        on_result: ResultCallback,
    ) -> None:
        self._scanner_args = (cwd, engine, max_size)
        self._jobs = max(1, jobs)
        self._on_result = on_result
        self._pending = 0
        self._limit = _IN_FLIGHT_PER_WORKER * self._jobs
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local: ObjectScanner | None = None
        self._pool: Any = None
        # Batches held back until the pool starts.
        self._waiting: list[tuple[str, Sequence[BlobJob] | Sequence[MessageJob]]] = []
        self.workers = 0
        if self._jobs == 1:
            self._local = ObjectScanner(*self._scanner_args)

    def submit(self, kind: str, jobs: Sequence[BlobJob] | Sequence[MessageJob]) -> None:
        """Scan one batch; ``kind`` is "blobs" or "messages"."""
        if self._local is not None:
            _scan_in_process(self._local, kind, jobs, self._on_result)
            return
        if self._pool is None:
            self._waiting.append((kind, jobs))
            if len(self._waiting) >= self._jobs:
                self._start_pool(self._jobs)
            return
        self._send(kind, jobs)

    def finish(self) -> None:
        """Scan the batches still waiting, wait for those in flight, pass on results."""
        if self._pool is None and self._waiting:
            if len(self._waiting) == 1:
                self._local = ObjectScanner(*self._scanner_args)
                kind, jobs = self._waiting.pop()
                _scan_in_process(self._local, kind, jobs, self._on_result)
            else:
                self._start_pool(len(self._waiting))
        while self._pending:
            self._take_one()

    def _start_pool(self, workers: int) -> None:
        # Workers forked while git log runs inherit the read end of its
        # stdout. That cannot stall git: a finished git log has closed its
        # end, and after an error __exit__ stops the pool before the reader's
        # generator closes the pipe and waits for git.
        self._pool = _context().Pool(
            workers, initializer=init_worker, initargs=self._scanner_args
        )
        self.workers = workers
        waiting, self._waiting = self._waiting, []
        for kind, jobs in waiting:
            self._send(kind, jobs)

    def _send(self, kind: str, jobs: Sequence[BlobJob] | Sequence[MessageJob]) -> None:
        while self._pending >= self._limit:
            self._take_one()
        self._pool.apply_async(
            run_batch,
            (kind, list(jobs)),
            callback=self._done.put,
            error_callback=self._done.put,
        )
        self._pending += 1

    def _take_one(self) -> None:
        item = self._done.get()
        self._pending -= 1
        if isinstance(item, BaseException):
            raise item
        self._on_result(item)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._local is not None:
            self._local.close()
        if self._pool is not None:
            if error is None:
                self._pool.close()
            else:
                self._pool.terminate()
            self._pool.join()


def _scan_in_process(
    scanner: ObjectScanner,
    kind: str,
    jobs: Sequence[BlobJob] | Sequence[MessageJob],
    on_result: ResultCallback,
) -> None:
    if kind == "blobs":
        on_result(scanner.scan_blobs(jobs))  # type: ignore[arg-type]
    else:
        on_result(scanner.scan_messages(jobs))  # type: ignore[arg-type]


def _context() -> Any:
    # fork starts a worker in milliseconds and shares the loaded rules; on
    # other systems the default method (spawn) pickles the engine instead.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()
