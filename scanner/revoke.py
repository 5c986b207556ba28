"""Revoke leaked gateway keys through the owner's management API.

Revocation needs the credentials of the account that owns the key: a
personal access token (``MODELSTREAM_ACCESS_TOKEN``) and, for new-api
versions from 2024-07 to 2026-07, the numeric user id
(``MODELSTREAM_USER_ID``, sent as ``New-Api-User``). No admin route can
change another user's tokens in new-api or one-api.

The flow per key: check it; stop if it is already dead; find its token id;
disable it with the status-only update (reversible, keeps the logs);
optionally delete it; check it again. Without ``yes`` nothing is changed
and the result is the plan. Every attempt appends one JSON line to the
audit log, which contains the finding's fingerprint, a hash and a redacted
form of the key, never the key itself.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from keyscan.errors import CredentialsError, TokenApiError, UsageError
from keyscan.findings import redact, secret_hash
from keyscan.output import is_stdout
from keyscan.verify.base import DEAD, LIVE, RESTRICTED
from keyscan.verify.newapi import NewApiVerifier, bare_key, gateway_key
from keyscan.verify.runner import make_client
from keyscan.verify.settings import (
    MODELSTREAM,
    ConfigLike,
    Gateway,
    VerifySettings,
    load_settings,
)
from keyscan.verify.transport import HttpClient, TransportError

DISABLED_STATUS = 2
MAX_PAGES = 1000
# Outcomes recorded in results and in the audit log.
PLANNED = "planned"
ALREADY_DEAD = "already-dead"
NOT_OWNED = "not-owned"
DISABLED = "disabled"
DELETED = "deleted"
STILL_ANSWERING = "still-answering"
FAILED = "failed"


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Management credentials of the account that owns the keys."""

    access_token: str
    user_id: str | None = None


def load_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """Read the credentials from the environment; raise CredentialsError if absent."""
    environ = os.environ if env is None else env
    token = environ.get("MODELSTREAM_ACCESS_TOKEN", "").strip()
    if not token:
        raise CredentialsError(
            "MODELSTREAM_ACCESS_TOKEN is not set",
            "set it to the key owner's personal access token "
            "(and MODELSTREAM_USER_ID to the numeric user id)",
        )
    user_id = environ.get("MODELSTREAM_USER_ID", "").strip() or None
    if user_id is not None and not user_id.isdigit():
        raise CredentialsError(f"MODELSTREAM_USER_ID must be a number, not {user_id!r}")
    return Credentials(token, user_id)


