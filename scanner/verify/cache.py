"""The per-run verification cache: each distinct key is checked once.

Entries are keyed by ``secret_hash`` of the verifier family and the
normalised key, so the raw key is not kept as a dictionary key. Two threads
asking for the same key at once share one check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from keyscan.findings import Verification, secret_hash


def cache_key(family: str, secret: str) -> str:
    """Return the cache key of ``secret`` checked by ``family``."""
    return secret_hash(f"{family}\0{secret}")


class VerificationCache:
    """Thread-safe results of one run; ``checks`` counts the checks done."""

    def __init__(self) -> None:
        self._entries: dict[str, Future[Verification]] = {}
        self._lock = threading.Lock()
        self.checks = 0

    def get(self, key: str) -> Verification | None:
        """Return the finished result for ``key``, if there is one."""
        with self._lock:
            future = self._entries.get(key)
        if future is None or not future.done():
            return None
        return future.result()

    def get_or_check(self, key: str, check: Callable[[], Verification]) -> Verification:
        """Return the cached result for ``key``, running ``check`` the first time."""
        with self._lock:
            future = self._entries.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._entries[key] = future
                self.checks += 1
        if not owner:
            return future.result()
        try:
            future.set_result(check())
        except BaseException as error:
            future.set_exception(error)
            raise
        return future.result()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
