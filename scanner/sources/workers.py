"""Worker processes for history scans, with a bounded number of batches in flight."""

from __future__ import annotations

import multiprocessing
import queue
import sys
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from keyscan.engine import Engine
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


def default_jobs() -> int:
    """Return the number of CPU cores this process may run on."""
    import os

    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class Dispatcher:
    """Send batches of jobs to ``jobs`` worker processes (or scan in-process).

    With one job the batches are scanned in this process, in order, by one
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
        self._on_result = on_result
        self._pending = 0
        self._limit = _IN_FLIGHT_PER_WORKER * max(1, jobs)
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local: ObjectScanner | None = None
        self._pool: Any = None
        if jobs <= 1:
            self._local = ObjectScanner(cwd, engine, max_size)
        else:
            self._pool = _context().Pool(
                jobs, initializer=init_worker, initargs=(cwd, engine, max_size)
            )

    def submit(self, kind: str, jobs: Sequence[BlobJob] | Sequence[MessageJob]) -> None:
        """Scan one batch; ``kind`` is "blobs" or "messages"."""
        if self._local is not None:
            if kind == "blobs":
                self._on_result(self._local.scan_blobs(jobs))  # type: ignore[arg-type]
            else:
                self._on_result(self._local.scan_messages(jobs))  # type: ignore[arg-type]
            return
        while self._pending >= self._limit:
            self._take_one()
        self._pool.apply_async(
            run_batch,
            (kind, list(jobs)),
            callback=self._done.put,
            error_callback=self._done.put,
        )
        self._pending += 1

    def finish(self) -> None:
        """Wait for every batch in flight and pass on its result."""
        while self._pending:
            self._take_one()

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


def _context() -> Any:
    # fork starts a worker in milliseconds and shares the loaded rules; on
    # other systems the default method (spawn) pickles the engine instead.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()