@dataclasses.dataclass(frozen=True)
class RevocationResult:
    """The result of one revocation; ``action`` is dry-run, disable or delete.

    ``fingerprint`` is the fingerprint of the finding that reported the key
    (see ``keyscan.findings.fingerprint``), or None when the caller gave
    none. ``key_sha256_prefix`` is the first 32 hex digits of the SHA-256 of
    the key as sent, which does not depend on a rule.
    """

    fingerprint: str | None
    key_sha256_prefix: str
    key: str
    gateway: str
    base_url: str
    token_id: int | None
    action: str
    outcome: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used in reports and in the audit log."""
        return dataclasses.asdict(self)


def default_audit_log(env: Mapping[str, str] | None = None) -> str:
    """Return ``$XDG_STATE_HOME/keyscan/revocations.jsonl`` or its default."""
    environ = os.environ if env is None else env
    state = environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "keyscan", "revocations.jsonl")


class AuditLog:
    """Append-only JSON lines, created with owner-only permissions.

    The path ``-`` writes the lines to stdout instead of a file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def open_check(self) -> None:
        """Create the log if needed; raise UsageError when it cannot be written.

        This runs before any revocation, so no key is changed unlogged.
        """
        try:
            self._write("")
        except OSError as error:
            raise UsageError(
                f"cannot write the audit log {self.path}: {error.strerror}",
                "pass a writable file with --audit-log",
            ) from error

    def append(self, result: RevocationResult) -> None:
        """Write one line for ``result`` with the current UTC time."""
        now = datetime.datetime.now(datetime.timezone.utc)
        record = {"time": now.isoformat(timespec="seconds"), **result.to_dict()}
        self._write(json.dumps(record, ensure_ascii=False) + "\n")

    def _write(self, text: str) -> None:
        if is_stdout(self.path):
            with self._lock:
                sys.stdout.write(text)
                sys.stdout.flush()
            return
        folder = os.path.dirname(self.path)
        with self._lock:
            if folder:
                os.makedirs(folder, mode=0o700, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            descriptor = os.open(self.path, flags, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
                handle.write(text)


class ManagementClient:
    """The ``/api/token`` routes of one gateway, with the owner's credentials.

    ``Authorization: Bearer <PAT>`` works in every auth era, and
    ``New-Api-User`` is sent whenever the user id is known because new-api
    required it from 2024-07-19 to 2026-07-19 and ignores it since.
    """

    def __init__(
        self, gateway: Gateway, credentials: Credentials, client: HttpClient
    ) -> None:
        self.gateway = gateway
        self._credentials = credentials
        self._client = client

    def _headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._credentials.access_token}",
            "Accept": "application/json",
        }
        if self._credentials.user_id:
            headers["New-Api-User"] = self._credentials.user_id
        return headers

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request and return ``data``; raise on any failure.

        Handler errors come back as HTTP 200 with ``success: false``; a
        rejected credential raises CredentialsError, anything else
        TokenApiError.
        """
        url = self.gateway.management_base + path
        headers = self._headers()
        payload = None if body is None else json.dumps(body).encode()
        if payload is not None:
            headers["Content-Type"] = "application/json"
        where = f"{method} {urllib.parse.urlsplit(url).path} on {self.gateway.name}"
        try:
            response = self._client.request(method, url, headers=headers, body=payload)
        except TransportError as error:
            raise TokenApiError(f"{where} failed: {error}") from error
        document = response.json()
        message = str(document.get("message", "")) if isinstance(document, dict) else ""
        _raise_for_auth(response.status, message, where)
        if response.status != 200 or not isinstance(document, dict):
            raise TokenApiError(f"{where} returned HTTP {response.status}")
        if document.get("success") is not True:
            raise TokenApiError(f"{where} failed: {message or 'no message'}")
        return document.get("data")

    def search(self, bare: str) -> list[dict[str, Any]]:
        """Return the tokens that the key search finds (new-api only)."""
        query = urllib.parse.urlencode({"token": bare, "p": 0, "page_size": 100})
        return _items(self.call("GET", f"/api/token/search?{query}"))

    def pages(self) -> Iterable[list[dict[str, Any]]]:
        """Yield every page of the caller's tokens, in either list format.

        ``p=0`` is the first page in every version. A paged object means
        1-based pages until ``page * page_size >= total``; a bare array means
        0-based pages until one comes back short or empty.
        """
        first = self._page(0)
        yield _items(first)
        if isinstance(first, dict):
            size = int(first.get("page_size") or 10)
            total = int(first.get("total") or 0)
            for page in range(2, min(MAX_PAGES, -(-total // size) + 1)):
                yield _items(self._page(page))
            return
        size = len(_items(first))
        for page in range(1, MAX_PAGES):
            items = _items(self._page(page))
            if items:
                yield items
            if len(items) < size or not items:
                return

    def _page(self, page: int) -> Any:
        query = urllib.parse.urlencode({"p": page, "page_size": 100, "size": 100})
        return self.call("GET", f"/api/token/?{query}")

    def disable(self, token_id: int) -> None:
        """Set the token's status to disabled with the status-only update."""
        body = {"id": token_id, "status": DISABLED_STATUS}
        self.call("PUT", "/api/token/?status_only=true", body)

    def delete(self, token_id: int) -> None:
        """Delete the token (soft in new-api, hard in one-api).

        A token that is already gone counts as deleted, because a retried
        DELETE whose first attempt succeeded gets "record not found".
        """
        try:
            self.call("DELETE", f"/api/token/{token_id}")
        except CredentialsError:
            raise
        except TokenApiError as error:
            if "record not found" not in error.message:
                raise


def _raise_for_auth(status: int, message: str, where: str) -> None:
    hint = "check MODELSTREAM_ACCESS_TOKEN"
    if "New-Api-User" in message:
        hint = "set MODELSTREAM_USER_ID to the key owner's numeric user id"
    rejected = status in (401, 403) or (status == 200 and "access token" in message)
    if rejected:
        detail = message or f"HTTP {status}"
        raise CredentialsError(f"{where}: credentials rejected: {detail}", hint)


def _items(data: Any) -> list[dict[str, Any]]:
    rows = data.get("items") if isinstance(data, dict) else data
    return [row for row in rows or [] if isinstance(row, dict)]


def matches_key(item: Mapping[str, Any], bare: str) -> bool:
    """Return True when a listed token is the key ``bare``.

    Full keys (one-api, new-api before 2026-03) must be equal; masked keys
    (first 4 and last 4 characters) must agree at both ends.
    """
    listed = str(item.get("key", "")).removeprefix("sk-")
    if "*" not in listed:
        return listed == bare
    head, tail = listed.split("*", 1)[0], listed.rsplit("*", 1)[-1]
    return len(head) >= 4 and bare.startswith(head) and bare.endswith(tail)


def find_token(management: ManagementClient, bare: str) -> dict[str, Any] | None:
    """Return the caller's token row for key ``bare``, or None if not owned.

    The key search (new-api) is tried first; when it is absent or not
    conclusive, every page of the token list is compared. A masked-key
    match from the list is accepted only when it is the only one.
    """
    try:
        found = [item for item in management.search(bare) if matches_key(item, bare)]
    except CredentialsError:
        raise
    except TokenApiError:
        found = []
    if len(found) == 1:
        return found[0]
    candidates = [
        item for page in management.pages() for item in page if matches_key(item, bare)
    ]
    exact = [item for item in candidates if "*" not in str(item.get("key", ""))]
    if exact:
        return exact[0]
    return candidates[0] if len(candidates) == 1 else None


