"""A stateful fake of a new-api/one-api gateway on 127.0.0.1, for tests.

It serves the routes keyscan uses (``/v1/models``, ``/api/usage/token/``,
``/api/status`` and the ``/api/token`` management routes) with the status
codes and bodies of the upstream projects. Tokens and users live in memory,
faults can be injected per route, and every request is recorded, so tests
can check limits: concurrency, requests per key, routes never called.

Keys are generated at run time from a seeded random generator.
"""

# The Chinese server messages are quoted as upstream sends them, full-width
# punctuation included, so the ambiguous-character check does not apply.
# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import socket
import string
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALNUM = string.ascii_letters + string.digits

# Token and user status values shared by new-api and one-api.
ENABLED, DISABLED, EXPIRED, EXHAUSTED = 1, 2, 3, 4

# Server flavours and management-auth eras.
NEWAPI, ONEAPI = "newapi", "oneapi"
ERA_ONEAPI = "oneapi"  # PAT in Authorization, no user header
ERA_NEWAPI_USER_HEADER = "newapi-2024"  # PAT plus required New-Api-User
ERA_NEWAPI_BEARER = "newapi-2026"  # Bearer PAT only, New-Api-User ignored

# Routes that bill the key's owner; a check must never call them.
BILLABLE_PREFIXES = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1/embeddings",
    "/v1/images",
    "/v1/audio",
)


def _seeded(seed: int) -> random.Random:
    # Reproducible made-up keys; nothing here needs cryptographic randomness.
    return random.Random(seed)


def make_key(rng: random.Random) -> str:
    """Return a made-up gateway key: ``sk-`` and 48 letters and digits."""
    return "sk-" + "".join(rng.choice(ALNUM) for _ in range(48))


def key_digest(value: str) -> str:
    """Return a short hash of a credential, used to count requests per key."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclasses.dataclass
class User:
    """A gateway account; ``access_token`` is its personal access token."""

    id: int
    access_token: str
    status: int = ENABLED
    role: int = 1


@dataclasses.dataclass
class Token:
    """A gateway token; ``key`` is stored without ``sk-`` as upstream does."""

    id: int
    user_id: int
    key: str
    name: str
    status: int = ENABLED
    expired_time: int = -1
    remain_quota: int = 500_000
    used_quota: int = 0
    unlimited_quota: bool = False
    allow_ips: str | None = None
    group: str = "default"
    deleted: bool = False

    def to_json(self, masked: bool) -> dict[str, Any]:
        """Return the token as the management routes list it."""
        key = self.key[:4] + "**********" + self.key[-4:] if masked else self.key
        data = dataclasses.asdict(self)
        data.pop("deleted")
        data["key"] = key
        return data


@dataclasses.dataclass
class Fault:
    """An injected misbehaviour for the next ``times`` requests of a route.

    ``kind`` is ``status`` (send ``status``, ``headers`` and ``body``),
    ``sleep`` (wait ``delay`` seconds, then respond normally), ``hang``
    (accept and never respond until the server stops), or ``reset`` (close
    the connection with an RST and no response), or ``lost`` (handle the
    request, then send ``status`` in place of the real response, as when a
    proxy loses it). ``times`` None means always.
    With ``every`` N, only every Nth request of the route gets the fault.
    """

    kind: str
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    times: int | None = None
    every: int = 1
    seen: int = 0


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One request as the server saw it; credentials are kept as hashes."""

    method: str
    path: str
    query: dict[str, list[str]]
    route: str
    credential: str | None
    user_header: str | None
    started: float
    port: int = 0


