"""HTTP transport for token API calls: timeouts, bounded retries and logging.

Only the standard library is used (``http.client``), so the hook and the
scanner need no HTTP dependency. Redirects are never followed, so a key is
only ever sent to the host it was addressed to.
"""

from __future__ import annotations

import dataclasses
import email.utils
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BODY_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    """One HTTP response; header names are lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    attempts: int = 1

    def json(self) -> Any:
        """Return the body parsed as JSON, or None when it is not valid JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


class TransportError(Exception):
    """A request that got no HTTP response.

    ``reason`` is one of ``dns``, ``refused``, ``timeout``, ``reset``, ``tls``,
    ``protocol``, ``network`` or ``rate-limited`` (the host was given up
    after repeated 429s). ``detail`` is the underlying error text.
    """

    def __init__(self, reason: str, detail: str, attempts: int = 1) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.attempts = attempts


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before a request is tried again.

    Retries cover 429, 5xx and connection resets. A ``Retry-After`` header is
    honoured when it is at most ``retry_after_max_s``. A longer requested wait
    ends the retries at once, because an earlier retry would be rejected too.
    """

    max_retries: int = 2
    backoff_s: float = 0.5
    retry_after_max_s: float = 30.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Return the delay that a ``Retry-After`` header requests, in seconds.

    Both forms of RFC 9110 are read: a number of seconds and an HTTP date.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _classify_os_error(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return "dns"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(
        error, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
    ):
        return "reset"
    if isinstance(error, http.client.IncompleteRead):
        return "reset"
    if isinstance(error, ssl.SSLError):
        return "tls"
    if isinstance(error, http.client.HTTPException):
        return "protocol"
    return "network"


def loggable_path(url: str) -> str:
    """Return host and path of ``url`` without its query, which may carry a key."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.netloc}{parts.path or '/'}"


class HostGate:
    """Per-host pauses that a ``Retry-After`` requested, shared by all threads.

    A 429 asks the client, not one request, to wait, so every request to
    that host waits. After ``give_up_after`` requests still got 429 when
    their retries ran out, the host is not asked again in this run: each
    further request fails at once instead of waiting in turn.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        give_up_after: int = 3,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._give_up_after = give_up_after
        self._lock = threading.Lock()
        self._not_before: dict[str, float] = {}
        self._limited: dict[str, int] = {}

    def wait(self, host: str) -> None:
        """Wait until ``host`` may be asked; raise TransportError if given up."""
        with self._lock:
            if self._limited.get(host, 0) >= self._give_up_after:
                detail = f"{host} kept returning 429, so it is not asked again"
                raise TransportError("rate-limited", detail)
            delay = self._not_before.get(host, 0.0) - self._clock()
        if delay > 0:
            self._sleep(delay)

    def pause(self, host: str, seconds: float) -> None:
        """Hold every request to ``host`` for ``seconds`` from now."""
        with self._lock:
            until = self._clock() + seconds
            self._not_before[host] = max(self._not_before.get(host, 0.0), until)

    def note_limited(self, host: str) -> None:
        """Count a request that still got 429 after its retries."""
        with self._lock:
            self._limited[host] = self._limited.get(host, 0) + 1


class HttpClient:
    """A small HTTP client with a timeout on every request and bounded retries.

    ``timeout_s`` bounds connecting, each socket read, and the whole body
    read of one attempt. ``sleep`` and ``clock`` are injectable so tests
    need not wait.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._gate = HostGate(clock, sleep)
        self._ssl_context = ssl_context

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        retry: bool = True,
    ) -> HttpResponse:
        """Send one request, retrying 429, 5xx and resets within the policy.

        Returns the last response, which may still be a 429 or 5xx after the
        retries ran out. Raises TransportError when no response arrived.
        With ``retry`` off, a 429 neither pauses nor counts against the host,
        since it may come from a route-specific limit.
        """
        host = urllib.parse.urlsplit(url).netloc
        max_attempts = 1 + (self.retry.max_retries if retry else 0)
        for attempt in range(1, max_attempts + 1):
            self._gate.wait(host)
            try:
                response = self._send_once(method, url, headers or {}, body)
            except TransportError as error:
                error.attempts = attempt
                if error.reason != "reset" or attempt == max_attempts:
                    raise
                delay = self._backoff(attempt)
            else:
                if response.status not in RETRY_STATUSES or not retry:
                    return dataclasses.replace(response, attempts=attempt)
                wait = self._delay_for(response, attempt)
                if response.status == 429 and wait is not None:
                    self._gate.pause(host, wait)
                if wait is None or attempt == max_attempts:
                    if response.status == 429:
                        self._gate.note_limited(host)
                    return dataclasses.replace(response, attempts=attempt)
                delay = wait
            logger.info("retrying %s %s in %.2f s", method, loggable_path(url), delay)
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff(self, attempt: int) -> float:
        return float(self.retry.backoff_s * (2 ** (attempt - 1)))

    def _delay_for(self, response: HttpResponse, attempt: int) -> float | None:
        requested = retry_after_seconds(response.headers.get("retry-after"))
        if requested is None:
            return min(self._backoff(attempt), self.retry.retry_after_max_s)
        if requested > self.retry.retry_after_max_s:
            return None
        return requested

    def _send_once(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> HttpResponse:
        started = time.monotonic()
        try:
            response = self._exchange(method, url, headers, body, started)
        except TransportError as error:
            elapsed = time.monotonic() - started
            logger.info(
                "%s %s failed (%s) in %.3f s",
                method,
                loggable_path(url),
                error.reason,
                elapsed,
            )
            raise
        elapsed = time.monotonic() - started
        logger.info(
            "%s %s -> %d in %.3f s",
            method,
            loggable_path(url),
            response.status,
            elapsed,
        )
        return response

    def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        started: float,
    ) -> HttpResponse:
        parts = urllib.parse.urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection = self._connect(parts)
        try:
            connection.request(method, target, body=body, headers=dict(headers))
            raw = connection.getresponse()
            payload = self._read_body(raw, started)
            found = {name.lower(): value for name, value in raw.getheaders()}
            return HttpResponse(raw.status, found, payload)
        except (OSError, http.client.HTTPException) as error:
            raise TransportError(_classify_os_error(error), str(error)) from error
        finally:
            connection.close()

    def _connect(self, parts: urllib.parse.SplitResult) -> http.client.HTTPConnection:
        host = parts.hostname or ""
        if parts.scheme == "https":
            # Loading the CA bundle takes tens of milliseconds; do it once,
            # and only when a request needs it.
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            return http.client.HTTPSConnection(
                host, parts.port, timeout=self.timeout_s, context=self._ssl_context
            )
        if parts.scheme == "http":
            return http.client.HTTPConnection(host, parts.port, timeout=self.timeout_s)
        raise TransportError("protocol", f"unsupported URL scheme {parts.scheme!r}")

    def _read_body(self, raw: http.client.HTTPResponse, started: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while size < MAX_BODY_BYTES:
            if time.monotonic() - started > self.timeout_s:
                raise TransportError("timeout", "reading the body took too long")
            chunk = raw.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:MAX_BODY_BYTES]
