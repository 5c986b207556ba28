"""The verifier interface and the rules that turn an HTTP response into a status.

Statuses:

- ``live``: a documented success response whose body parses as success (a
  model list, or a new-api body with ``success: true``).
- ``restricted``: the key exists but the server rejected this caller (a 403
  with a JSON body naming an IP allow-list, a banned owner, a group or a
  channel).
- ``dead``: a documented authentication failure (a 401 with a JSON body).
- ``unknown``: everything else, always with a reason: no response (DNS,
  refused, timeout, reset), 429 after the retries, 5xx, an HTML page, a 200
  whose body is not a success response, malformed JSON.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from keyscan.display import count_noun
from keyscan.findings import Verification, redact
from keyscan.verify.transport import HttpResponse, TransportError

LIVE = "live"
RESTRICTED = "restricted"
DEAD = "dead"
UNKNOWN = "unknown"
STATUSES = (LIVE, RESTRICTED, DEAD, UNKNOWN)

_REQUEST_ID = re.compile(r"\s*\(request id: [^)]*\)\s*$")
_MAX_REASON = 200

# Messages of a new-api/one-api 403 that mean "the key exists, but not for
# this caller". Sources: QuantumNous/new-api middleware/auth.go (TokenAuth)
# and songquanpeng/one-api middleware/auth.go; English texts come from the
# new-api i18n catalogue, where the Chinese ones are the originals.
_RESTRICTED_MESSAGES = (
    ("ip-allow-list", re.compile(r"不在令牌允许访问的列表|只能在指定网段使用")),
    ("ip-allow-list", re.compile(r"\bIP\b.*\b(?:not|allow|whitelist)", re.I)),
    (
        "owner-banned",
        re.compile(r"已被封禁|has been banned|user (?:is )?disabled", re.I),
    ),
    ("group", re.compile(r"无权访问.*分组|分组.*已被弃用")),
    ("group", re.compile(r"\bgroup\b.*\b(?:not allowed|no access|deprecated)", re.I)),
    ("channel", re.compile(r"不支持指定渠道|\bspecif\w* channel", re.I)),
)
_RESTRICTED_CODES = {"access_denied": "ip-allow-list", "user_disabled": "owner-banned"}


class Verifier(Protocol):
    """Something that checks one secret against one token API."""

    name: str

    def check(self, secret: str) -> Verification:
        """Return the status of ``secret``; never raise for network failures."""
        ...


def clean_message(text: object, secret: str = "") -> str:
    """Return a server message fit for a report.

    The request id suffix is dropped, the text is cut to 200 characters, and
    the secret is replaced by its redacted form in case the server echoed it.
    """
    message = _REQUEST_ID.sub("", str(text)).strip()
    for value in {secret, secret.removeprefix("sk-")} - {""}:
        message = message.replace(value, redact(value))
    return message[:_MAX_REASON]


def error_message(body: Any) -> str | None:
    """Return the message of a JSON error body, in either gateway shape."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and error.get("message") is not None:
        return str(error["message"])
    if isinstance(error, str):
        return error
    if body.get("message") is not None:
        return str(body["message"])
    return None


def error_code(body: Any) -> str | None:
    """Return the ``code`` field of a JSON error body, if any."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else body.get("code")
    return code if isinstance(code, str) and code else None


def restriction_kind(body: Any) -> str | None:
    """Return which documented restriction a 403 JSON body names, if any."""
    code = error_code(body)
    if code in _RESTRICTED_CODES:
        return _RESTRICTED_CODES[code]
    message = error_message(body) or ""
    for kind, pattern in _RESTRICTED_MESSAGES:
        if pattern.search(message):
            return kind
    return None


def is_model_list(body: Any) -> bool:
    """Return True for an OpenAI-style model list or a new-api success body."""
    if not isinstance(body, dict):
        return False
    if body.get("object") == "list" and isinstance(body.get("data"), list):
        return True
    return body.get("success") is True


def unknown_from_error(error: TransportError, verifier: str, url: str) -> Verification:
    """Return the unknown verification for a request that got no response."""
    tries = f" after {error.attempts} attempts" if error.attempts > 1 else ""
    reason = f"{error.reason}: {error.detail}{tries}"
    return Verification(UNKNOWN, reason[:_MAX_REASON], verifier, checked_url=url)


def classify_models_response(
    response: HttpResponse, secret: str, verifier: str, url: str
) -> Verification:
    """Return the status that a ``GET /v1/models`` response means.

    The table follows the new-api/one-api outcome matrix: 200 with a model
    list is live, 401 with a JSON body is dead, 403 with a JSON body naming a
    documented restriction is restricted, and anything else is unknown.
    """
    body = response.json()
    status = response.status
    message = clean_message(error_message(body) or "", secret)
    if status == 200 and is_model_list(body):
        return Verification(LIVE, _live_reason(body), verifier, checked_url=url)
    if status == 401 and isinstance(body, dict):
        return Verification(DEAD, f"HTTP 401: {message}", verifier, checked_url=url)
    kind = restriction_kind(body) if status == 403 else None
    if kind is not None:
        reason = f"HTTP 403 ({kind}): {message}"
        return Verification(RESTRICTED, reason, verifier, checked_url=url)
    reason = unknown_reason(response, body, message)
    return Verification(UNKNOWN, reason, verifier, checked_url=url)


def _live_reason(body: dict[str, Any]) -> str:
    data = body.get("data")
    count = len(data) if isinstance(data, list) else 0
    return f"HTTP 200: model list with {count_noun(count, 'model')}"


def unknown_reason(response: HttpResponse, body: Any, message: str) -> str:
    """Return why a response is neither a success nor a documented failure."""
    status = response.status
    tries = f" after {response.attempts} attempts" if response.attempts > 1 else ""
    if status == 429:
        return f"HTTP 429: rate limited{tries}"
    if status >= 500:
        return f"HTTP {status}: server error{tries}"
    if body is None:
        kind = "an HTML page" if _looks_html(response) else "not valid JSON"
        return f"HTTP {status}: the body is {kind}"
    if status == 200:
        detail = f": {message}" if message else ""
        return f"HTTP 200 without a success body{detail}"
    detail = f": {message}" if message else ""
    return f"HTTP {status}: not a documented response{detail}"


def _looks_html(response: HttpResponse) -> bool:
    content_type = response.headers.get("content-type", "")
    start = response.body[:200].lstrip().lower()
    return "html" in content_type or start.startswith((b"<!doctype", b"<html"))