@dataclasses.dataclass
class ServerState:
    """The fake gateway's data and settings; tests change them between requests."""

    flavor: str = NEWAPI
    era: str = ERA_NEWAPI_BEARER
    language: str = "en"  # "en": new-api >= 2026-04 texts; "zh": older texts
    paged_lists: bool = True
    masked_keys: bool = True
    usage_route: bool = True
    usage_limit: int = 20
    sticky_cache: bool = False
    latency: float = 0.0  # seconds each request takes inside the server
    blocked_groups: set[str] = dataclasses.field(default_factory=set)
    users: dict[int, User] = dataclasses.field(default_factory=dict)
    tokens: dict[int, Token] = dataclasses.field(default_factory=dict)
    cached: dict[str, Token] = dataclasses.field(default_factory=dict)
    faults: dict[str, list[Fault]] = dataclasses.field(default_factory=dict)
    requests: list[Recorded] = dataclasses.field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    usage_calls: int = 0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    rng: random.Random = dataclasses.field(default_factory=lambda: _seeded(7))

    def add_user(self, role: int = 1, status: int = ENABLED) -> User:
        """Create a user with a fresh personal access token."""
        user_id = len(self.users) + 1
        token = "".join(self.rng.choice(ALNUM) for _ in range(32))
        user = User(user_id, token, status, role)
        self.users[user_id] = user
        return user

    def add_token(self, user: User, **fields: Any) -> str:
        """Create a token for ``user``; return its full key with ``sk-``."""
        token_id = len(self.tokens) + 1
        key = make_key(self.rng)
        name = fields.pop("name", f"token-{token_id}")
        self.tokens[token_id] = Token(token_id, user.id, key[3:], name, **fields)
        return key

    def token_for(self, key: str) -> Token | None:
        """Return the live row for a key given with or without ``sk-``."""
        bare = key.removeprefix("sk-")
        for token in self.tokens.values():
            if token.key == bare and not token.deleted:
                return token
        return None

    def inject(self, route: str, fault: Fault) -> None:
        """Queue ``fault`` for ``route`` (``models``, ``usage``, ``token_put``...)."""
        self.faults.setdefault(route, []).append(fault)

    def take_fault(self, route: str) -> Fault | None:
        """Return the next fault of ``route`` and count it down."""
        with self.lock:
            queue = self.faults.get(route) or []
            if not queue:
                return None
            fault = queue[0]
            fault.seen += 1
            if fault.seen % fault.every:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            return fault

    def calls(self, route: str) -> list[Recorded]:
        """Return the recorded requests of one route."""
        return [r for r in self.requests if r.route == route]

    def per_credential(self, route: str) -> dict[str | None, int]:
        """Return how many requests of ``route`` each credential hash made."""
        counts: dict[str | None, int] = {}
        for record in self.calls(route):
            counts[record.credential] = counts.get(record.credential, 0) + 1
        return counts