class Revoker:
    """Run the revocation flow for keys of one gateway."""

    def __init__(
        self,
        gateway: Gateway,
        credentials: Credentials,
        client: HttpClient,
        audit: AuditLog | None = None,
    ) -> None:
        self.gateway = gateway
        self.verifier = NewApiVerifier(gateway, client, usage_budget=0)
        self.management = ManagementClient(gateway, credentials, client)
        self.audit = audit

    def revoke(
        self,
        key: str,
        *,
        yes: bool = False,
        delete: bool = False,
        fingerprint: str | None = None,
    ) -> RevocationResult:
        """Revoke one key (or plan it, without ``yes``) and log the attempt.

        ``fingerprint`` is the fingerprint of the finding that reported the
        key, recorded so that the audit log can be matched with reports.
        """
        action = "dry-run"
        if yes:
            action = "delete" if delete else "disable"
        result = self._result(key, action, fingerprint)
        try:
            result = self._flow(key, result, yes=yes, delete=delete)
        except CredentialsError as error:
            self._log(dataclasses.replace(result, detail=error.message))
            raise
        except TokenApiError as error:
            result = dataclasses.replace(result, outcome=FAILED, detail=error.message)
        self._log(result)
        return result

    def _flow(
        self, key: str, result: RevocationResult, *, yes: bool, delete: bool
    ) -> RevocationResult:
        before = self.verifier.check_models(key)
        if before.status == DEAD:
            return self._done(result, None, ALREADY_DEAD, before.reason)
        token = find_token(self.management, bare_key(key))
        if token is None:
            detail = "the account has no token with this key"
            return self._done(result, None, NOT_OWNED, detail)
        token_id = token.get("id")
        if not isinstance(token_id, int) or isinstance(token_id, bool):
            raise TokenApiError(f"the token list returned an invalid id {token_id!r}")
        if not yes:
            plan = "disable and delete" if delete else "disable"
            return self._done(
                result, token_id, PLANNED, f"would {plan} token {token_id}"
            )
        if token.get("status") != DISABLED_STATUS:
            self.management.disable(token_id)
        if delete:
            self.management.delete(token_id)
        return self._recheck(key, result, token_id, delete)

    def _recheck(
        self, key: str, result: RevocationResult, token_id: int, deleted: bool
    ) -> RevocationResult:
        outcome = DELETED if deleted else DISABLED
        after = self.verifier.check_models(key)
        if after.status in (LIVE, RESTRICTED):
            # one-api with Redis serves its cached token row for up to
            # SYNC_FREQUENCY (600 s by default) after an update or delete.
            detail = f"{outcome}, still answering: cache (up to 600 s on one-api)"
            return self._done(result, token_id, STILL_ANSWERING, detail)
        if after.status == DEAD:
            return self._done(result, token_id, outcome, f"re-check: {after.reason}")
        return self._done(
            result, token_id, outcome, f"re-check unknown: {after.reason}"
        )

    def _done(
        self, result: RevocationResult, token_id: int | None, outcome: str, detail: str
    ) -> RevocationResult:
        return dataclasses.replace(
            result, token_id=token_id, outcome=outcome, detail=detail
        )

    def _result(
        self, key: str, action: str, fingerprint: str | None
    ) -> RevocationResult:
        normal = gateway_key(key)
        return RevocationResult(
            fingerprint=fingerprint,
            key_sha256_prefix=secret_hash(normal)[:32],
            key=redact(normal),
            gateway=self.gateway.name,
            base_url=self.gateway.base_url,
            token_id=None,
            action=action,
            outcome=FAILED,
            detail="",
        )

    def _log(self, result: RevocationResult) -> None:
        if self.audit is not None:
            self.audit.append(result)


def revoke_keys(
    keys: Iterable[str],
    config: ConfigLike | VerifySettings | None = None,
    *,
    gateway: str = MODELSTREAM,
    yes: bool = False,
    delete: bool = False,
    audit_log: str | None = None,
    env: Mapping[str, str] | None = None,
    client: HttpClient | None = None,
    fingerprints: Mapping[str, str] | None = None,
) -> list[RevocationResult]:
    """Revoke each distinct key on ``gateway``; return one result per key.

    Without ``yes`` this is a dry run that changes nothing and returns the
    plan. ``delete`` deletes each token after disabling it. ``fingerprints``
    maps a key, as given in ``keys``, to the fingerprint of its finding,
    which each result and audit log line records. Raises CredentialsError
    before any request when the credentials are missing, and stops at the
    first key whose credentials the gateway rejects.
    """
    credentials = load_credentials(env)
    if isinstance(config, VerifySettings):
        settings = config
    else:
        settings = load_settings(config, env)
    target = settings.gateway(gateway)
    audit = AuditLog(audit_log or default_audit_log(env))
    audit.open_check()
    revoker = Revoker(target, credentials, client or make_client(settings), audit)
    known = fingerprints or {}
    # Keys that differ only in form (a channel suffix, no sk-) are one token,
    # revoked once with the fingerprint of the first of them.
    distinct: dict[str, str | None] = {}
    for key in keys:
        if key.strip():
            distinct.setdefault(gateway_key(key), known.get(key))
    return [
        revoker.revoke(key, yes=yes, delete=delete, fingerprint=fingerprint)
        for key, fingerprint in distinct.items()
    ]