class Answer(Exception):
    """Raised by a route to send a status and a JSON (or raw) body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _relay_error(status: int, message: str, flavor: str, code: str = "") -> Answer:
    kind = "new_api_error" if flavor == NEWAPI else "one_api_error"
    error = {"message": f"{message} (request id: 20261204abc)", "type": kind}
    if flavor == NEWAPI:
        error["code"] = code
    return Answer(status, {"error": error})


def _mgmt(success: bool, message: str = "", data: Any = None, **extra: Any) -> Any:
    body = {"success": success, "message": message, **extra}
    if data is not None:
        body["data"] = data
    return body


class Gateway:
    """The route handlers; one instance serves one request."""

    def __init__(self, state: ServerState, client_ip: str) -> None:
        self.state = state
        self.client_ip = client_ip

    # Relay side: the key alone.

    def models(self, headers: Any) -> Any:
        """Serve ``GET /v1/models`` with the relay auth checks of TokenAuth."""
        state = self.state
        raw = headers.get("Authorization", "")
        if state.flavor == NEWAPI:
            raw = raw.removeprefix("Bearer ").removeprefix("bearer ")
        else:
            raw = raw.removeprefix("Bearer ")
        parts = raw.removeprefix("sk-").split("-")
        token = state.cached.get(parts[0]) or state.token_for(parts[0])
        if token is None:
            raise _relay_error(401, self._text("invalid"), state.flavor)
        self._check_token_state(token)
        self._check_caller(token, parts)
        data = [{"id": "gpt-4o-mini", "object": "model", "owned_by": "custom"}]
        body: dict[str, Any] = {"object": "list", "data": data}
        if state.flavor == NEWAPI:
            body["success"] = True
        return body

    def _check_token_state(self, token: Token) -> None:
        now = time.time()
        expired = token.status == EXPIRED or 0 < token.expired_time < now
        empty = token.status == EXHAUSTED or (
            not token.unlimited_quota and token.remain_quota <= 0
        )
        for failed, kind in (
            (token.status == DISABLED, "disabled"),
            (expired, "expired"),
            (empty, "exhausted"),
        ):
            if failed:
                raise _relay_error(401, self._text(kind, token), self.state.flavor)

    def _check_caller(self, token: Token, parts: list[str]) -> None:
        state = self.state
        user = state.users[token.user_id]
        if token.allow_ips and self.client_ip not in token.allow_ips.split():
            if state.flavor == ONEAPI:
                ips = f"{token.allow_ips}，当前 ip：{self.client_ip}"
                text = f"该令牌只能在指定网段使用：{ips}"
                raise _relay_error(403, text, state.flavor)
            text = "您的 IP 不在令牌允许访问的列表中"
            raise _relay_error(403, text, state.flavor, "access_denied")
        if user.status != ENABLED:
            raise _relay_error(403, self._text("banned"), state.flavor)
        if token.group in state.blocked_groups:
            raise _relay_error(403, f"无权访问 {token.group} 分组", state.flavor)
        if len(parts) > 1 and user.role < 10:
            raise _relay_error(403, "普通用户不支持指定渠道", state.flavor)

    def _text(self, kind: str, token: Token | None = None) -> str:
        if kind == "banned":
            return (
                "User has been banned"
                if self.state.language == "en"
                else "用户已被封禁"
            )
        if self.state.language == "en":
            return "Invalid token"
        if kind == "exhausted" and token is not None:
            if self.state.flavor == ONEAPI:
                return f"令牌 {token.name}（#{token.id}）额度已用尽"
            masked = f"sk-{token.key[:3]}***{token.key[-3:]}"
            return f"该令牌额度已用尽 TokenStatusExhausted[{masked}]"
        texts = {
            "invalid": "无效的令牌",
            "disabled": "该令牌状态不可用",
            "expired": "该令牌已过期",
        }
        return texts[kind]

    def usage(self, headers: Any) -> Any:
        """Serve ``GET /api/usage/token/`` (new-api, TokenAuthReadOnly)."""
        state = self.state
        if state.flavor != NEWAPI or not state.usage_route:
            message = "Invalid URL (GET /api/usage/token/)"
            raise Answer(
                404, {"error": {"message": message, "type": "invalid_request_error"}}
            )
        with state.lock:
            state.usage_calls += 1
            over = state.usage_calls > state.usage_limit
        if over:
            raise Answer(429, b"")
        token = self._usage_token(headers.get("Authorization", ""))
        if state.users[token.user_id].status != ENABLED:
            raise Answer(403, _mgmt(False, "User has been banned"))
        expires = 0 if token.expired_time == -1 else token.expired_time
        data = {
            "object": "token_usage",
            "name": token.name,
            "total_granted": token.remain_quota + token.used_quota,
            "total_used": token.used_quota,
            "total_available": token.remain_quota,
            "unlimited_quota": token.unlimited_quota,
            "model_limits": {},
            "model_limits_enabled": False,
            "expires_at": expires,
        }
        return {"code": True, "message": "ok", "data": data}

    def _usage_token(self, header: str) -> Token:
        if not header:
            raise Answer(401, _mgmt(False, "No Authorization header"))
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value or " " in value:
            raise Answer(401, _mgmt(False, "Invalid Bearer token"))
        key = value.removeprefix("sk-")
        if "-" in key:
            message = "Failed to get token info, please try again later"
            raise Answer(200, _mgmt(False, message))
        token = self.state.token_for(key)
        if token is None:
            raise Answer(401, _mgmt(False, "Invalid token"))
        if token.status == DISABLED:
            raise Answer(401, _mgmt(False, "This token status is unavailable"))
        return token

    def status(self) -> Any:
        """Serve the public ``GET /api/status``."""
        version = "v1.0.0" if self.state.flavor == NEWAPI else "v0.6.11"
        data = {"version": version, "system_name": "Fake", "quota_per_unit": 500000}
        return _mgmt(True, data=data)

    # Management side: the owner's personal access token.

    def account(self, headers: Any) -> User:
        """Return the user the management credentials belong to, per era."""
        state = self.state
        raw = headers.get("Authorization", "")
        pat = raw.split(" ", 1)[1] if raw.lower().startswith("bearer ") else raw
        user = next((u for u in state.users.values() if u.access_token == pat), None)
        if state.era == ERA_NEWAPI_BEARER:
            if user is None:
                raise Answer(
                    401, _mgmt(False, "unauthorized", code="AUTH_UNAUTHORIZED")
                )
            if user.status != ENABLED:
                raise Answer(401, _mgmt(False, "disabled", code="AUTH_USER_DISABLED"))
            return user
        if not raw:
            raise Answer(
                401, _mgmt(False, "无权进行此操作，未登录且未提供 access token")
            )
        if user is None:
            raise Answer(200, _mgmt(False, "无权进行此操作，access token 无效"))
        if user.status != ENABLED:
            raise Answer(200, _mgmt(False, "用户已被封禁"))
        if state.era == ERA_NEWAPI_USER_HEADER:
            self._check_user_header(headers.get("New-Api-User"), user)
        return user

    def _check_user_header(self, value: str | None, user: User) -> None:
        if not value:
            raise Answer(401, _mgmt(False, "无权进行此操作，未提供 New-Api-User"))
        if not value.isdigit():
            raise Answer(401, _mgmt(False, "无权进行此操作，New-Api-User 格式错误"))
        if int(value) != user.id:
            raise Answer(
                401, _mgmt(False, "无权进行此操作，New-Api-User 与登录用户不匹配")
            )

    def _owned(self, user: User) -> list[Token]:
        tokens = [t for t in self.state.tokens.values() if t.user_id == user.id]
        return sorted((t for t in tokens if not t.deleted), key=lambda t: -t.id)

    def _page(self, items: list[Token], query: dict[str, list[str]]) -> Any:
        masked = self.state.masked_keys
        if self.state.paged_lists:
            page = max(1, _int(query, "p", 1))
            size = min(100, max(1, _int(query, "page_size", 10)))
            chunk = items[(page - 1) * size : page * size]
            rows = [t.to_json(masked) for t in chunk]
            data = {"page": page, "page_size": size, "total": len(items), "items": rows}
            return _mgmt(True, data=data)
        page = max(0, _int(query, "p", 0))
        size = 10 if self.state.flavor == ONEAPI else max(1, _int(query, "size", 10))
        chunk = items[page * size : (page + 1) * size]
        return _mgmt(True, data=[t.to_json(masked) for t in chunk])

    def list_tokens(self, user: User, query: dict[str, list[str]]) -> Any:
        """Serve ``GET /api/token/`` in the paged or the array format."""
        return self._page(self._owned(user), query)

    def search(self, user: User, query: dict[str, list[str]]) -> Any:
        """Serve ``GET /api/token/search`` (by key on new-api, by name on one-api)."""
        items = self._owned(user)
        if self.state.flavor == ONEAPI:
            prefix = _str(query, "keyword")
            found = [t for t in items if t.name.startswith(prefix)]
            return _mgmt(True, data=[t.to_json(False) for t in found])
        searched = _str(query, "token").removeprefix("sk-")
        if self.state.masked_keys:
            found = [t for t in items if t.key == searched]
        else:
            found = [t for t in items if searched in t.key]
        return self._page(found, {"p": ["1" if self.state.paged_lists else "0"]})

    def get_token(self, user: User, token_id: int) -> Any:
        """Serve ``GET /api/token/:id``."""
        token = self._find(user, token_id)
        return _mgmt(True, data=token.to_json(self.state.masked_keys))

    def _find(self, user: User, token_id: int) -> Token:
        token = self.state.tokens.get(token_id)
        if token is None or token.user_id != user.id or token.deleted:
            raise Answer(200, _mgmt(False, "record not found"))
        return token

    def update(self, user: User, query: dict[str, list[str]], body: Any) -> Any:
        """Serve ``PUT /api/token/``; only the status-only form is supported."""
        if not _str(query, "status_only"):
            raise Answer(200, _mgmt(False, "the fake serves only status_only updates"))
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise Answer(200, _mgmt(False, "invalid parameters"))
        token = self._find(user, body["id"])
        status = body.get("status")
        if status == ENABLED and token.status in (EXPIRED, EXHAUSTED):
            raise Answer(200, _mgmt(False, "令牌已过期或额度已用尽，无法启用"))
        self._remember(token)
        token.status = int(status) if isinstance(status, int) else token.status
        return _mgmt(True, data=token.to_json(self.state.masked_keys))

    def delete(self, user: User, token_id: int) -> Any:
        """Serve ``DELETE /api/token/:id``."""
        token = self._find(user, token_id)
        self._remember(token)
        token.deleted = True
        return _mgmt(True)

    def _remember(self, token: Token) -> None:
        # one-api with Redis keeps serving the cached row after an update
        # or delete until SYNC_FREQUENCY passes (model/cache.go).
        if self.state.sticky_cache and token.key not in self.state.cached:
            self.state.cached[token.key] = dataclasses.replace(token)


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][0])
    except (KeyError, IndexError, ValueError):
        return default


def _str(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0]


def route_name(method: str, path: str) -> str:
    """Return the name under which faults and records file a request."""
    if path.startswith(BILLABLE_PREFIXES):
        return "billable"
    if path.startswith("/api/token/"):
        rest = path[len("/api/token/") :]
        if method == "PUT":
            return "token_put"
        if method == "DELETE":
            return "token_delete"
        if rest.startswith("search"):
            return "token_search"
        return "token_get" if rest else "token_list"
    names = {
        "/v1/models": "models",
        "/api/usage/token/": "usage",
        "/api/usage/token": "usage_redirect",
        "/api/status": "status",
    }
    return names.get(path, "other")


class Handler(BaseHTTPRequestHandler):
    """Dispatch one HTTP request to the fake gateway, faults first."""

    server: FakeHttpServer
    protocol_version = "HTTP/1.0"
    _counted = False

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def _handle(self, method: str) -> None:
        state = self.server.state
        parts = urllib.parse.urlsplit(self.path)
        route = route_name(method, parts.path)
        query = urllib.parse.parse_qs(parts.query)
        self._record(state, method, parts.path, query, route)
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        self._counted = True
        try:
            if state.latency:
                time.sleep(state.latency)
            self._answer(state, method, parts.path, query, route)
        finally:
            self._leave()

    def _leave(self) -> None:
        # A request stops counting as in flight before its response is written:
        # once the client has the response it may send its next request while
        # this thread is still finishing, which is not a concurrent request.
        if self._counted:
            self._counted = False
            with self.server.state.lock:
                self.server.state.in_flight -= 1

    def _record(
        self,
        state: ServerState,
        method: str,
        path: str,
        query: dict[str, list[str]],
        route: str,
    ) -> None:
        auth = self.headers.get("Authorization")
        safe_query = {k: v for k, v in query.items() if k != "token"}
        record = Recorded(
            method,
            path,
            safe_query,
            route,
            key_digest(_credential(auth)) if auth else None,
            self.headers.get("New-Api-User"),
            time.monotonic(),
            int(self.server.server_address[1]),
        )
        with state.lock:
            state.requests.append(record)

    def _answer(
        self,
        state: ServerState,
        method: str,
        path: str,
        query: dict[str, list[str]],
        route: str,
    ) -> None:
        fault = state.take_fault(route)
        if fault is not None and fault.kind != "lost" and self._apply(fault):
            return
        try:
            body = self._dispatch(state, method, path, query, route)
        except Answer as answer:
            status, body, headers = answer.status, answer.body, answer.headers
        else:
            status, headers = 200, {}
        if fault is not None and fault.kind == "lost":
            status, body, headers = fault.status, fault.body, fault.headers
        self._send(status, body, headers)

    def _apply(self, fault: Fault) -> bool:
        """Act out ``fault``; return True when no normal response must follow."""
        if fault.kind == "sleep":
            self.server.stopping.wait(fault.delay)
            return False
        if fault.kind == "hang":
            self.server.stopping.wait(fault.delay or 60.0)
            self.close_connection = True
            return True
        if fault.kind == "reset":
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()
            self.close_connection = True
            return True
        self._send(fault.status, fault.body, fault.headers)
        return True

    def _dispatch(
        self,
        state: ServerState,
        method: str,
        path: str,
        query: dict[str, list[str]],
        route: str,
    ) -> Any:
        gateway = Gateway(state, self.client_address[0])
        if route == "models" and method == "GET":
            return gateway.models(self.headers)
        if route == "usage" and method == "GET":
            return gateway.usage(self.headers)
        if route == "usage_redirect":
            raise Answer(301, b"", {"Location": "/api/usage/token/"})
        if route == "status":
            return gateway.status()
        if route.startswith("token_"):
            return self._manage(gateway, method, path, query, route)
        message = f"Invalid URL ({method} {path})"
        raise Answer(
            404, {"error": {"message": message, "type": "invalid_request_error"}}
        )

    def _manage(
        self,
        gateway: Gateway,
        method: str,
        path: str,
        query: dict[str, list[str]],
        route: str,
    ) -> Any:
        user = gateway.account(self.headers)
        tail = path[len("/api/token/") :]
        if route == "token_list":
            return gateway.list_tokens(user, query)
        if route == "token_search":
            return gateway.search(user, query)
        if route == "token_put":
            return gateway.update(user, query, self._json_body())
        token_id = int(tail) if tail.isdigit() else -1
        if route == "token_delete":
            return gateway.delete(user, token_id)
        return gateway.get_token(user, token_id)

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self._leave()
        if isinstance(body, bytes):
            payload = body
            content_type = "application/json" if body else "text/plain"
        else:
            payload = json.dumps(body, ensure_ascii=False).encode()
            content_type = "application/json; charset=utf-8"
        self.send_response(status)
        sent = {name.lower() for name in headers}
        if "content-type" not in sent:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("X-Oneapi-Request-Id", "20261204abc")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _credential(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value if scheme.lower() == "bearer" and value else header


class FakeHttpServer(ThreadingHTTPServer):
    """The threaded HTTP server that carries the shared state."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, state: ServerState) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state
        self.stopping = threading.Event()


class TokenApiServer:
    """Start and stop the fake gateway; ``base_url`` is its loopback address."""

    def __init__(self, state: ServerState | None = None) -> None:
        self.state = state or ServerState()
        self._server = FakeHttpServer(self.state)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _serve(self) -> None:
        # A short poll interval keeps shutdown, and so each test, fast.
        self._server.serve_forever(poll_interval=0.01)

    def start(self) -> TokenApiServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class SilentListener:
    """A loopback socket that accepts and then never responds, or closes at once."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.05)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Return the listener's base URL."""
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                continue
            if self.mode == "close":
                conn.settimeout(1.0)
                conn.recv(65536)
                conn.close()
            else:
                self._held.append(conn)

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._socket.close()


def running(state: ServerState | None = None) -> Iterator[TokenApiServer]:
    """Yield a started server and stop it afterwards (for fixtures)."""
    server = TokenApiServer(state).start()
    try:
        yield server
    finally:
        server.stop()
